import fs from "node:fs/promises";
import path from "node:path";
import type { Session } from "@miyabi/core";
import { WorktreeError } from "./errors.js";
import { git, tryGit } from "./git.js";
import { stageUnprotected } from "./protected.js";

/** Why an issue worktree could not be used; the message says what to do about it. */
export type WorktreeProblem =
  | "not-a-repository"
  | "outside-repository"
  | "not-a-worktree"
  | "missing"
  | "wrong-branch"
  | "branch-in-use"
  | "dirty"
  | "invalid";

/**
 * A worktree that is in a state we refuse to touch. Nothing was changed when it is thrown;
 * `problem` lets a caller branch without parsing the message.
 */
export class IssueWorktreeError extends WorktreeError {
  readonly problem: WorktreeProblem;
  /** The worktree path concerned, when there is one. */
  readonly path: string | null;
  /** For `dirty`: the changed files, as `git status --porcelain` names them. */
  readonly files: string[];

  constructor(
    problem: WorktreeProblem,
    message: string,
    details: { path?: string; files?: string[]; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.problem = problem;
    this.path = details.path ?? null;
    this.files = details.files ?? [];
  }
}

/** Identity of phase commits when git has none configured. */
export const DEFAULT_AUTHOR = { name: "Miyabi", email: "miyabi@users.noreply.github.com" };

/** The branch an issue's work lives on. */
export function issueBranchName(issueNumber: number): string {
  return `miyabi/issue-${issueNumber}`;
}

const WORKTREES_DIR = ".worktrees";
const PRUNE_HINT =
  "run `git worktree prune` (or `miyabi-sessions worktree prune`) to forget it, then run again";

// ---------------------------------------------------------------------------------------------
// Reading git's view

interface WorktreeEntry {
  path: string;
  head: string | null;
  /** Full ref (refs/heads/...), or null when detached or bare. */
  branch: string | null;
  bare: boolean;
  locked: boolean;
  /** Its directory is gone; `git worktree prune` would forget it. */
  prunable: boolean;
  /** The repository's main working tree (always listed first). */
  main: boolean;
}

async function worktreeEntries(root: string): Promise<WorktreeEntry[]> {
  const out = await git(["worktree", "list", "--porcelain"], { cwd: root });
  const entries: WorktreeEntry[] = [];
  for (const block of out.split(/\n\n+/)) {
    const entry: WorktreeEntry = {
      path: "",
      head: null,
      branch: null,
      bare: false,
      locked: false,
      prunable: false,
      main: entries.length === 0,
    };
    for (const line of block.split("\n")) {
      const space = line.indexOf(" ");
      const key = space === -1 ? line : line.slice(0, space);
      const value = space === -1 ? "" : line.slice(space + 1);
      if (key === "worktree") entry.path = value;
      else if (key === "HEAD") entry.head = value;
      else if (key === "branch") entry.branch = value;
      else if (key === "bare") entry.bare = true;
      else if (key === "locked") entry.locked = true;
      else if (key === "prunable") entry.prunable = true;
    }
    if (entry.path) entries.push(entry);
  }
  return entries;
}

/** Changed and untracked files of a worktree, whatever the user's status settings. */
async function changedFiles(dir: string): Promise<string[]> {
  const out = await git(
    ["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignore-submodules=none"],
    // A status refresh must not take index.lock while an agent may be running git there.
    { cwd: dir, env: { GIT_OPTIONAL_LOCKS: "0" } },
  );
  const parts = out.split("\0");
  const files: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const entry = parts[i];
    if (!entry) continue;
    // A rename or copy is followed by the name it had before.
    if (/^[RC]|^.[RC]/.test(entry)) {
      i++;
      files.push(`${entry.slice(0, 3)}${parts[i] ?? "?"} -> ${entry.slice(3)}`);
    } else files.push(entry);
  }
  return files;
}

function listFiles(files: string[]): string {
  const shown = files.slice(0, 10).map((f) => `  ${f}`);
  if (files.length > shown.length) shown.push(`  ... and ${files.length - shown.length} more`);
  return shown.join("\n");
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

async function isCommit(root: string, rev: string): Promise<boolean> {
  const r = await tryGit(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { cwd: root });
  return r.exitCode === 0;
}

async function refExists(root: string, ref: string): Promise<boolean> {
  const r = await tryGit(["show-ref", "--verify", "--quiet", ref], { cwd: root });
  return r.exitCode === 0;
}

function shortBranch(ref: string | null): string | null {
  return ref?.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
}

// ---------------------------------------------------------------------------------------------
// Where things are

/** The top of the working tree `repoDir` is in, symlinks resolved. */
async function repositoryRoot(repoDir: string): Promise<string> {
  const dir = path.resolve(repoDir);
  if (!(await isDirectory(dir))) {
    throw new IssueWorktreeError(
      "not-a-repository",
      `Repository directory ${dir} does not exist or is not a directory.`,
      { path: dir },
    );
  }
  const real = await fs.realpath(dir);
  const r = await tryGit(["rev-parse", "--show-toplevel"], { cwd: real });
  if (r.exitCode !== 0 || !r.stdout) {
    throw new IssueWorktreeError(
      "not-a-repository",
      `${dir} is not inside the working tree of a git repository (${r.stderr.trim() || "no working tree"}); run miyabi from a clone of your project.`,
      { path: dir },
    );
  }
  return fs.realpath(r.stdout);
}

/** The common git directory (shared by all worktrees), symlinks resolved. */
async function commonDir(cwd: string): Promise<string> {
  const out = await git(["rev-parse", "--git-common-dir"], { cwd });
  return fs.realpath(path.resolve(cwd, out));
}

/**
 * `wanted` as an absolute path with every existing symlink resolved, so that a link inside the
 * repository cannot lead a worktree outside it. Throws for a dangling link on the way, since
 * creating through it would write wherever it points.
 */
async function resolveReal(wanted: string): Promise<string> {
  const rest: string[] = [];
  let current = wanted;
  for (;;) {
    try {
      return path.join(await fs.realpath(current), ...rest.reverse());
    } catch (error) {
      if (errnoCode(error) !== "ENOENT" && errnoCode(error) !== "ENOTDIR") throw error;
      if (await exists(current)) {
        throw new IssueWorktreeError(
          "outside-repository",
          `${current} is a symbolic link to a missing location; a worktree cannot be created through it.`,
          { path: wanted },
        );
      }
      const parent = path.dirname(current);
      if (parent === current) return wanted;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

/** Resolve a worktree path given relative to (or inside) the repository, refusing escapes. */
async function worktreeTarget(
  root: string,
  wanted: string,
): Promise<{ target: string; relative: string }> {
  if (wanted.split(/[\\/]+/).includes("..")) {
    throw new IssueWorktreeError(
      "outside-repository",
      `Worktree path "${wanted}" contains "..": give a path inside the repository, such as ${WORKTREES_DIR}/issue-<N>.`,
      { path: wanted },
    );
  }
  const target = await resolveReal(path.resolve(root, wanted));
  const relative = path.relative(root, target);
  const escapes = relative === ".." || relative.startsWith(`..${path.sep}`);
  if (!relative || escapes || path.isAbsolute(relative)) {
    throw new IssueWorktreeError(
      "outside-repository",
      `Worktree path "${wanted}" resolves to ${target}, which is not inside the repository ${root}; issue worktrees live inside it (default ${WORKTREES_DIR}/issue-<N>).`,
      { path: target },
    );
  }
  const first = relative.split(path.sep)[0];
  if (first === ".git") {
    throw new IssueWorktreeError(
      "outside-repository",
      `Worktree path "${wanted}" is inside the repository's .git directory.`,
      { path: target },
    );
  }
  // A worktree nested in another worktree (or a nested clone) would be committed into it.
  const parent = await resolveReal(path.dirname(target));
  let probe = parent;
  while (!(await isDirectory(probe))) probe = path.dirname(probe);
  const top = await tryGit(["rev-parse", "--show-toplevel"], { cwd: probe });
  const owner = top.exitCode === 0 ? await fs.realpath(top.stdout) : null;
  if (owner !== root) {
    throw new IssueWorktreeError(
      "outside-repository",
      `Worktree path "${wanted}" is inside ${owner ? `another working tree (${owner})` : "a directory git does not treat as part of the repository"}, not directly in ${root}.`,
      { path: target },
    );
  }
  return { target, relative: relative.split(path.sep).join("/") };
}

/** Keep issue worktrees out of the main checkout's `git status`, without touching .gitignore. */
async function excludeFromStatus(root: string, relative: string): Promise<void> {
  const file = path.resolve(
    root,
    await git(["rev-parse", "--git-path", "info/exclude"], { cwd: root }),
  );
  const pattern =
    relative === WORKTREES_DIR || relative.startsWith(`${WORKTREES_DIR}/`)
      ? `/${WORKTREES_DIR}/`
      : `/${relative}/`;
  let text = "";
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw error;
  }
  if (text.split(/\r?\n/).some((line) => line.trim() === pattern)) return;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const separator = text === "" || text.endsWith("\n") ? "" : "\n";
  await fs.appendFile(file, `${separator}# miyabi issue worktrees\n${pattern}\n`);
}

async function defaultBase(root: string): Promise<string> {
  const remote = await tryGit(["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"], {
    cwd: root,
  });
  const remoteHead = remote.stdout.trim();
  if (remote.exitCode === 0 && remoteHead && (await isCommit(root, remoteHead))) return remoteHead;
  const current = await tryGit(["symbolic-ref", "--quiet", "HEAD"], { cwd: root });
  const branch = current.stdout.trim();
  if (current.exitCode !== 0 || !branch) {
    throw new IssueWorktreeError(
      "invalid",
      `Cannot tell the default branch of ${root}: origin/HEAD is not set and HEAD is detached. Pass the base to branch from (for example main), or run \`git remote set-head origin --auto\`.`,
    );
  }
  if (!(await isCommit(root, branch))) {
    throw new IssueWorktreeError(
      "invalid",
      `The current branch ${shortBranch(branch)} of ${root} has no commits yet; make a first commit before creating issue worktrees.`,
    );
  }
  return branch;
}

async function checkBranchName(root: string, branch: string): Promise<void> {
  const ok =
    !branch.startsWith("-") &&
    (await tryGit(["check-ref-format", "--branch", branch], { cwd: root })).exitCode === 0;
  if (!ok) {
    throw new IssueWorktreeError("invalid", `"${branch}" is not a valid git branch name.`);
  }
}

async function describeOccupant(target: string): Promise<string> {
  // Symbolic links are already resolved here: this is what the path leads to.
  if (!(await isDirectory(target))) return "a file";
  const top = await tryGit(["rev-parse", "--show-toplevel"], { cwd: target });
  if (top.exitCode === 0 && (await fs.realpath(top.stdout)) === target)
    return "a working tree of another repository";
  const count = (await fs.readdir(target)).length;
  return `a directory with ${count} ${count === 1 ? "entry" : "entries"}`;
}

// ---------------------------------------------------------------------------------------------
// The API

export interface EnsureIssueWorktreeOptions {
  /** The repository (any directory in its working tree). */
  repoDir: string;
  issueNumber: number;
  /** Where the worktree lives, inside the repository; default `.worktrees/issue-<N>`. */
  path?: string;
  /** Default `miyabi/issue-<N>`. */
  branch?: string;
  /**
   * What a new branch starts from; default origin/HEAD when set, else the current branch. Not
   * used when the branch already exists: its commits are the issue's work so far.
   */
  base?: string;
  /**
   * Reuse a worktree that has uncommitted changes. Off by default: phases commit what they
   * change, so leftovers usually mean an interrupted run someone should look at.
   */
  allowDirty?: boolean;
}

export interface IssueWorktree {
  /** Absolute, symlinks resolved. */
  path: string;
  /** Relative to the repository's top directory, with `/` (e.g. ".worktrees/issue-7"). */
  relativePath: string;
  branch: string;
  /** False when an existing worktree was reused. */
  created: boolean;
  /** What a newly created branch started from; null when the branch already existed. */
  base: string | null;
}

/**
 * The worktree an issue's phases work in, on the issue's branch: created the first time,
 * reused afterwards. Anything unexpected at the path or on the branch is an error that
 * leaves everything as it was, never an overwrite.
 */
export async function ensureIssueWorktree(
  options: EnsureIssueWorktreeOptions,
): Promise<IssueWorktree> {
  const { issueNumber } = options;
  if (!Number.isSafeInteger(issueNumber) || issueNumber <= 0) {
    throw new IssueWorktreeError(
      "invalid",
      `Issue number must be a positive integer, got ${issueNumber}.`,
    );
  }
  const root = await repositoryRoot(options.repoDir);
  const branch = options.branch ?? issueBranchName(issueNumber);
  await checkBranchName(root, branch);
  if (options.base?.startsWith("-")) {
    throw new IssueWorktreeError("invalid", `"${options.base}" is not a valid base revision.`);
  }
  const { target, relative } = await worktreeTarget(
    root,
    options.path ?? `${WORKTREES_DIR}/issue-${issueNumber}`,
  );
  const branchRef = `refs/heads/${branch}`;
  const entries = await worktreeEntries(root);
  const registered = entries.find((e) => e.path === target);

  if (registered) {
    if (registered.prunable || !(await isDirectory(target))) {
      throw new IssueWorktreeError(
        "missing",
        `Worktree ${target} is registered in ${root} but its directory is missing; ${PRUNE_HINT}. Branch ${shortBranch(registered.branch) ?? branch} and its commits are kept.`,
        { path: target },
      );
    }
    // The directory may since have been replaced by something else (a fresh clone, say).
    const top = await tryGit(["rev-parse", "--show-toplevel"], { cwd: target });
    const belongs =
      top.exitCode === 0 &&
      (await fs.realpath(top.stdout)) === target &&
      (await commonDir(target)) === (await commonDir(root));
    if (!belongs) {
      throw new IssueWorktreeError(
        "not-a-worktree",
        `${target} is registered as a worktree of ${root}, but the directory there is not it any more. Move the directory away and ${PRUNE_HINT}.`,
        { path: target },
      );
    }
    if (registered.branch !== branchRef) {
      const actual = registered.branch
        ? `branch ${shortBranch(registered.branch)}`
        : "a detached HEAD";
      throw new IssueWorktreeError(
        "wrong-branch",
        `Worktree ${target} is on ${actual}, not ${branch}. Switch it back (git -C ${target} switch ${branch}) or remove the worktree.`,
        { path: target },
      );
    }
    const files = await changedFiles(target);
    if (files.length > 0 && !options.allowDirty) {
      throw new IssueWorktreeError(
        "dirty",
        `Worktree ${target} has uncommitted changes from an earlier run:\n${listFiles(files)}\nCommit or discard them, or allow reusing a dirty worktree.`,
        { path: target, files },
      );
    }
    await excludeFromStatus(root, relative);
    return { path: target, relativePath: relative, branch, created: false, base: null };
  }

  if (await exists(target)) {
    const empty = (await isDirectory(target)) && (await fs.readdir(target)).length === 0;
    // git fills an empty directory happily, and there is nothing in it to lose.
    if (!empty) {
      throw new IssueWorktreeError(
        "not-a-worktree",
        `${target} exists but is not a worktree of ${root} (it is ${await describeOccupant(target)}); nothing was changed. Move it away, or choose another worktree path.`,
        { path: target },
      );
    }
  }
  const holder = entries.find((e) => e.branch === branchRef);
  if (holder) {
    const hint = holder.prunable
      ? `; that directory is gone: ${PRUNE_HINT}`
      : `; remove that worktree or switch it to another branch first`;
    throw new IssueWorktreeError(
      "branch-in-use",
      `Branch ${branch} is already checked out in ${holder.main ? "the main working tree" : "another worktree"} at ${holder.path}${hint}.`,
      { path: holder.path },
    );
  }

  let args: string[];
  let base: string | null = null;
  if (await refExists(root, branchRef)) {
    // The branch outlived its worktree (removed or pruned): carry on from its commits.
    args = ["worktree", "add", "--", target, branch];
  } else {
    const remoteBranch = `refs/remotes/origin/${branch}`;
    let track = false;
    if (options.base !== undefined) {
      base = options.base;
    } else if (await isCommit(root, remoteBranch)) {
      // The work was pushed from elsewhere (CI): continue it rather than fork from main.
      base = remoteBranch;
      track = true;
    } else {
      base = await defaultBase(root);
    }
    if (!(await isCommit(root, base))) {
      throw new IssueWorktreeError(
        "invalid",
        `Base "${base}" is not a commit in ${root}; pass an existing branch, tag or commit.`,
      );
    }
    // Without --no-track a branch made from origin/main would pull from and push to main.
    args = ["worktree", "add", track ? "--track" : "--no-track", "-b", branch, "--", target, base];
  }
  await git(args, { cwd: root });
  await excludeFromStatus(root, relative);
  return { path: target, relativePath: relative, branch, created: true, base };
}

export interface CommitPhaseOptions {
  /** The top directory of the worktree to commit. */
  worktree: string;
  message: string;
  /** Default: git's configured identity, else DEFAULT_AUTHOR. Used as committer too. */
  author?: { name: string; email: string };
  /**
   * Run the pre-commit and commit-msg hooks. Off by default: the commit records what an agent
   * did, and a hook that fails or rewrites files would lose or alter that record.
   */
  verify?: boolean;
  /** Protected paths (PROTECTED_PATHS) to commit all the same, by name. */
  allowProtectedPaths?: readonly string[];
}

export interface CommitResult {
  /** The new commit, or null when nothing (else) changed. */
  sha: string | null;
  /** Changed protected paths that were not committed. */
  leftOut: string[];
}

/**
 * Identity variables for the roles (author, committer) git has no explicit identity for, so
 * commits (and rebases, `git am`) work on a fresh CI runner: `author` when given, else
 * DEFAULT_AUTHOR for a role git cannot name.
 */
export async function identityEnv(
  cwd: string,
  author?: { name: string; email: string },
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const role of ["AUTHOR", "COMMITTER"] as const) {
    const who =
      author ??
      ((await tryGit(["-c", "user.useConfigOnly=true", "var", `GIT_${role}_IDENT`], { cwd }))
        .exitCode === 0
        ? undefined
        : DEFAULT_AUTHOR);
    if (!who) continue;
    env[`GIT_${role}_NAME`] = who.name;
    env[`GIT_${role}_EMAIL`] = who.email;
  }
  return env;
}

/**
 * The message of a phase's commit: phase, agent and issue, with the session id in the body.
 * With `wip` (why the phase did not finish) it is marked as work in progress, so nobody takes
 * it for a finished phase.
 */
export function phaseCommitMessage(session: Session, options: { wip?: string } = {}): string {
  const issue = session.context.issueNumber === null ? "" : ` for #${session.context.issueNumber}`;
  const subject = `${session.context.currentPhase}: ${session.agentName}${issue}`;
  if (options.wip === undefined) return `${subject}\n\nMiyabi session ${session.id}`;
  return `WIP ${subject}\n\nWork in progress, kept because the phase did not finish: ${options.wip}\n\nMiyabi session ${session.id}`;
}

/**
 * Commit everything that changed in a worktree (new, modified and deleted files) as one
 * commit, except protected paths (PROTECTED_PATHS) not allowed by name. Returns its sha, or
 * null when nothing changed (no empty commits), and the protected paths it left out.
 */
export async function commitPhase(options: CommitPhaseOptions): Promise<CommitResult> {
  const wanted = path.resolve(options.worktree);
  if (!options.message.trim()) {
    throw new IssueWorktreeError("invalid", "A phase commit needs a non-empty message.");
  }
  if (!(await isDirectory(wanted))) {
    throw new IssueWorktreeError("missing", `Worktree ${wanted} does not exist.`, {
      path: wanted,
    });
  }
  const dir = await fs.realpath(wanted);
  const top = await tryGit(["rev-parse", "--show-toplevel"], { cwd: dir });
  if (top.exitCode !== 0) {
    throw new IssueWorktreeError("not-a-worktree", `${dir} is not a git working tree.`, {
      path: dir,
    });
  }
  // `git add -A` stages the whole working tree, so anything but its top would commit more
  // than the directory we were given.
  const realTop = await fs.realpath(top.stdout);
  if (realTop !== dir) {
    throw new IssueWorktreeError(
      "not-a-worktree",
      `${dir} is inside the working tree ${realTop}, not its top; pass the worktree's top directory.`,
      { path: dir },
    );
  }
  const leftOut = await stageUnprotected(dir, options.allowProtectedPaths ?? []);
  const staged = await tryGit(["diff", "--cached", "--quiet"], { cwd: dir });
  if (staged.exitCode === 0) return { sha: null, leftOut };
  if (staged.exitCode !== 1) {
    throw new WorktreeError(`git diff --cached failed in ${dir}: ${staged.stderr.trim()}`);
  }
  const env = await identityEnv(dir, options.author);
  const args = ["commit", "--quiet", `--message=${options.message}`];
  if (!options.verify) args.push("--no-verify");
  await git(args, { cwd: dir, env });
  return { sha: await git(["rev-parse", "HEAD"], { cwd: dir }), leftOut };
}

/**
 * Commits sessions' work in one worktree, one at a time: agents of one step share the worktree,
 * and their commits must not race for git's index lock. `wip` is null for a finished phase,
 * else why it did not finish (a work-in-progress commit).
 */
export function sessionCommitter(
  worktree: string,
  options: { allowProtectedPaths?: readonly string[] } = {},
): (session: Session, wip: string | null) => Promise<CommitResult> {
  let queue: Promise<unknown> = Promise.resolve();
  return (session, wip) => {
    const message = phaseCommitMessage(session, wip === null ? {} : { wip });
    const next = queue.then(() =>
      commitPhase({ worktree, message, allowProtectedPaths: options.allowProtectedPaths }),
    );
    // The next commit waits for this one, whether or not it worked; the caller sees its error.
    queue = next.catch(() => undefined);
    return next;
  };
}

export interface IssueWorktreeInfo {
  /** Absolute. */
  path: string;
  /** Short branch name, or null when detached. */
  branch: string | null;
  /** From a `miyabi/issue-<N>` branch, else an `issue-<N>` directory name. */
  issueNumber: number | null;
  /** Commit checked out. */
  head: string;
  /** Uncommitted changes or untracked files (false when the directory is missing). */
  dirty: boolean;
  /** The directory is gone; pruneWorktrees forgets it. */
  prunable: boolean;
  locked: boolean;
}

function issueNumberOf(branch: string | null, dir: string): number | null {
  const match =
    /^miyabi\/issue-(\d+)$/.exec(branch ?? "") ?? /^issue-(\d+)$/.exec(path.basename(dir));
  return match?.[1] ? Number(match[1]) : null;
}

/** The repository's linked worktrees (the main working tree is not one of them). */
export async function listIssueWorktrees(repoDir: string): Promise<IssueWorktreeInfo[]> {
  const root = await repositoryRoot(repoDir);
  const entries = (await worktreeEntries(root)).filter((e) => !e.main && !e.bare);
  return Promise.all(
    entries.map(async (e) => {
      const present = !e.prunable && (await isDirectory(e.path));
      const branch = shortBranch(e.branch);
      return {
        path: e.path,
        branch,
        issueNumber: issueNumberOf(branch, e.path),
        head: e.head ?? "",
        dirty: present ? (await changedFiles(e.path)).length > 0 : false,
        prunable: !present,
        locked: e.locked,
      };
    }),
  );
}

export interface RemoveIssueWorktreeOptions {
  repoDir: string;
  /** The worktree, absolute or relative to the repository's top directory. */
  path: string;
  /** Remove it even with uncommitted changes, which are lost. */
  force?: boolean;
}

/** Remove a linked worktree and its directory. Its branch, with the commits, is kept. */
export async function removeIssueWorktree(options: RemoveIssueWorktreeOptions): Promise<void> {
  const root = await repositoryRoot(options.repoDir);
  const target = await resolveReal(path.resolve(root, options.path));
  const entry = (await worktreeEntries(root)).find((e) => e.path === target);
  if (!entry || entry.bare) {
    throw new IssueWorktreeError(
      "not-a-worktree",
      `${target} is not a worktree of ${root}; \`git worktree list\` shows the ones there are.`,
      { path: target },
    );
  }
  if (entry.main) {
    throw new IssueWorktreeError(
      "invalid",
      `${target} is the repository's main working tree; only linked worktrees can be removed.`,
      { path: target },
    );
  }
  if (!options.force && !entry.prunable && (await isDirectory(target))) {
    const files = await changedFiles(target);
    if (files.length > 0) {
      throw new IssueWorktreeError(
        "dirty",
        `Worktree ${target} has uncommitted changes, which removing it would lose:\n${listFiles(files)}\nCommit them, or remove it with force.`,
        { path: target, files },
      );
    }
  }
  await git(["worktree", "remove", ...(options.force ? ["--force"] : []), "--", target], {
    cwd: root,
  });
}

/** Forget worktrees whose directories are gone (`git worktree prune`); returns their paths. */
export async function pruneWorktrees(repoDir: string): Promise<string[]> {
  const root = await repositoryRoot(repoDir);
  const before = await worktreeEntries(root);
  await git(["worktree", "prune"], { cwd: root });
  const after = new Set((await worktreeEntries(root)).map((e) => e.path));
  return before.filter((e) => !after.has(e.path)).map((e) => e.path);
}
