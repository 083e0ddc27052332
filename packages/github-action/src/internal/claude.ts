import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findOnPath } from "@miyabi/runner";
import { ClaudeInstallError, messageOf } from "./errors.js";
import type { Cache, Logger } from "./ports.js";
import { extractStore, type Layout } from "./safe-extract.js";

export type Env = Record<string, string | undefined>;

/** The one variable through which the Claude process gets its credential. */
export interface Credential {
  name: "ANTHROPIC_API_KEY" | "CLAUDE_CODE_OAUTH_TOKEN";
  value: string;
}

export interface InstallClaudeOptions {
  /** An exact release (the inputs schema checked it): it names the directory and the key. */
  version: string;
  /**
   * Where the CLI goes: RUNNER_TOOL_CACHE (`/opt/hostedtoolcache` on every GitHub-hosted
   * Linux runner), else RUNNER_TEMP. It must be the same absolute path in every job, because
   * @actions/cache hashes the path strings into the entry's version.
   */
  toolRoot: string;
  /** The directory cache member names are relative to (the workspace). */
  root: string;
  /** A private directory for the download and extraction. */
  scratch: string;
  cache: Cache;
  log: Pick<Logger, "info" | "warning">;
  /** How often npm may try against the registry, and the first wait (doubling each time). */
  npmRetry?: { attempts: number; delayMs: number };
}

const NPM_RETRY = { attempts: 3, delayMs: 5_000 };

/**
 * The one key npm's downloads for the CLI are cached under. No restore keys: only this exact
 * version will do, and the npm package carries a platform-specific native binary, hence
 * platform and architecture.
 */
export function claudeCacheKey(version: string): string {
  return `miyabi-claude-npm-${version}-${process.platform}-${process.arch}`;
}

/** The `claude` in `binDir`, if there is an executable one. */
const installedIn = (binDir: string) => findOnPath("claude", binDir);

/** One install's places and seams. */
interface Install extends InstallClaudeOptions {
  prefix: string;
  binDir: string;
  /** npm's cache directory (`--cache`), whose downloads travel in the Actions cache. */
  npmCache: string;
  key: string;
}

/*
 * The Actions cache is writable by any workflow of the repository, so nothing executable comes
 * from it. It carries only npm's content-addressed store (`_cacache/content-v2`: each blob
 * named by its own sha512), never npm's index or an installed tree. Every job runs `npm
 * install`, which takes the package's integrity from the registry and reads a blob only when
 * its digest matches: a tampered blob is refused by npm (the action then reinstalls from the
 * registry), and a forged one is never asked for.
 */
const NPM_CONTENT_LAYOUT: Layout = {
  maxDepth: 8,
  refuse: (parts) =>
    parts[0] === "_cacache" &&
    (parts.length === 1 || parts[1] === "content-v2") &&
    !parts.some((part) => part.startsWith("."))
      ? undefined
      : "is not npm's content-addressed data",
};

/**
 * Return the CLI's executable at `version`, installed under `<toolRoot>/miyabi-claude/<version>`:
 * a copy left by an earlier job on this runner (the tool cache of a self-hosted runner
 * persists), else a new npm install, its downloads taken from the Actions cache when it holds
 * them (every GitHub-hosted job is a fresh machine, and the package is ~190 MB) and saved
 * there otherwise. The cache only saves time: when it fails, npm downloads and the job carries on.
 */
export async function installClaude(o: InstallClaudeOptions): Promise<string> {
  const { version, log } = o;
  const prefix = path.join(o.toolRoot, "miyabi-claude", version);
  const binDir = path.join(prefix, "node_modules", ".bin");
  const npmCache = path.join(o.toolRoot, "miyabi-claude", "npm-cache");
  const install: Install = { ...o, prefix, binDir, npmCache, key: claudeCacheKey(version) };
  const earlier = await installedIn(binDir);
  if (earlier) {
    log.info(`Using Claude Code ${version} installed earlier at ${earlier}`);
    return earlier;
  }
  if (!(await restoreDownloads(install))) {
    const installed = await npmInstallRetried(install);
    await saveDownloads(install);
    return installed;
  }
  try {
    return await npmInstall(install);
  } catch (error) {
    log.warning(
      `npm refused the cached downloads for Claude Code ${version} (${messageOf(error)}); installing from the registry alone.`,
    );
    await fs.rm(npmCache, { recursive: true, force: true });
    await fs.rm(prefix, { recursive: true, force: true });
    return npmInstallRetried(install);
  }
}

/**
 * npm install from the registry, tried again after a growing wait: a registry or network
 * hiccup (ECONNRESET, a 503) should not fail a job that had everything else it needed. The
 * last failure is the one reported.
 */
async function npmInstallRetried(install: Install): Promise<string> {
  const { attempts, delayMs } = install.npmRetry ?? NPM_RETRY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await npmInstall(install);
    } catch (error) {
      if (attempt >= attempts) throw error;
      const wait = delayMs * 2 ** (attempt - 1);
      install.log.warning(
        `npm could not install Claude Code ${install.version} (attempt ${attempt} of ${attempts}): ${messageOf(error)}; trying again in ${wait / 1000} s.`,
      );
      await fs.rm(install.prefix, { recursive: true, force: true });
      await sleep(wait);
    }
  }
}

/** Put the cached downloads in npm's cache directory; false on a miss or any trouble. */
async function restoreDownloads(o: Install): Promise<boolean> {
  await fs.mkdir(o.scratch, { recursive: true, mode: 0o700 });
  const dir = await fs.mkdtemp(path.join(o.scratch, "claude-"));
  try {
    const entry = await o.cache.download([o.npmCache], o.key, [], dir);
    if (entry?.key !== o.key) return false;
    const into = path.join(dir, "npm-cache");
    await fs.mkdir(into);
    await extractStore({
      archive: entry.archive,
      compression: entry.compression,
      root: o.root,
      storeDir: o.npmCache,
      into,
      layout: NPM_CONTENT_LAYOUT,
    });
    await fs.rm(o.npmCache, { recursive: true, force: true });
    await fs.mkdir(path.dirname(o.npmCache), { recursive: true });
    await fs.rename(into, o.npmCache);
    o.log.info(
      `Restored npm's downloads for Claude Code ${o.version} from the cache ("${o.key}").`,
    );
    return true;
  } catch (error) {
    o.log.warning(
      `Could not restore npm's downloads for Claude Code ${o.version} from the cache ("${o.key}"): ${messageOf(error)}; npm downloads them.`,
    );
    return false;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** npm install without a shell: the version was validated, and nothing else reaches the line. */
async function npmInstall({ version, prefix, binDir, npmCache, log }: Install): Promise<string> {
  const args = [
    "install",
    "--prefix",
    prefix,
    "--cache",
    npmCache,
    // The package's metadata (and so the integrity each download must match) always comes
    // from the registry; only content-addressed downloads come from the cache.
    "--prefer-online",
    "--no-audit",
    "--no-fund",
    `@anthropic-ai/claude-code@${version}`,
  ];
  log.info(`Installing Claude Code: npm ${args.join(" ")}`);
  await new Promise<void>((resolve, reject) => {
    execFile("npm", args, { maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (!error) resolve();
      else
        reject(
          new ClaudeInstallError(
            version,
            stderr.trim().split("\n").slice(-5).join("\n") || error.message,
            { cause: error },
          ),
        );
    });
  });
  const installed = await installedIn(binDir);
  if (!installed) {
    throw new ClaudeInstallError(version, `npm succeeded but ${binDir}/claude is missing`);
  }
  return installed;
}

/**
 * Save npm's content-addressed downloads (only those: its index is metadata a forger could
 * write). Nothing is lost when this fails (a later job downloads again), so a refusal or a
 * throw is a warning, never the job's failure.
 */
async function saveDownloads({ version, npmCache, key, cache, log }: Install): Promise<void> {
  const notSaved = (why: string) =>
    log.warning(
      `npm's downloads for Claude Code ${version} were not saved to the cache as "${key}" (${why}); the next job downloads them again.`,
    );
  try {
    for (const name of await fs.readdir(npmCache).catch(() => [])) {
      if (name !== "_cacache") await fs.rm(path.join(npmCache, name), { recursive: true });
    }
    for (const name of await fs.readdir(path.join(npmCache, "_cacache")).catch(() => [])) {
      if (name !== "content-v2") {
        await fs.rm(path.join(npmCache, "_cacache", name), { recursive: true });
      }
    }
    const saved = await cache.save([npmCache], key);
    if (saved.ok) log.info(`Saved npm's downloads for Claude Code ${version} as "${key}".`);
    else notSaved(saved.cause);
  } catch (error) {
    notSaved(messageOf(error));
  }
}
