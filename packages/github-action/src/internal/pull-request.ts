import { type Session, sessionsMarkdown } from "@miyabi/core";
import { sanitizeUserText } from "@miyabi/runner";
import { messageOf } from "./errors.js";
import type { GitHubApi, Logger, PullRequest } from "./ports.js";

export interface PullRequestOptions {
  github: GitHubApi;
  issue: { number: number; title: string };
  /** The work branch (head) and the branch it merges into (base). */
  branch: string;
  base: string;
  /** Every session of the issue, oldest first. */
  sessions: Session[];
  /** Ids of the sessions the final job ran. */
  current: readonly string[];
  /** Open a new pull request as a draft. */
  draft?: boolean;
  /** Who asked for the work: requested as reviewer of a new pull request (not bots). */
  reviewer?: string;
  log: Logger;
}

/** Links the issue (merging closes it) and shows how the work came about and what it cost. */
export function pullRequestBody(
  o: Pick<PullRequestOptions, "issue" | "branch" | "sessions" | "current">,
): string {
  return [
    `Closes #${o.issue.number}`,
    `The Miyabi pipeline's agents wrote this on \`${o.branch}\`, one commit per phase.`,
    sessionsMarkdown(o.sessions, o.current),
  ].join("\n\n");
}

/**
 * Open the pull request from the work branch, or refresh the one already open for it (a
 * re-run of the final phase), so an issue never has two.
 */
export async function upsertPullRequest(o: PullRequestOptions): Promise<PullRequest> {
  // The issue's author wrote the title: no hidden text travels into the pull request.
  const title = `Miyabi: ${sanitizeUserText(o.issue.title)}`;
  const content = { title, body: pullRequestBody(o) };
  const [open] = await o.github.listOpenPulls(o.branch);
  if (open) return o.github.updatePull(open.number, content);
  const created = await o.github.createPull({
    ...content,
    head: o.branch,
    base: o.base,
    draft: o.draft ?? false,
  });
  const reviewer = o.reviewer;
  if (reviewer && !reviewer.endsWith("[bot]")) {
    try {
      await o.github.requestReviewers(created.number, [reviewer]);
    } catch (error) {
      // The pull request exists; GitHub refuses its own author or a non-collaborator as reviewer.
      o.log.warning(
        `Could not request @${reviewer}'s review on pull request #${created.number}: ${messageOf(error)}.`,
      );
    }
  }
  return created;
}
