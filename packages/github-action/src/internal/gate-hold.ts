import { GateVerdictError, type IssueStanding, type PipelineStep } from "@miyabi/runner";
import type { JobStatus } from "./report.js";
import type { TriggerRequest } from "./triggers.js";

/** Why a job runs no phase because of the review gate, and how it ends. */
export interface GateHold {
  status: Extract<JobStatus, "needs-human" | "skipped">;
  message: string;
}

/**
 * Whether the review gate the issue stands at keeps this job from running a phase: with no
 * step asked for, once the gate ran out of rounds (a person decides); for a job chained after
 * the labelled run's review (`phase: test`), while the gate sends the issue elsewhere (a step
 * a maintainer names by comment, review or dispatch is theirs to run: the caller does not ask).
 * Throws when the verdict the next step depends on cannot be read.
 */
export function gateHold(args: {
  request: TriggerRequest;
  requested: PipelineStep | undefined;
  standing: IssueStanding;
  issueNumber: number;
  triggerPhrase: string;
}): GateHold | undefined {
  const { request, requested, standing, issueNumber } = args;
  const gate = standing.gate;
  if (requested === undefined) {
    if (gate?.verdict === "missing") throw new GateVerdictError(gate.sessionId, gate.reason);
    if (gate?.verdict === "changes" && gate.exhausted) {
      return {
        status: "needs-human",
        message: `Issue #${issueNumber} needs a person: the review gate still asks for changes after ${gate.maxRounds} round(s) (see the progress comment). Name a step to go on, e.g. "${args.triggerPhrase} codegen <what to change>".`,
      };
    }
    return undefined;
  }
  if (request.kind !== "label" || gate?.verdict !== "changes" || requested === standing.next) {
    return undefined;
  }
  const where = standing.next
    ? `sent issue #${issueNumber} back to ${standing.next.id}`
    : `stopped issue #${issueNumber} for a person`;
  return {
    status: "skipped",
    message: `Skipped: the review gate ${where}, so phase ${requested.id} waits for its approval.`,
  };
}
