import fs from "node:fs/promises";
import path from "node:path";
import { git, tryGit } from "@miyabi/runner";
import { CheckoutCredentialsError } from "./errors.js";

/*
 * The push credential is the action's alone. actions/checkout leaves the job's token in the
 * repository's git config (≤ v5: `http.<url>.extraheader`; v6: a config file under
 * RUNNER_TEMP pulled in by `includeIf.gitdir:…​.path`), where an agent's Read or Bash would
 * find it. It is removed before any agent runs; the action hands its own github-token to git
 * through the environment of the one command that needs it (fetch, push), after the agent
 * is done or before it starts.
 */

const EXTRAHEADER = /^http\..*\.extraheader$/i;

/** What removeCheckoutCredentials took away, for the log (names, never values). */
export interface RemovedCredentials {
  /** Config keys unset from the repository's own config. */
  keys: string[];
  /** Included config files that held credentials, deleted. */
  files: string[];
}

async function configEntries(cwd: string, args: string[]): Promise<[string, string][]> {
  // --null: values may hold spaces or newlines; exit 1 means "no such key".
  const r = await tryGit(["config", "--null", ...args], { cwd });
  if (r.exitCode === 1) return [];
  if (r.exitCode !== 0) throw new CheckoutCredentialsError(r.stderr.trim());
  return r.stdout
    .split("\0")
    .filter((entry) => entry !== "")
    .map((entry) => {
      const nl = entry.indexOf("\n");
      return nl === -1 ? [entry, ""] : [entry.slice(0, nl), entry.slice(nl + 1)];
    });
}

/** Whether a config file sets any http.*.extraheader (a checkout v6 credentials file). */
async function holdsCredentials(cwd: string, file: string): Promise<boolean> {
  const entries = await configEntries(cwd, ["--file", file, "--get-regexp", "^http\\."]);
  return entries.some(([key]) => EXTRAHEADER.test(key));
}

/**
 * Remove every credential actions/checkout persisted for `workspace`: extraheaders in its
 * local config, and each `includeIf.*.path` whose file sets one (the file is deleted as well as
 * the include, since the agent could read it where it lies).
 */
export async function removeCheckoutCredentials(workspace: string): Promise<RemovedCredentials> {
  const removed: RemovedCredentials = { keys: [], files: [] };
  const local = await configEntries(workspace, ["--local", "--get-regexp", "."]);
  const keys = new Set<string>();
  for (const [key, value] of local) {
    if (EXTRAHEADER.test(key)) keys.add(key);
    if (/^includeif\..*\.path$/i.test(key) && value !== "") {
      const gitDir = await git(["rev-parse", "--absolute-git-dir"], { cwd: workspace });
      const file = path.resolve(gitDir, value);
      const present = await fs.lstat(file).then(
        () => true,
        () => false,
      );
      if (present) {
        if (!(await holdsCredentials(workspace, file))) continue;
        await fs.rm(file, { force: true });
        removed.files.push(file);
      }
      keys.add(key);
    }
  }
  for (const key of keys) {
    await git(["config", "--local", "--unset-all", key], { cwd: workspace });
    removed.keys.push(key);
  }
  return removed;
}

/**
 * The server origin's http(s) URL points at (scheme and host), which the token's header is
 * keyed on as actions/checkout keys it; undefined for a remote that is not http(s).
 */
export async function remoteServer(workspace: string): Promise<string | undefined> {
  const r = await tryGit(["remote", "get-url", "origin"], { cwd: workspace });
  const remote = r.stdout.trim();
  // Not a URL: an scp-style SSH remote or a path, which take no header.
  if (r.exitCode !== 0 || !URL.canParse(remote)) return undefined;
  const url = new URL(remote);
  return /^https?:$/.test(url.protocol) ? url.origin : undefined;
}

/**
 * The environment that gives one git command the token, as an extraheader for the server's
 * URL (`GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`, git ≥ 2.31): never a file, never the command line.
 * Entries the workflow set through the same variables are kept.
 */
export function gitAuthEnv(
  serverUrl: string,
  token: string,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const existing = Number.parseInt(env.GIT_CONFIG_COUNT ?? "0", 10);
  const n = Number.isInteger(existing) && existing > 0 ? existing : 0;
  const basic = Buffer.from(`x-access-token:${token}`, "utf8").toString("base64");
  return {
    GIT_CONFIG_COUNT: String(n + 1),
    [`GIT_CONFIG_KEY_${n}`]: `http.${serverUrl.replace(/\/+$/, "")}/.extraheader`,
    [`GIT_CONFIG_VALUE_${n}`]: `AUTHORIZATION: basic ${basic}`,
  };
}
