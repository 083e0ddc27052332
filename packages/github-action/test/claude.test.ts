import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Cache,
  ClaudeInstallError,
  claudeCacheKey,
  type InstallClaudeOptions,
  installClaude,
} from "../src/index.js";
import { executable, fakeNpm, withPath } from "./fake-npm.js";
import { FakeCache, FakeLog } from "./fakes.js";
import { freshDir, removeScratch } from "./harness.js";

afterAll(removeScratch);

const VERSION = "2.1.332";
const KEY = `miyabi-claude-npm-${VERSION}-${process.platform}-${process.arch}`;

interface Rig {
  /** The tool root, fresh as on a new runner. */
  root: string;
  workspace: string;
  prefix: string;
  npmCache: string;
  claude: string;
  cache: FakeCache;
  log: FakeLog;
  install(overrides?: Partial<InstallClaudeOptions>): Promise<string>;
}

/**
 * A fresh runner; `like` gives it the paths of an earlier one (hosted runners all have the
 * same workspace and tool cache paths) and its cache, with nothing left on disk.
 */
async function rig(like?: Rig): Promise<Rig> {
  const cache = like?.cache;
  const root = like?.root ?? (await freshDir("tools"));
  const workspace = like?.workspace ?? (await freshDir("workspace"));
  if (like) {
    await rm(root, { recursive: true });
    await mkdir(root);
  }
  const prefix = path.join(root, "miyabi-claude", VERSION);
  const c = cache ?? new FakeCache(await freshDir("cache"), () => workspace);
  const log = new FakeLog();
  const scratch = await freshDir("scratch");
  return {
    root,
    workspace,
    prefix,
    npmCache: path.join(root, "miyabi-claude", "npm-cache"),
    claude: path.join(prefix, "node_modules", ".bin", "claude"),
    cache: c,
    log,
    install: (overrides = {}) =>
      installClaude({
        version: VERSION,
        toolRoot: root,
        root: workspace,
        scratch,
        cache: c,
        log,
        npmRetry: { attempts: 3, delayMs: 1 },
        ...overrides,
      }),
  };
}

const NPM_RUN = (r: Pick<Rig, "prefix" | "npmCache">, version = VERSION) =>
  `install --prefix ${r.prefix} --cache ${r.npmCache} --prefer-online --no-audit --no-fund @anthropic-ai/claude-code@${version}`;

describe("installClaude", () => {
  it("keys the cache by exact version, platform and architecture", () => {
    expect(claudeCacheKey(VERSION)).toBe(KEY);
  });

  it("on a miss installs with npm, then saves only npm's content-addressed downloads", async () => {
    const r = await rig();
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install());
    expect(bin).toBe(r.claude);
    expect(await npm.runs()).toEqual([NPM_RUN(r)]);
    // The identical absolute path both times: @actions/cache hashes it into the version.
    expect(r.cache.calls).toEqual([
      { op: "restore", paths: [r.npmCache], key: KEY, restoreKeys: [] },
      { op: "save", paths: [r.npmCache], key: KEY },
    ]);
    expect(await readdir(r.npmCache, { recursive: true })).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/index-v5|_logs/)]),
    );
    expect(r.log.lines.at(-1)).toBe(
      `Saved npm's downloads for Claude Code ${VERSION} as "${KEY}".`,
    );
  });

  it("on a hit npm still installs (checking each download), from the restored downloads", async () => {
    const first = await rig();
    const npm = await fakeNpm();
    await withPath(npm.bin, () => first.install());
    const second = await rig(first);
    const bin = await withPath(npm.bin, () => second.install());
    expect(bin).toBe(second.claude);
    expect(await npm.runs()).toEqual([NPM_RUN(first), NPM_RUN(second)]);
    expect(await readdir(second.npmCache, { recursive: true })).toContain(
      path.join("_cacache", "content-v2", "sha512", "ab", "cd", "ef01"),
    );
    expect(second.cache.calls.slice(2)).toEqual([
      { op: "restore", paths: [second.npmCache], key: KEY, restoreKeys: [] },
    ]);
    expect(second.log.lines[0]).toBe(
      `Restored npm's downloads for Claude Code ${VERSION} from the cache ("${KEY}").`,
    );
  });

  it("a crafted entry (an installed claude, npm's index) is refused and never run", async () => {
    const r = await rig();
    // Saved from the right place, as @actions/cache would: npm's index inside the npm cache,
    // and an installed claude beside it.
    const index = path.join(r.npmCache, "_cacache", "index-v5");
    await mkdir(index, { recursive: true });
    await writeFile(path.join(index, "entry"), "forged integrity");
    await executable(r.claude, "echo pwned > /tmp/miyabi-pwned");
    const archive = path.join(await freshDir("crafted"), "entry.tgz");
    const names = [r.npmCache, r.prefix].map((p) => path.relative(r.workspace, p));
    execFileSync("tar", ["-czPf", archive, "-C", r.workspace, ...names]);
    await rm(r.root, { recursive: true });
    await mkdir(r.root);
    r.cache.plant(KEY, archive);
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install());
    expect(bin).toBe(r.claude);
    expect(r.log.lines[0]).toMatch(
      /^warning: Could not restore npm's downloads for Claude Code .*: The cache entry was refused: the member ".*index-v5.*" is not npm's content-addressed data/,
    );
    expect(await npm.runs()).toEqual([NPM_RUN(r)]);
    expect(await readFile(r.claude, "utf8")).not.toContain("pwned");
  });

  it("when npm refuses the restored downloads (a tampered blob), it reinstalls from the registry", async () => {
    const first = await rig();
    const good = await fakeNpm();
    await withPath(good.bin, () => first.install());
    const second = await rig(first);
    // npm fails once, as on EINTEGRITY, then installs.
    const flag = path.join(await freshDir("flag"), "failed-once");
    const npm = await fakeNpm({
      script: `if [ ! -e '${flag}' ]; then touch '${flag}'; echo 'npm error code EINTEGRITY' >&2; exit 1; fi
mkdir -p "$3/node_modules/.bin"; printf '#!/bin/sh\\nexit 0\\n' > "$3/node_modules/.bin/claude"; chmod +x "$3/node_modules/.bin/claude"`,
    });
    const bin = await withPath(npm.bin, () => second.install());
    expect(bin).toBe(second.claude);
    expect(await npm.runs()).toHaveLength(2);
    expect(second.log.lines).toContainEqual(
      expect.stringMatching(
        /^warning: npm refused the cached downloads .*EINTEGRITY.*; installing from the registry alone\.$/,
      ),
    );
  });

  it.each([
    ["is refused", "refuse", "read ECONNRESET"],
    ["throws", "throw", "Path Validation Error: injected"],
  ] as const)("a save that %s is a warning; the CLI is used", async (_what, fault, why) => {
    const r = await rig();
    r.cache.saveFault = fault;
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install());
    expect(bin).toBe(r.claude);
    expect(r.log.lines.at(-1)).toBe(
      `warning: npm's downloads for Claude Code ${VERSION} were not saved to the cache as "${KEY}" (${why}); the next job downloads them again.`,
    );
  });

  it("a restore that throws is a warning; npm installs and the save is still tried", async () => {
    const r = await rig();
    const saved: string[] = [];
    const cache: Cache = {
      download: async () => {
        throw new Error("Key Validation Error: injected");
      },
      save: async (_paths, key) => {
        saved.push(key);
        return { ok: true };
      },
    };
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install({ cache }));
    expect(bin).toBe(r.claude);
    expect(saved).toEqual([KEY]);
    expect(r.log.lines[0]).toBe(
      `warning: Could not restore npm's downloads for Claude Code ${VERSION} from the cache ("${KEY}"): Key Validation Error: injected; npm downloads them.`,
    );
  });

  it("reuses an earlier install on this runner without the cache or npm", async () => {
    const r = await rig();
    const bin = await executable(r.claude, "exit 0");
    const npm = await fakeNpm();
    const found = await withPath(npm.bin, () => r.install());
    expect(found).toBe(bin);
    expect(await npm.runs()).toEqual([]);
    expect(r.cache.calls).toEqual([]);
    expect(r.log.lines).toEqual([`Using Claude Code ${VERSION} installed earlier at ${bin}`]);
  });

  it("tries npm again after a failure, waiting longer each time", async () => {
    const r = await rig();
    const npm = await fakeNpm({ failFirst: "npm error code ECONNRESET" });
    const found = await withPath(npm.bin, () =>
      r.install({ npmRetry: { attempts: 2, delayMs: 1 } }),
    );
    expect(found).toBe(r.claude);
    expect(await npm.runs()).toEqual([NPM_RUN(r), NPM_RUN(r)]);
    expect(r.log.lines).toContain(
      `warning: npm could not install Claude Code ${VERSION} (attempt 1 of 2): Installing @anthropic-ai/claude-code@${VERSION} with npm failed: npm error code ECONNRESET. Install it in an earlier step or pass its path with the claude-path input.; trying again in 0.001 s.`,
    );
    expect(r.cache.calls.map((c) => c.op)).toEqual(["restore", "save"]);
  });

  it("reports npm's last error lines and what to do instead; nothing is saved", async () => {
    const r = await rig();
    const npm = await fakeNpm({ script: "echo 'npm error 404 Not Found' >&2; exit 1" });
    const error = await withPath(npm.bin, () => r.install({ version: "9.9.9" })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ClaudeInstallError);
    // Every attempt failed the same way; the last one is reported.
    expect(await npm.runs()).toHaveLength(3);
    expect((error as Error).message).toBe(
      "Installing @anthropic-ai/claude-code@9.9.9 with npm failed: npm error 404 Not Found. Install it in an earlier step or pass its path with the claude-path input.",
    );
    expect(r.cache.calls.map((c) => c.op)).toEqual(["restore"]);
  });
});
