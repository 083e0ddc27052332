import type { getOctokit } from "@actions/github";
import type { ReviewComment } from "./triggers.js";

/*
 * The GitHub REST calls iteration adds (comments and reviews on the pipeline's pull request,
 * reactions, reviewers, dispatching the next phase). To be folded into the GitHubApi port.
 */

export interface PullInfo {
  number: number;
  state: "open" | "closed";
  headRef: string;
  /** `owner/name` of the head branch's repository; null when the fork was deleted. */
  headRepo: string | null;
  baseRepo: string;
  author: string;
}

export type ReactionContent = "eyes" | "rocket" | "confused" | "+1";

export interface IterateApi {
  getPull(pullNumber: number): Promise<PullInfo>;
  /** The line comments of one review, with file and line. */
  listReviewComments(pullNumber: number, reviewId: number): Promise<ReviewComment[]>;
  addReaction(commentId: number, content: ReactionContent): Promise<void>;
  requestReviewers(pullNumber: number, logins: string[]): Promise<void>;
  /** Starts `workflow` (its file name or id) on `ref` with string inputs (needs actions: write). */
  dispatchWorkflow(workflow: string, ref: string, inputs: Record<string, string>): Promise<void>;
}

type Octokit = ReturnType<typeof getOctokit>;

export function octokitIterateApi(octokit: Octokit, owner: string, repo: string): IterateApi {
  const where = { owner, repo };
  return {
    async getPull(pull_number) {
      const { data } = await octokit.rest.pulls.get({ ...where, pull_number });
      return {
        number: data.number,
        state: data.state === "closed" ? "closed" : "open",
        headRef: data.head.ref,
        headRepo: data.head.repo?.full_name ?? null,
        baseRepo: data.base.repo.full_name,
        author: data.user.login,
      };
    },
    async listReviewComments(pull_number, review_id) {
      const comments = await octokit.paginate(octokit.rest.pulls.listCommentsForReview, {
        ...where,
        pull_number,
        review_id,
        per_page: 100,
      });
      return comments.map((c) => ({
        path: c.path,
        line: c.line ?? c.original_line ?? null,
        body: c.body,
      }));
    },
    async addReaction(comment_id, content) {
      await octokit.rest.reactions.createForIssueComment({ ...where, comment_id, content });
    },
    async requestReviewers(pull_number, reviewers) {
      await octokit.rest.pulls.requestReviewers({ ...where, pull_number, reviewers });
    },
    async dispatchWorkflow(workflow_id, ref, inputs) {
      await octokit.rest.actions.createWorkflowDispatch({ ...where, workflow_id, ref, inputs });
    },
  };
}
