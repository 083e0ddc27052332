import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { findOnPath } from "@miyabi/runner";
import { ClaudeInstallError, messageOf } from "./errors.js";
import type { Cache, Logger } from "./ports.js";

export type Env = Record<string, string | undefined>;

/** The one variable through which the Claude process gets its credential. */
export interface Credential {
  name: "ANTHROPIC_API_KEY" | "CLAUDE_CODE_OAUTH_TOKEN";
  value: string;
}

// The runner's own credentials: the agent executes tools that issue text can steer, so the
// cache token, OIDC request token, GitHub token and raw inputs (secrets included) stay here.
const WITHHELD =
  /^(?:INPUT_|ACTIONS_)|^(?:GITHUB_TOKEN|ANTHROPIC_API_KEY|ANTHROPIC_AUTH_TOKEN|CLAUDE_CODE_OAUTH_TOKEN)$/;

/** The environment for the Claude process: this process's, less credentials, plus `credential`. */
export function claudeEnv(base: Env, credential: Credential): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && !WITHHELD.test(name)) env[name] = value;
  }
  env[credential.name] = credential.value;
  return env;
}

export interface InstallClaudeOptions {
  /** An exact release (the inputs schema checked it): it names the directory and the key. */
  version: string;
  /**
   * Where the CLI goes: RUNNER_TOOL_CACHE (`/opt/hostedtoolcache` on every GitHub-hosted
   * Linux runner), else RUNNER_TEMP. It must be the same absolute path in every job, because
   * @actions/cache hashes the path strings into the entry's version: a job whose prefix
   * differs misses the entry and installs again. (The archive stores the path relative to
   * the workspace, `/home/runner/work/<repo>/<repo>` in every hosted job, so it extracts back
   * to the same place.)
   */
  toolRoot: string;
  cache: Cache;
  log: Pick<Logger, "info" | "warning">;
}

/**
 * The one key the CLI is cached under. No restore keys: only this exact version will do, and
 * the npm package carries a platform-specific native binary, hence platform and architecture.
 */
export function claudeCacheKey(version: string): string {
  return `miyabi-claude-${version}-${process.platform}-${process.arch}`;
}

/** The `claude` in `binDir`, if there is an executable one. */
const installedIn = (binDir: string) => findOnPath("claude", binDir);

/** One install's places and seams. */
interface Install extends InstallClaudeOptions {
  prefix: string;
  binDir: string;
  key: string;
}

/**
 * Return the CLI's executable at `version`, installed under `<toolRoot>/miyabi-claude/<version>`:
 * a copy left by an earlier job on this runner (the tool cache of a self-hosted runner
 * persists), else the copy in the Actions cache (every GitHub-hosted job is a fresh machine,
 * and npm would download ~190 MB each time), else a new npm install, which is then cached.
 * The cache only saves time: when it fails, the job installs with npm and carries on.
 */
export async function installClaude(o: InstallClaudeOptions): Promise<string> {
  const { version, cache, log } = o;
  const prefix = path.join(o.toolRoot, "miyabi-claude", version);
  const binDir = path.join(prefix, "node_modules", ".bin");
  const key = claudeCacheKey(version);
  const install: Install = { ...o, prefix, binDir, key };
  const earlier = await installedIn(binDir);
  if (earlier) {
    log.info(`Using Claude Code ${version} installed earlier at ${earlier}`);
    return earlier;
  }

  let restored: string | undefined;
  try {
    restored = await cache.restore([prefix], key, []);
  } catch (error) {
    log.warning(
      `Could not restore Claude Code ${version} from the cache ("${key}"): ${messageOf(error)}; installing it with npm.`,
    );
  }
  if (restored === key) {
    const executable = await installedIn(binDir);
    if (executable) {
      log.info(`Restored Claude Code ${version} from the cache ("${key}"): ${executable}`);
      return executable;
    }
    // Entries cannot be replaced, so saving again would be refused: say how to clear it.
    log.warning(
      `The cache entry "${key}" has no ${binDir}/claude; installing Claude Code ${version} with npm. Delete the entry (gh cache delete ${key}) so that a later job caches a good copy.`,
    );
    // Whatever half an entry extracted must not mix with what npm installs.
    await fs.rm(prefix, { recursive: true, force: true });
    return npmInstall(install);
  }

  const installed = await npmInstall(install);
  await saveInstall(install);
  return installed;
}

/** npm install without a shell: the version was validated, and nothing else reaches the line. */
async function npmInstall({ version, prefix, binDir, log }: Install): Promise<string> {
  const args = [
    "install",
    "--prefix",
    prefix,
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
 * Unlike the session store, nothing is lost when the CLI is not cached: a later job installs
 * it again. So a refusal (-1: parallel jobs that both missed race for the key, or the service
 * is failing) or a throw is a warning, never the job's failure.
 */
async function saveInstall({ version, prefix, key, cache, log }: Install): Promise<void> {
  const notSaved = (why: string) =>
    log.warning(
      `Claude Code ${version} was not saved to the cache as "${key}" (${why}); the next job will install it with npm again.`,
    );
  try {
    const id = await cache.save([prefix], key);
    if (id === -1) {
      notSaved("the cache service did not take it: another job may have saved it first");
    } else {
      log.info(`Saved Claude Code ${version} to the cache as "${key}".`);
    }
  } catch (error) {
    notSaved(messageOf(error));
  }
}
