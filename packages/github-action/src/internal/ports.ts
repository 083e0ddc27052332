import type { IssueData, issueStanding, loadPipeline, runPhase } from "@miyabi/runner";

/*
 * The seams between the job logic and the outside world. `run()` fills them with
 * @actions/cache, Octokit and @actions/core; tests fill them with fakes.
 */

/** The Actions cache, with @actions/cache's contract: misses and most failures do not throw. */
export interface Cache {
  /** The key that matched, or undefined on a miss or a service error (logged, not thrown). */
  restore(paths: string[], primaryKey: string, restoreKeys: string[]): Promise<string | undefined>;
  /** The cache id, or -1 when the entry was not saved (logged, not thrown); throws on some errors. */
  save(paths: string[], key: string): Promise<number>;
}

export interface IssueComment {
  id: number;
  body: string;
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
export interface GitHubApi {
  getPermission(login: string): Promise<RepoPermission>;
  getIssue(issueNumber: number): Promise<IssueData & { labels: string[] }>;
  listComments(issueNumber: number): Promise<IssueComment[]>;
  createComment(issueNumber: number, body: string): Promise<void>;
  updateComment(commentId: number, body: string): Promise<void>;
  addLabels(issueNumber: number, labels: string[]): Promise<void>;
  /** Resolves as well when the issue does not have the label. */
  removeLabel(issueNumber: number, label: string): Promise<void>;
  /** The open pull requests from `branch` of this repository. */
  listOpenPulls(branch: string): Promise<PullRequest[]>;
  createPull(pull: PullRequestContent & { head: string; base: string }): Promise<PullRequest>;
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
