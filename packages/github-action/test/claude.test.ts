import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Cache,
  ClaudeInstallError,
  claudeCacheKey,
  claudeEnv,
  type InstallClaudeOptions,
  installClaude,
} from "../src/index.js";
import { executable, fakeNpm, withPath } from "./fake-npm.js";
import { FakeCache, FakeLog } from "./fakes.js";
import { freshDir, removeScratch } from "./harness.js";

afterAll(removeScratch);

const VERSION = "2.1.332";
const KEY = `miyabi-claude-${VERSION}-${process.platform}-${process.arch}`;

interface Rig {
  /** The tool root, fresh as on a new runner. */
  root: string;
  prefix: string;
  claude: string;
  cache: FakeCache;
  log: FakeLog;
  install(overrides?: Partial<InstallClaudeOptions>): Promise<string>;
}

async function rig(cache?: FakeCache): Promise<Rig> {
  const root = await freshDir("tools");
  const prefix = path.join(root, "miyabi-claude", VERSION);
  const c = cache ?? new FakeCache(await freshDir("cache"), () => root);
  const log = new FakeLog();
  return {
    root,
    prefix,
    claude: path.join(prefix, "node_modules", ".bin", "claude"),
    cache: c,
    log,
    install: (overrides = {}) =>
      installClaude({ version: VERSION, toolRoot: root, cache: c, log, ...overrides }),
  };
}

const NPM_RUN = (prefix: string, version = VERSION) =>
  `install --prefix ${prefix} --no-audit --no-fund @anthropic-ai/claude-code@${version}`;

describe("claudeEnv", () => {
  it("withholds the runner's credentials and raw inputs, and adds the one credential", () => {
    const env = claudeEnv(
      {
        PATH: "/usr/bin",
        HOME: "/home/runner",
        GITHUB_WORKSPACE: "/w",
        "INPUT_ANTHROPIC-API-KEY": "sk-in",
        "INPUT_GITHUB-TOKEN": "ghs",
        ACTIONS_RUNTIME_TOKEN: "rt",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc",
        ACTIONS_RESULTS_URL: "https://results",
        GITHUB_TOKEN: "ghs",
        ANTHROPIC_API_KEY: "ambient",
        ANTHROPIC_AUTH_TOKEN: "ambient",
        CLAUDE_CODE_OAUTH_TOKEN: "ambient",
        UNSET: undefined,
      },
      { name: "CLAUDE_CODE_OAUTH_TOKEN", value: "oauth" },
    );
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/runner",
      GITHUB_WORKSPACE: "/w",
      CLAUDE_CODE_OAUTH_TOKEN: "oauth",
    });
  });
});

describe("installClaude", () => {
  it("keys the cache by exact version, platform and architecture", () => {
    expect(claudeCacheKey(VERSION)).toBe(KEY);
  });

  it("on a miss installs with npm into <tool root>/miyabi-claude/<version>, then saves that path", async () => {
    const r = await rig();
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install());
    expect(bin).toBe(r.claude);
    expect(await npm.runs()).toEqual([NPM_RUN(r.prefix)]);
    // The identical absolute path both times: @actions/cache hashes it into the version.
    expect(r.cache.calls).toEqual([
      { op: "restore", paths: [r.prefix], key: KEY, restoreKeys: [] },
      { op: "save", paths: [r.prefix], key: KEY },
    ]);
    expect([...r.cache.entries.keys()]).toEqual([KEY]);
    expect(r.log.lines).toEqual([
      `Installing Claude Code: ${`npm ${NPM_RUN(r.prefix)}`}`,
      `Saved Claude Code ${VERSION} to the cache as "${KEY}".`,
    ]);
  });

  it("on a hit uses the restored CLI without running npm", async () => {
    const first = await rig();
    const npm = await fakeNpm();
    await withPath(npm.bin, () => first.install());
    // A fresh runner: another tool root, empty, sharing the cache (the fake restores to the
    // path it is given; the real cache needs the same path, see the miss test).
    const second = await rig(first.cache);
    const bin = await withPath(npm.bin, () => second.install());
    expect(bin).toBe(second.claude);
    expect(await npm.runs()).toHaveLength(1);
    expect(second.cache.calls.slice(2)).toEqual([
      { op: "restore", paths: [second.prefix], key: KEY, restoreKeys: [] },
    ]);
    expect(second.log.lines).toEqual([
      `Restored Claude Code ${VERSION} from the cache ("${KEY}"): ${second.claude}`,
    ]);
  });

  it("installs again when the entry it restored has no executable, and does not save over it", async () => {
    const r = await rig();
    const broken = await freshDir("broken-entry");
    await mkdir(path.join(broken, "node_modules"), { recursive: true });
    r.cache.entries.set(KEY, broken);
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install());
    expect(bin).toBe(r.claude);
    expect(await npm.runs()).toEqual([NPM_RUN(r.prefix)]);
    expect(r.cache.calls.map((c) => c.op)).toEqual(["restore"]);
    expect(r.log.lines[0]).toBe(
      `warning: The cache entry "${KEY}" has no ${path.dirname(r.claude)}/claude; installing Claude Code ${VERSION} with npm. Delete the entry (gh cache delete ${KEY}) so that a later job caches a good copy.`,
    );
  });

  it.each([
    [
      "returns -1",
      "refuse",
      "the cache service did not take it: another job may have saved it first",
    ],
    ["throws", "throw", "Path Validation Error: injected"],
  ] as const)("a save that %s is a warning; the CLI is used", async (_what, fault, why) => {
    const r = await rig();
    r.cache.saveFault = fault;
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install());
    expect(bin).toBe(r.claude);
    expect(r.log.lines.at(-1)).toBe(
      `warning: Claude Code ${VERSION} was not saved to the cache as "${KEY}" (${why}); the next job will install it with npm again.`,
    );
  });

  it("a second job that raced for the key gets -1: a warning", async () => {
    const a = await rig();
    const b = await rig(a.cache);
    const npm = await fakeNpm();
    // Both missed before either saved: the second save finds the key taken.
    const missing: Cache = { restore: async () => undefined, save: (p, k) => a.cache.save(p, k) };
    await withPath(npm.bin, () => a.install({ cache: missing }));
    await withPath(npm.bin, () => b.install({ cache: missing }));
    expect(await npm.runs()).toHaveLength(2);
    expect(b.log.lines.at(-1)).toMatch(
      /^warning: Claude Code .* was not saved .*another job may have saved it first/,
    );
  });

  it("a restore that throws is a warning; npm installs and the save is still tried", async () => {
    const r = await rig();
    const saved: string[] = [];
    const cache: Cache = {
      restore: async () => {
        throw new Error("Key Validation Error: injected");
      },
      save: async (_paths, key) => {
        saved.push(key);
        return 1;
      },
    };
    const npm = await fakeNpm();
    const bin = await withPath(npm.bin, () => r.install({ cache }));
    expect(bin).toBe(r.claude);
    expect(saved).toEqual([KEY]);
    expect(r.log.lines[0]).toBe(
      `warning: Could not restore Claude Code ${VERSION} from the cache ("${KEY}"): Key Validation Error: injected; installing it with npm.`,
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

  it("reports npm's last error lines and what to do instead; nothing is saved", async () => {
    const r = await rig();
    const npm = await fakeNpm({ script: "echo 'npm error 404 Not Found' >&2; exit 1" });
    const error = await withPath(npm.bin, () => r.install({ version: "9.9.9" })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ClaudeInstallError);
    expect((error as Error).message).toBe(
      "Installing @anthropic-ai/claude-code@9.9.9 with npm failed: npm error 404 Not Found. Install it in an earlier step or pass its path with the claude-path input.",
    );
    expect(r.cache.calls.map((c) => c.op)).toEqual(["restore"]);
    expect(await readdir(r.root)).toEqual([]);
  });
});
