import fs from "node:fs/promises";
import { execa } from "execa";
import { WorktreeError } from "./errors.js";

export interface GitOptions {
  /** Directory git runs in; it finds the repository from here. */
  cwd: string;
  /** Added to the environment (identity variables for a commit, for instance). */
  env?: Record<string, string>;
}

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Variables that point git at another repository, index or object store. A runner started
 * from a git hook (or by a tool that exports GIT_DIR) would otherwise stage and commit in that
 * repository instead of the worktree it was given. The list is `git rev-parse --local-env-vars`
 * minus the config ones, which carry the user's `-c` settings.
 */
const REPOSITORY_VARIABLES = [
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_OBJECT_DIRECTORY",
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_IMPLICIT_WORK_TREE",
  "GIT_GRAFT_FILE",
  "GIT_INDEX_FILE",
  "GIT_NO_REPLACE_OBJECTS",
  "GIT_REPLACE_REF_BASE",
  "GIT_PREFIX",
  "GIT_INTERNAL_SUPER_PREFIX",
  "GIT_SHALLOW_FILE",
  "GIT_COMMON_DIR",
];

function gitEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !REPOSITORY_VARIABLES.includes(key)) env[key] = value;
  }
  return {
    ...env,
    // Never wait for a password on a terminal nobody watches.
    GIT_TERMINAL_PROMPT: "0",
    // Messages we match on (and show) stay in English whatever the user's locale.
    LC_ALL: "C",
    ...extra,
  };
}

function describe(args: readonly string[]): string {
  return `git ${args.map((a) => (/^[\w./:@=^~+-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")}`;
}

async function run(args: readonly string[], options: GitOptions) {
  const result = await execa("git", args, {
    cwd: options.cwd,
    env: gitEnv(options.env),
    extendEnv: false,
    stdin: "ignore",
    reject: false,
  });
  if (result.exitCode === undefined) {
    // Node reports a missing cwd as a missing executable (spawn git ENOENT); tell them apart.
    const missing = (result.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
    const detail = !missing
      ? result.shortMessage
      : (await isDirectory(options.cwd))
        ? "git is not installed or not on PATH"
        : "the directory does not exist";
    throw new WorktreeError(`Cannot run ${describe(args)} in ${options.cwd}: ${detail}.`, {
      cause: result,
    });
  }
  return result;
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Run git and return its exit code and output, whatever the exit code; for commands whose
 * exit code is an answer (`diff --quiet`, `show-ref --verify`). Throws only when git cannot
 * be started.
 */
export async function tryGit(args: readonly string[], options: GitOptions): Promise<GitResult> {
  const result = await run(args, options);
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** Run git and return its stdout (final newline removed); any non-zero exit is an error. */
export async function git(args: readonly string[], options: GitOptions): Promise<string> {
  const result = await run(args, options);
  if (result.failed) {
    const detail = result.stderr.trim() || result.shortMessage;
    throw new WorktreeError(
      `${describe(args)} failed (exit ${result.exitCode}) in ${options.cwd}: ${detail}`,
      { cause: result },
    );
  }
  return result.stdout;
}
