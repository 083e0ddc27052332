import fs from "node:fs/promises";
import path from "node:path";
import type { Session, SessionStore } from "@miyabi/core";
import { issueBranchName, tryGit } from "@miyabi/runner";
import { messageOf, PullRequestError, WorkBranchError } from "./errors.js";
import type { GitHubApi, Logger, PullRequest } from "./ports.js";
import { checkPatch } from "./protected-paths.js";
import { upsertPullRequest } from "./pull-request.js";
import {
  applyPatches,
  checkoutWorkBranch,
  excludeFromCommits,
  headCommit,
  patchSeries,
  pushWorkBranch,
  remoteDefaultBranch,
} from "./work-branch.js";

/*
 * The code side of a phase: the issue's branch with the earlier phases' work before the agent
 * runs, and this phase's commits sent on (pushed, or carried as a patch) after.
 */

export interface Work {
  workspace: string;
  branch: string;
  /** Push this job's commits: always, or with push: false only in the pull request phase. */
  push: boolean;
  /** The pull request phase: open or update the pull request after pushing. */
  final: boolean;
  /** HEAD before the phase ran: where this job's patch starts when it does not push. */
  base: string;
  /** Where jobs that do not push leave their patches (store.writePatch): it travels with it. */
  store: SessionStore;
  /** A private directory for patch files handed to git. */
  scratch: string;
  /** git's environment for talking to origin (the action's token). */
  auth: Record<string, string>;
}

/**
 * The checkout's `.miyabi/` (prompt templates) copied aside before the work branch replaces the
 * default branch's tree: the runner reads templates from here (trustedDir), never from files
 * an agent could have written.
 */
export async function snapshotTrusted(workspace: string, dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const source = path.join(workspace, ".miyabi");
  const stat = await fs.lstat(source).catch(() => undefined);
  if (stat?.isDirectory()) {
    await fs.cp(source, path.join(dir, ".miyabi"), { recursive: true, verbatimSymlinks: true });
  }
  return dir;
}

export interface PrepareOptions {
  workspace: string;
  store: SessionStore;
  scratch: string;
  issueNumber: number;
  push: boolean;
  final: boolean;
  auth: Record<string, string>;
  /** Protected paths the workflow lets patches change. */
  allowProtectedPaths: readonly string[];
  /** Directories inside the checkout to keep out of every commit (the store's copy). */
  exclude: string[];
  log: Logger;
}

/**
 * Put the checkout on the issue's branch with the earlier phases' work in it: from origin, or
 * with push: false by applying the patches the earlier jobs left in the store, each checked
 * for protected paths first.
 */
export async function prepareWork(o: PrepareOptions): Promise<Work> {
  const { workspace, auth } = o;
  const branch = issueBranchName(o.issueNumber);
  await excludeFromCommits({ workspace, dirs: o.exclude });
  await checkoutWorkBranch({ workspace, branch, remote: o.push, auth });
  if (!o.push) {
    // Each patch as the store recorded it (readPatch checks the digest the action recorded),
    // and refused when it touches a protected path, before any is applied.
    await fs.mkdir(o.scratch, { recursive: true });
    const files: string[] = [];
    for (const session of await o.store.issueSessions(o.issueNumber)) {
      const text = await o.store.readPatch(session.id);
      if (text === null) continue;
      const file = path.join(o.scratch, `${session.id}.patch`);
      await fs.writeFile(file, text);
      await checkPatch(workspace, file, o.allowProtectedPaths);
      files.push(file);
    }
    await applyPatches({ workspace, files });
    o.log.info(`Applied ${files.length} earlier phases' patches from the session store.`);
  }
  o.log.info(`Working on ${branch}.`);
  return {
    workspace,
    branch,
    push: o.push || o.final,
    final: o.final,
    base: await headCommit(workspace),
    store: o.store,
    scratch: o.scratch,
    auth,
  };
}

export interface Published {
  /** This job pushed the work branch. */
  pushed?: boolean;
  pullRequest?: PullRequest;
  /** The final phase found no change against the base: there is nothing to propose. */
  nothingToPropose?: boolean;
  /** Why the work did not travel; reported with the phase's result, then thrown. */
  error?: unknown;
}

export interface PublishOptions {
  work: Work;
  github: GitHubApi;
  log: Logger;
  issue: { number: number; title: string };
  /** The default branch (from the event), else origin's HEAD. */
  defaultBranch: string | undefined;
  /** Every session of the issue, and the ones this job ran. */
  sessions: Session[];
  mine: Session[];
  /** Open or update the pull request in its phase (not after a failed phase). */
  openPullRequest: boolean;
  draft: boolean;
  /** Who asked for the work, requested as reviewer of a new pull request. */
  reviewer: string | undefined;
}

/** Nothing between the base and the branch: GitHub would answer 422 "No commits between". */
async function nothingBetween(work: Work, base: string): Promise<boolean> {
  const r = await tryGit(["rev-list", "--count", `refs/remotes/origin/${base}..HEAD`], {
    cwd: work.workspace,
  });
  return r.exitCode === 0 && r.stdout.trim() === "0";
}

const NO_COMMITS = /no commits between/i;

/**
 * Send a phase's commits on: push them (and open the pull request in its phase), or with
 * push: false leave them as a patch in the store.
 */
export async function publishWork(o: PublishOptions): Promise<Published> {
  const { work, log } = o;
  const first = o.mine[0];
  if (!first) return {};
  try {
    if (!work.push) {
      const series = await patchSeries({ workspace: work.workspace, base: work.base });
      if (series === null) {
        log.info("The phase changed no files.");
        return {};
      }
      const { sha256 } = await work.store.writePatch(first.id, series);
      log.info(
        `Saved the phase's commits as a patch in the session store (sha256 ${sha256.slice(0, 12)}), for the next job.`,
      );
      return {};
    }
    if (!o.openPullRequest && (await headCommit(work.workspace)) === work.base) {
      log.info("The phase committed nothing: there is nothing to push.");
      return {};
    }
    await pushWorkBranch({ workspace: work.workspace, branch: work.branch, log, auth: work.auth });
    const pushed = true;
    if (!work.final || !o.openPullRequest) return { pushed };
    const base = o.defaultBranch ?? (await remoteDefaultBranch(work.workspace, work.auth));
    if (!base) {
      throw new WorkBranchError(
        "push",
        "Neither the event nor origin names the default branch, so the pull request has no base.",
      );
    }
    if (await nothingBetween(work, base)) return { pushed, nothingToPropose: true };
    try {
      const pullRequest = await upsertPullRequest({
        github: o.github,
        issue: o.issue,
        branch: work.branch,
        base,
        sessions: o.sessions,
        current: o.mine.map((s) => s.id),
        draft: o.draft,
        reviewer: o.reviewer,
        log,
      });
      log.info(`Pull request #${pullRequest.number}: ${pullRequest.url}`);
      return { pushed, pullRequest };
    } catch (error) {
      if (NO_COMMITS.test(messageOf(error))) return { pushed, nothingToPropose: true };
      throw new PullRequestError(work.branch, messageOf(error), { cause: error });
    }
  } catch (error) {
    return { error };
  }
}
