import fs from "node:fs/promises";
import path from "node:path";
import { git, identityEnv, tryGit } from "@miyabi/runner";
import { messageOf, PushRejectedError, WorkBranchError } from "./errors.js";
import type { Logger } from "./ports.js";

/*
 * The git side of carrying an issue's work from job to job: every job starts from a fresh
 * checkout, so the work lives on the branch on origin (or, when jobs may not push, in
 * patches inside the session store). Every command that talks to origin gets the action's token
 * through `auth` (see credentials.ts); the checkout keeps none.
 */

const REMOTE = "origin";
const CREDENTIALS_HINT =
  "the workflow needs `permissions: contents: write` (the action pushes with its push-token input, else github-token)";

/** A push refused only because the branch moved on: worth one rebase and retry. */
const OUTDATED = /^!\t.*\t\[rejected\] \((fetch first|non-fast-forward)\)$/m;

export interface BranchOptions {
  /** The checkout's top directory (GITHUB_WORKSPACE). */
  workspace: string;
  /** The branch, e.g. miyabi/issue-7. */
  branch: string;
  /** Environment giving git the token for origin (gitAuthEnv). */
  auth: Record<string, string>;
}

/**
 * Git's own words, short: conflict lines when there are any; never its hints, which tell a
 * person at a terminal what to type next (the action has cleaned up already).
 */
function detailOf(result: { stderr: string; stdout: string }): string {
  const lines = `${result.stdout}\n${result.stderr}`
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("hint:"));
  const conflicts = lines.filter((line) => line.startsWith("CONFLICT"));
  return (conflicts.length > 0 ? conflicts : lines.slice(-2)).join("; ");
}

/**
 * Keep directories inside the checkout (the session store and its scratch siblings) out of
 * every commit: the runner's commitPhase stages the whole working tree.
 */
export async function excludeFromCommits(o: { workspace: string; dirs: string[] }): Promise<void> {
  const file = path.resolve(
    o.workspace,
    await git(["rev-parse", "--git-path", "info/exclude"], { cwd: o.workspace }),
  );
  const existing = await fs.readFile(file, "utf8").catch(() => "");
  const lines = existing.split("\n");
  const wanted = o.dirs
    .map((dir) => path.relative(o.workspace, dir).split(path.sep).join("/"))
    .filter((rel) => rel !== "" && !rel.startsWith(".."))
    .flatMap((rel) => [`/${rel}/`, `/${rel}.merge-*/`])
    .filter((line) => !lines.includes(line));
  if (wanted.length === 0) return;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const sep = existing === "" || existing.endsWith("\n") ? "" : "\n";
  await fs.appendFile(file, `${sep}${wanted.join("\n")}\n`);
}

async function currentBranch(workspace: string): Promise<string | undefined> {
  const r = await tryGit(["symbolic-ref", "--quiet", "--short", "HEAD"], { cwd: workspace });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

async function switchTo(workspace: string, args: string[]): Promise<void> {
  const r = await tryGit(["switch", ...args], { cwd: workspace });
  if (r.exitCode !== 0) {
    throw new WorkBranchError(
      "checkout",
      `Could not check out the work branch (git switch ${args.join(" ")}): ${detailOf(r)}. The checkout must be clean; remove what an earlier step left in it.`,
    );
  }
}

/**
 * Put the checkout on the branch. With `remote`, the branch continues from origin when
 * it exists there, else starts at HEAD; without, it is a local branch at HEAD (nothing is read
 * from or written to origin). A checkout already on the branch is left as it is.
 */
export async function checkoutWorkBranch(o: BranchOptions & { remote: boolean }): Promise<void> {
  const { workspace, branch } = o;
  if ((await currentBranch(workspace)) === branch) return;
  if (!o.remote) return switchTo(workspace, ["-C", branch]);
  const ref = `refs/heads/${branch}`;
  const found = await tryGit(["ls-remote", "--exit-code", "--heads", REMOTE, ref], {
    cwd: workspace,
    env: o.auth,
  });
  if (found.exitCode === 2) return switchTo(workspace, ["-C", branch]);
  if (found.exitCode !== 0) {
    throw new WorkBranchError(
      "checkout",
      `Could not look up ${branch} on ${REMOTE}: ${detailOf(found)}. Check that the job checked out the repository with actions/checkout and that the github-token input may read it.`,
    );
  }
  const fetched = await tryGit(
    // No --depth: a shallow checkout then gets the branch's whole history down to what it has.
    ["fetch", "--no-tags", REMOTE, `+${ref}:refs/remotes/${REMOTE}/${branch}`],
    { cwd: workspace, env: o.auth },
  );
  if (fetched.exitCode !== 0) {
    throw new WorkBranchError(
      "checkout",
      `Could not fetch ${branch} from ${REMOTE}: ${detailOf(fetched)}. Re-run the job; if it persists, check that the github-token input may read the repository.`,
    );
  }
  // -C: a runner that kept its workspace may still have the branch; origin's is the truth.
  await switchTo(workspace, ["-C", branch, "--track", `${REMOTE}/${branch}`]);
}

async function pushOnce(o: BranchOptions) {
  return tryGit(["push", "--porcelain", REMOTE, `HEAD:refs/heads/${o.branch}`], {
    cwd: o.workspace,
    env: o.auth,
  });
}

/**
 * Push HEAD to the branch on origin, never forcing. When someone else pushed meanwhile, rebase
 * over their commits once and push again; a conflict or a second race is an error.
 */
export async function pushWorkBranch(o: BranchOptions & { log: Logger }): Promise<void> {
  const { workspace, branch, log } = o;
  let pushed = await pushOnce(o);
  if (pushed.exitCode !== 0 && OUTDATED.test(pushed.stdout)) {
    log.info(`${branch} moved on ${REMOTE} meanwhile; rebasing this phase's commits over it.`);
    const env = { ...(await identityEnv(workspace)), ...o.auth };
    const pulled = await tryGit(["pull", "--rebase", "--no-tags", REMOTE, branch], {
      cwd: workspace,
      env,
    });
    if (pulled.exitCode !== 0) {
      await tryGit(["rebase", "--abort"], { cwd: workspace });
      throw new PushRejectedError(
        branch,
        `its new commits on ${REMOTE} conflict with this phase's, so they could not be rebased (${detailOf(pulled)})`,
      );
    }
    pushed = await pushOnce(o);
    if (pushed.exitCode !== 0 && OUTDATED.test(pushed.stdout)) {
      throw new PushRejectedError(branch, "it moved again while this job rebased over it");
    }
  }
  if (pushed.exitCode !== 0) {
    throw new WorkBranchError(
      "push",
      `Could not push ${branch} to ${REMOTE}: ${detailOf(pushed)}. To push, ${CREDENTIALS_HINT}; or set push: false to carry the work in the session store until the pull-request phase.`,
    );
  }
  log.info(`Pushed ${branch} to ${REMOTE}.`);
}

/** HEAD's commit. */
export function headCommit(workspace: string): Promise<string> {
  return git(["rev-parse", "HEAD"], { cwd: workspace });
}

/** The commits after `base` as a patch series, for a later job to apply; null when none. */
export async function patchSeries(o: { workspace: string; base: string }): Promise<string | null> {
  const series = await git(["format-patch", "--stdout", "--binary", `${o.base}..HEAD`], {
    cwd: o.workspace,
  });
  return series.trim() === "" ? null : `${series}\n`;
}

/** Apply earlier jobs' patch series in order, as commits (their authors and messages kept). */
export async function applyPatches(o: { workspace: string; files: string[] }): Promise<void> {
  const env = await identityEnv(o.workspace);
  for (const file of o.files) {
    const applied = await tryGit(["am", "--3way", "--keep-cr", file], { cwd: o.workspace, env });
    if (applied.exitCode !== 0) {
      await tryGit(["am", "--abort"], { cwd: o.workspace });
      throw new WorkBranchError(
        "patch",
        `An earlier phase's changes (${path.basename(file)}) do not apply to this checkout: ${detailOf(applied)}. The default branch may have changed underneath them; re-run the pipeline from its first phase.`,
      );
    }
  }
}

/** The remote's default branch, as its HEAD names it. */
export async function remoteDefaultBranch(
  workspace: string,
  auth: Record<string, string>,
): Promise<string | undefined> {
  try {
    const out = await git(["ls-remote", "--symref", REMOTE, "HEAD"], { cwd: workspace, env: auth });
    return /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out)?.[1];
  } catch (error) {
    throw new WorkBranchError(
      "checkout",
      `Could not ask ${REMOTE} for its default branch: ${messageOf(error)}.`,
      { cause: error },
    );
  }
}
