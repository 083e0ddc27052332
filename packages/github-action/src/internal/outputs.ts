import type { Session } from "@miyabi/core";
import type { PipelineStep } from "@miyabi/runner";
import type { JobStatus } from "./report.js";

export interface PhaseOutputs {
  "session-id": string;
  "parent-session-id": string;
  "claude-session-id": string;
  status: JobStatus;
  "next-phase": string;
  "next-agent": string;
  "cache-key": string;
  "cost-usd": string;
  turns: string;
  summary: string;
  "pull-request-url": string;
  "pull-request-number": string;
  /** The issue the job worked on: a comment or review on the pull request names only that. */
  "issue-number": string;
}

export const EMPTY_OUTPUTS: PhaseOutputs = {
  "session-id": "",
  "parent-session-id": "",
  "claude-session-id": "",
  status: "skipped",
  "next-phase": "",
  "next-agent": "",
  "cache-key": "",
  "cost-usd": "",
  turns: "",
  summary: "",
  "pull-request-url": "",
  "pull-request-number": "",
  "issue-number": "",
};

/** The output names, in action.yml's order. */
export const OUTPUT_NAMES = Object.keys(EMPTY_OUTPUTS) as (keyof PhaseOutputs)[];

/**
 * Whether the pipeline goes on after a job that ended so. Not after a partial phase: denied
 * tool calls deserve a look before more is spent (as the runner's runPipeline stops too).
 */
export const goesOn = (status: JobStatus) => status === "success";

function sum(values: (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => typeof v === "number");
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

export interface OutputFacts {
  status: JobStatus;
  /** The sessions this job ran. */
  mine: readonly Session[];
  parent: string | null;
  next: PipelineStep | null;
  cacheKey: string;
  pullRequest?: { number: number; url: string };
  issueNumber: number;
}

export function phaseOutputs(f: OutputFacts): PhaseOutputs {
  const cost = sum(f.mine.map((s) => s.result?.totalCostUsd));
  const turns = sum(f.mine.map((s) => s.result?.numTurns));
  const next = goesOn(f.status) ? f.next : null;
  return {
    "session-id": f.mine.map((s) => s.id).join(" "),
    "parent-session-id": f.parent ?? "",
    "claude-session-id": f.mine
      .map((s) => s.result?.claudeSessionId ?? "")
      .join(" ")
      .trim(),
    status: f.status,
    "next-phase": next?.id ?? "",
    "next-agent": next?.agents.join(",") ?? "",
    "cache-key": f.cacheKey,
    "cost-usd": cost === null ? "" : String(Number(cost.toFixed(6))),
    turns: turns === null ? "" : String(turns),
    summary: f.mine
      .map((s) => s.result?.summary ?? "")
      .filter((text) => text !== "")
      .join("\n\n"),
    "pull-request-url": f.pullRequest?.url ?? "",
    "pull-request-number": f.pullRequest ? String(f.pullRequest.number) : "",
    "issue-number": String(f.issueNumber),
  };
}
