// Bundles the CLI into one file (dist/cli.mjs, the `miyabi-sessions` bin). Loading one file
// instead of a few hundred modules more than halves start-up time, which is most of what a
// recorded run costs over a bare `claude -p` (see bench/run-overhead.bench.mjs).
import path from "node:path";
import { build } from "esbuild";

const packageDir = path.resolve(import.meta.dirname, "..");

await build({
  entryPoints: [path.join(packageDir, "dist", "bin.js")],
  outfile: path.join(packageDir, "dist", "cli.mjs"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // The testkit finds the pinned Claude Code CLI relative to its own package, so it stays a
  // separate module resolved from node_modules.
  external: ["@miyabi/testkit"],
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __miyabiCreateRequire } from "node:module";',
      "const require = __miyabiCreateRequire(import.meta.url);",
    ].join("\n"),
  },
  logLevel: "warning",
});
