// Builds the `miyabi-sessions` bin:
// - dist/cli.mjs, a launcher that turns on Node's module compile cache (where the running Node
//   has one, 22.1+) before anything else loads, then imports the bundle;
// - dist/main.mjs and dist/chunks/, the CLI bundled with its dependencies. Loading one file
//   instead of a few hundred modules more than halves start-up time. Commands that run Claude
//   (runner, execa, YAML), worktree commands and the demo (its scripted model server) are split
//   into chunks that load only when such a command runs, so record-only commands stay cheap.
// Everything is inlined: the published package has no run-time dependencies at all.
import fs from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";
import { englishOnlyZod, yamlAsEsm } from "../../../scripts/esbuild-plugins.mjs";

const packageDir = path.resolve(import.meta.dirname, "..");
const dist = path.join(packageDir, "dist");

await fs.rm(dist, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: path.join(packageDir, "src", "bin.ts") },
  outdir: dist,
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  platform: "node",
  target: "node20",
  format: "esm",
  metafile: true,
  minify: true,
  // Error classes name themselves after their constructor (new.target.name).
  keepNames: true,
  plugins: [englishOnlyZod, yamlAsEsm],
  banner: {
    // Dependencies written as CommonJS (commander) call require() for Node's built-ins.
    js: [
      'import { createRequire as __miyabiCreateRequire } from "node:module";',
      "const require = __miyabiCreateRequire(import.meta.url);",
    ].join("\n"),
  },
  logLevel: "warning",
});

const launcher = path.join(dist, "cli.mjs");
await fs.writeFile(
  launcher,
  [
    "#!/usr/bin/env node",
    "// The compile cache must be on before the bundle is parsed, hence this separate file.",
    'import module from "node:module";',
    "",
    "module.enableCompileCache?.();",
    'await import("./main.mjs");',
    "",
  ].join("\n"),
);
await fs.chmod(launcher, 0o755);

// Fail the build if start-up would load what the issue says it must not: what main.mjs and
// the chunks it imports statically hold. `stats` answers with this alone; every other command
// loads the parser and the schemas on demand, and commands that run Claude load the runner.
const outputs = result.metafile.outputs;
const eagerFiles = new Set();
const visit = (file) => {
  if (eagerFiles.has(file)) return;
  eagerFiles.add(file);
  for (const i of outputs[file]?.imports ?? []) if (i.kind === "import-statement") visit(i.path);
};
const main = Object.keys(outputs).find((file) => file.endsWith("dist/main.mjs"));
if (!main) throw new Error("esbuild wrote no dist/main.mjs");
visit(main);
const eagerInputs = [...eagerFiles].flatMap((file) => Object.keys(outputs[file]?.inputs ?? {}));
{
  const eager = eagerInputs.filter((f) =>
    /node_modules\/(execa|yaml|zod|commander)\/|packages\/(runner|testkit)\/|core\/dist\/internal\/(store|model)\.js/.test(
      f,
    ),
  );
  if (eager.length > 0)
    throw new Error(`the eager bundle includes ${eager.slice(0, 3).join(", ")}`);
  const zodLocales = Object.keys(outputs).flatMap((file) =>
    // The plugin's English-only stand-in for zod's locale index is the one locale file allowed.
    Object.keys(outputs[file]?.inputs ?? {}).filter(
      (f) => !f.startsWith("zod-locales:") && /zod\/.*locales\/(?!en\.js)/.test(f),
    ),
  );
  if (zodLocales.length > 0) throw new Error(`zod locales left in the bundle: ${zodLocales[0]}`);
}
