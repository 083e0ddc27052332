import type { IssueData, issueStanding, loadPipeline, runPhase } from "@miyabi/runner";
import type { IterateApi } from "./iterate-api.js";
import type { Compression } from "./safe-extract.js";

/*
 * The seams between the job logic and the outside world. `run()` fills them with
 * @actions/cache, Octokit and @actions/core; tests fill them with fakes.
 */

/** A cache entry's archive, downloaded but not extracted: it is untrusted until checked. */
export interface DownloadedEntry {
  /** The key that matched. */
  key: string;
  archive: string;
  compression: Compression;
}

export type SaveResult = { ok: true } | { ok: false; cause: string };

/** The Actions cache. */
export interface Cache {
  /**
   * Download the archive of the entry for `paths` saved under `primaryKey` (else the newest
   * whose key starts with a restore key) into `dir`; undefined on a miss. Service failures throw.
   */
  download(
    paths: string[],
    primaryKey: string,
    restoreKeys: string[],
    dir: string,
  ): Promise<DownloadedEntry | undefined>;
  /** Save `paths` under `key`; when the service does not take it, why (the root cause first). */
  save(paths: string[], key: string): Promise<SaveResult>;
}

export interface IssueComment {
  id: number;
  body: string;
  /** The login that wrote it. */
  author: string;
}

export interface RepoPermission {
  /** GitHub's coarse level: admin, write, read or none (maintain and write roles read "write"). */
  permission: string;
  /** The role itself: admin, maintain, write, triage, read or a custom role's name. */
  role: string;
}

export interface PullRequest {
  number: number;
  url: string;
}

export interface PullRequestContent {
  title: string;
  body: string;
}

/** The GitHub REST calls the action makes, all on the workflow's repository. */
export interface GitHubApi extends IterateApi {
  getPermission(login: string): Promise<RepoPermission>;
  getIssue(issueNumber: number): Promise<IssueData & { labels: string[] }>;
  listComments(issueNumber: number): Promise<IssueComment[]>;
  createComment(issueNumber: number, body: string): Promise<Omit<IssueComment, "body">>;
  updateComment(commentId: number, body: string): Promise<void>;
  addLabels(issueNumber: number, labels: string[]): Promise<void>;
  /** Resolves as well when the issue does not have the label. */
  removeLabel(issueNumber: number, label: string): Promise<void>;
  /** The open pull requests from `branch` of this repository. */
  listOpenPulls(branch: string): Promise<PullRequest[]>;
  createPull(
    pull: PullRequestContent & { head: string; base: string; draft?: boolean },
  ): Promise<PullRequest>;
  updatePull(pullNumber: number, pull: PullRequestContent): Promise<PullRequest>;
}

export interface Logger {
  info(message: string): void;
  /** An annotation shown on the run's summary page. */
  notice(message: string): void;
  warning(message: string): void;
  /** Fold what `fn` logs into one collapsible group. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface Summary {
  /** Append Markdown to the job summary. */
  write(markdown: string): Promise<void>;
}

/** What the action uses of @miyabi/runner. */
export interface Runner {
  loadPipeline: typeof loadPipeline;
  issueStanding: typeof issueStanding;
  runPhase: typeof runPhase;
}
