/**
 * The published packages as a user gets them: `pnpm pack` core, runner and the CLI, install the
 * three tarballs into a fresh project with plain npm, and use them there: the bin through npx,
 * the library from ESM, CommonJS and TypeScript (declaration files checked, skipLibCheck off).
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const require = createRequire(import.meta.url);
const PACKAGES = ["core", "runner", "cli"] as const;

let scratch: string;
let project: string;
const tarballs: Record<string, string> = {};

async function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  try {
    const r = await run(file, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
    return { code: 0, out: r.stdout.trim(), err: r.stderr.trim() };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout.trim(), err: e.stderr.trim() };
  }
}

async function ok(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = await sh(file, args, cwd, env);
  expect(r.code, `${file} ${args.join(" ")}\n${r.err}`).toBe(0);
  return r.out;
}

beforeAll(async () => {
  scratch = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-pack-")));
  const { packageManager } = JSON.parse(await fs.readFile(path.join(ROOT, "package.json"), "utf8"));
  for (const name of PACKAGES) {
    // pnpm turns workspace:^ into the caret range of the version it links to.
    await ok(
      "npx",
      ["-y", packageManager, "pack", "--pack-destination", scratch],
      path.join(ROOT, "packages", name),
    );
  }
  for (const file of await fs.readdir(scratch)) {
    const name = /^miyabi-(\w+)-/.exec(file)?.[1];
    if (name) tarballs[name] = path.join(scratch, file);
  }
  project = path.join(scratch, "project");
  await fs.mkdir(project);
  await fs.writeFile(
    path.join(project, "package.json"),
    '{ "name": "adopter", "private": true }\n',
  );
  // Our packages come from the tarballs; their registry dependencies from npm's cache when it
  // has them, else the registry.
  await ok(
    "npm",
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      ...PACKAGES.map((p) => tarballs[p] ?? ""),
    ],
    project,
  );
}, 300_000);

afterAll(async () => {
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
});

async function tarList(tarball: string): Promise<string[]> {
  return (await ok("tar", ["tzf", tarball], scratch))
    .split("\n")
    .map((f) => f.replace(/^package\//, ""));
}

describe("packed packages", () => {
  it("have public metadata, caret ranges and exports with types, import and default", async () => {
    for (const name of PACKAGES) {
      const manifest = JSON.parse(
        await fs.readFile(
          path.join(project, "node_modules", "@miyabi", name, "package.json"),
          "utf8",
        ),
      );
      expect(manifest.publishConfig?.access, name).toBe("public");
      expect(manifest.repository?.url, name).toMatch(/^git\+https:\/\/github\.com\//);
      expect(manifest.homepage, name).toMatch(/^https:\/\//);
      expect(manifest.bugs, name).toMatch(/^https:\/\//);
      expect(manifest.license).toBe("MIT");
      for (const range of Object.values<string>(manifest.dependencies ?? {})) {
        expect(range, name).toMatch(/^\^\d/);
      }
      if (name !== "cli") {
        expect(manifest.exports["."]).toEqual({
          types: "./dist/index.d.ts",
          import: "./dist/index.js",
          default: "./dist/index.js",
        });
      }
    }
  });

  it("ship every source their source maps point at, and no tests", async () => {
    for (const name of PACKAGES) {
      const files = new Set(await tarList(tarballs[name] ?? ""));
      expect(
        [...files].some((f) => /\.test\.ts$/.test(f)),
        name,
      ).toBe(false);
      const maps = [...files].filter((f) => f.endsWith(".map"));
      if (name !== "cli") expect(maps.length, name).toBeGreaterThan(0);
      for (const map of maps) {
        const dir = path.posix.dirname(map);
        const { sources } = JSON.parse(
          await fs.readFile(path.join(project, "node_modules", "@miyabi", name, map), "utf8"),
        );
        for (const source of sources as string[]) {
          expect(files, `${name}/${map} -> ${source}`).toContain(path.posix.join(dir, source));
        }
      }
    }
  });

  it("leave the private testkit and the Claude binary out of the CLI", async () => {
    const manifest = JSON.parse(
      await fs.readFile(
        path.join(project, "node_modules", "@miyabi", "cli", "package.json"),
        "utf8",
      ),
    );
    expect(manifest.dependencies ?? {}).toEqual({});
    await expect(
      fs.access(path.join(project, "node_modules", "@miyabi", "testkit")),
    ).rejects.toThrow();
    await expect(fs.access(path.join(project, "node_modules", "@anthropic-ai"))).rejects.toThrow();
    const launcher = await fs.stat(
      path.join(project, "node_modules", "@miyabi", "cli", "dist", "cli.mjs"),
    );
    expect(launcher.mode & 0o111).not.toBe(0);
  });
});

describe("installed with npm", () => {
  it("runs the bin through npx: --version from package.json, then create and stats", async () => {
    const { version } = JSON.parse(
      await fs.readFile(path.join(ROOT, "packages", "cli", "package.json"), "utf8"),
    );
    expect(await ok("npx", ["--no-install", "miyabi-sessions", "--version"], project)).toBe(
      version,
    );
    const env = { MIYABI_SESSIONS_DIR: path.join(project, "store"), NO_COLOR: "1" };
    const id = await ok(
      "npx",
      ["--no-install", "miyabi-sessions", "create", "--agent", "A", "--purpose", "p"],
      project,
      env,
    );
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const stats = await ok("npx", ["--no-install", "miyabi-sessions", "stats"], project, env);
    expect(stats).toMatch(/^Total sessions\s+1$/m);
  });

  it("runs the demo without the testkit: its scripted model is in the bundle", async () => {
    // The adopter's own Claude Code CLI (here the workspace's pinned one), as MIYABI_CLAUDE.
    const claude = path.join(
      path.dirname(require.resolve("@anthropic-ai/claude-code/package.json")),
      "bin",
      "claude.exe",
    );
    const demo = await ok("npx", ["--no-install", "miyabi-sessions", "demo"], project, {
      MIYABI_CLAUDE: claude,
      NO_COLOR: "1",
    });
    expect(demo).toMatch(/4: DeployAgent \(Completed\)/);
    expect(demo).toMatch(/src\/greet\.js/);
  });

  it("imports @miyabi/core and @miyabi/runner from ESM and CommonJS", async () => {
    const script =
      'const store = await core.SessionStore.open({ dir: "esm-store" }); const id = await store.create({ agentName: "A", purpose: "p" }); console.log((await store.getSession(id)).status, typeof runner.runPipeline); await store.close();';
    const esm = await ok(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import * as core from "@miyabi/core"; import * as runner from "@miyabi/runner"; ${script}`,
      ],
      project,
    );
    expect(esm).toBe("Active function");
    const cjs = await ok(
      process.execPath,
      [
        "-e",
        `const core = require("@miyabi/core"); const runner = require("@miyabi/runner"); (async () => { ${script} })();`,
      ],
      project,
    );
    expect(cjs).toBe("Active function");
  });

  it("type-checks a TypeScript file against the declarations, skipLibCheck off", async () => {
    await fs.writeFile(
      path.join(project, "use.ts"),
      [
        'import { type Session, SessionStore } from "@miyabi/core";',
        'import { DEFAULT_PIPELINE, type PhaseOutcome } from "@miyabi/runner";',
        "export async function count(dir: string): Promise<number> {",
        "  const store = await SessionStore.open({ dir });",
        "  const all: Session[] = await store.list();",
        "  await store.close();",
        "  const none: PhaseOutcome[] = [];",
        "  return all.length + none.length + DEFAULT_PIPELINE.steps.length;",
        "}",
        "",
      ].join("\n"),
    );
    await fs.writeFile(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ["node"],
          // The workspace's @types/node: a Node project has its own.
          typeRoots: [path.join(ROOT, "node_modules", "@types")],
        },
        files: ["use.ts"],
      }),
    );
    const tsc = require.resolve("typescript/bin/tsc");
    const r = await sh(process.execPath, [tsc, "-p", "."], project);
    expect(r.code, r.out).toBe(0);
    // The check is real: a wrong type in the same file is reported.
    await fs.appendFile(
      path.join(project, "use.ts"),
      "export const wrong: number = DEFAULT_PIPELINE.name;\n",
    );
    const bad = await sh(process.execPath, [tsc, "-p", "."], project);
    expect(bad.out).toMatch(/use\.ts.*TS2322/);
  });
});
