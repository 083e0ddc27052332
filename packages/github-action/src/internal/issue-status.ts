import { createHmac } from "node:crypto";
import type { PipelineDefinition, PipelineStep } from "@miyabi/runner";
import { messageOf } from "./errors.js";
import type { GitHubApi, IssueComment, Logger } from "./ports.js";
import { commentMarker } from "./report.js";

/*
 * The issue's status as people see it: one state label of the pipeline, and one progress
 * comment the action keeps editing. Reporting must not lose a phase that ran, so a failed
 * comment or label is a warning.
 */

export const DONE_LABEL = "miyabi:done";
export const FAILED_LABEL = "miyabi:failed";
export const PARTIAL_LABEL = "miyabi:partial";
export const OVER_BUDGET_LABEL = "miyabi:over-budget";
/** The review gate ran out of rounds: a person decides. */
export const NEEDS_HUMAN_LABEL = "miyabi:needs-human";
const NEEDS_ISSUES_WRITE = "(the github-token needs issues: write)";

export const stateLabel = (step: PipelineStep) => `miyabi:${step.id}`;

async function bestEffort(log: Logger, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    log.warning(`Could not ${what}: ${messageOf(error)}.`);
  }
}

export interface IssueStatusOptions {
  github: GitHubApi;
  log: Logger;
  issueNumber: number;
  /** "owner/repo": part of what the comment's signature covers. */
  repository: string;
  /**
   * A secret only the workflow holds (the Claude credential), stable from job to job: the
   * progress comment carries a keyed digest of its author, so a stranger's comment that copies
   * the marker is never taken for the action's own.
   */
  signingKey: string;
}

export class IssueStatus {
  readonly #o: IssueStatusOptions;
  #labels: Set<string>;

  constructor(o: IssueStatusOptions, labels: readonly string[]) {
    this.#o = o;
    this.#labels = new Set(labels);
  }

  /** Remove the issue's other state labels of this pipeline and add `target`. */
  async setLabel(pipeline: PipelineDefinition, target: string): Promise<void> {
    const { github, log, issueNumber } = this.#o;
    const states = new Set([
      ...pipeline.steps.map(stateLabel),
      DONE_LABEL,
      FAILED_LABEL,
      PARTIAL_LABEL,
      OVER_BUDGET_LABEL,
      NEEDS_HUMAN_LABEL,
    ]);
    await bestEffort(log, `set the label ${target} ${NEEDS_ISSUES_WRITE}`, async () => {
      for (const label of [...this.#labels]) {
        if (label === target || !states.has(label)) continue;
        await github.removeLabel(issueNumber, label);
        this.#labels.delete(label);
      }
      if (!this.#labels.has(target)) {
        await github.addLabels(issueNumber, [target]);
        this.#labels.add(target);
      }
    });
  }

  #signature(author: string): string {
    const { signingKey, repository, issueNumber } = this.#o;
    const digest = createHmac("sha256", signingKey)
      .update(`miyabi-progress-comment\0${repository}\0${issueNumber}\0${author}`)
      .digest("hex");
    return `<!-- miyabi-sessions:author ${digest.slice(0, 32)} -->`;
  }

  /** The action's own progress comment: the marker, and a signature over its author. */
  isOwn(comment: IssueComment): boolean {
    return (
      comment.body.startsWith(commentMarker(this.#o.issueNumber)) &&
      comment.body.includes(this.#signature(comment.author))
    );
  }

  /** Edit the action's progress comment, or post it the first time. */
  async comment(body: string): Promise<void> {
    const { github, log, issueNumber } = this.#o;
    await bestEffort(log, `update the progress comment ${NEEDS_ISSUES_WRITE}`, async () => {
      const marker = commentMarker(issueNumber);
      const own = (await github.listComments(issueNumber)).find((c) => this.isOwn(c));
      if (own) {
        await github.updateComment(own.id, `${marker}\n${this.#signature(own.author)}\n${body}`);
        return;
      }
      // Who the token posts as shows only once it has posted; the signature follows.
      const created = await github.createComment(issueNumber, `${marker}\n${body}`);
      await github.updateComment(
        created.id,
        `${marker}\n${this.#signature(created.author)}\n${body}`,
      );
    });
  }
}
