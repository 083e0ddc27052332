/**
 * check-dist: the bundle action.yml runs (dist/index.js and the chunks it imports on demand) is
 * committed, so every file of it must be exactly what the sources (and the lockfile's
 * dependencies) build to, and no file may be missing from the commit or left over.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { ACTION_DIR, freshDir, REPO_ROOT, removeScratch } from "./harness.js";

const BUNDLE_SCRIPT = fileURLToPath(new URL("../scripts/bundle.mjs", import.meta.url));
const DIST = path.join(ACTION_DIR, "dist");
const run = promisify(execFile);

afterAll(removeScratch);

/** Every file under `dir`, relative to it, with its bytes. */
async function files(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
  return new Map(
    await Promise.all(
      names.map(async (name) => [name, await readFile(path.join(dir, name))] as const),
    ),
  );
}

async function build(): Promise<Map<string, Buffer>> {
  const outdir = await freshDir("dist");
  await run(process.execPath, [BUNDLE_SCRIPT, "--outdir", outdir]);
  return files(outdir);
}

it("every committed file of actions/session-phase/dist is a fresh build, byte for byte", async () => {
  const [first, second, onDisk, listed] = await Promise.all([
    build(),
    build(),
    files(DIST),
    run("git", ["ls-files", "-z", "--", path.relative(REPO_ROOT, DIST)], { cwd: REPO_ROOT }),
  ]);
  const committed = listed.stdout
    .split("\0")
    .filter((name) => name !== "")
    .map((name) => path.relative(path.relative(REPO_ROOT, DIST), name))
    .sort();
  const stale =
    "run `pnpm --filter @miyabi/github-action build` and commit actions/session-phase/dist";
  expect([...first.keys()], "two builds differ: the bundle is not deterministic").toEqual([
    ...second.keys(),
  ]);
  for (const [name, bytes] of first) {
    expect(
      bytes.equals(second.get(name) ?? Buffer.alloc(0)),
      `${name} differs between builds`,
    ).toBe(true);
  }
  expect(committed, `the committed files are not the build's: ${stale}`).toEqual([...first.keys()]);
  expect([...onDisk.keys()], `dist holds other files than the build's: ${stale}`).toEqual([
    ...first.keys(),
  ]);
  for (const [name, bytes] of first) {
    expect(bytes.equals(onDisk.get(name) ?? Buffer.alloc(0)), `${name} is stale: ${stale}`).toBe(
      true,
    );
  }
});

it("the bundle is ASCII-only and minified", async () => {
  for (const [name, bytes] of await files(DIST)) {
    if (!name.endsWith(".js")) continue;
    expect(
      bytes.findIndex((byte) => byte > 0x7f),
      `${name} has a non-ASCII byte`,
    ).toBe(-1);
    // Minified: long lines, not one statement a line (unminified code averages 30-50 bytes a
    // line). Template literals keep their own lines: Bottleneck's Lua scripts bring the Octokit
    // chunk down to ~120 bytes a line.
    expect(bytes.toString("latin1").split("\n").length, `${name} is not minified`).toBeLessThan(
      10 + bytes.length / 100,
    );
  }
});

it("loads @actions/artifact only on demand: the eager part (index.js and the chunks it imports) holds none of it", async () => {
  const dist = await files(DIST);
  const text = (name: string) => dist.get(name)?.toString("latin1") ?? "";
  const eager = new Set<string>();
  const visit = (name: string) => {
    if (eager.has(name)) return;
    eager.add(name);
    // Static imports only (`import{...}from"./chunks/x.js"`); `import("...")` is on demand.
    for (const [, target] of text(name).matchAll(/\bfrom"(\.\.?\/[^"]+)"/g)) {
      visit(path.posix.join(path.posix.dirname(name), target ?? ""));
    }
  };
  visit("index.js");
  expect(eager.size).toBeGreaterThan(2);
  for (const name of eager) expect(dist.has(name), name).toBe(true);
  for (const name of eager) {
    expect(text(name), name).not.toContain("results.api.v1.ArtifactService");
  }
  const onDemand = [...dist.keys()].filter((name) => name.startsWith("chunks/artifact-client-"));
  expect(onDemand.filter((name) => name.endsWith(".js"))).toHaveLength(1);
  expect(text("index.js")).toMatch(/import\("\.\/chunks\/artifact-client-[A-Z0-9]+\.js"\)/);
});
