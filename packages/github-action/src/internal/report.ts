import { fencedText, renderIssueReport, type Session } from "@miyabi/core";
import type { GateState } from "@miyabi/runner";

/**
 * How a job ended, told as it is: `success`; `partial` (the agents finished but some of their
 * tool calls were denied); `failed` (the phase, or sending its work on, failed);
 * `nothing to propose` (the pipeline ended without a change to open a pull request for);
 * `skipped` (the event or the pipeline's state asked for no phase); `refused` (the event
 * asked for a phase it may not start: a fork, a bot not allowed); `over-budget` (the issue's
 * recorded cost reached budget-usd, so no phase started); `needs-human` (the review gate still
 * asks for changes after its last round: a person decides).
 */
export type JobStatus =
  | "success"
  | "partial"
  | "failed"
  | "nothing to propose"
  | "skipped"
  | "refused"
  | "over-budget"
  | "needs-human";

/** What one job did, for the job summary and the issue's progress comment. */
export interface PhaseReport {
  issueNumber: number;
  /** The step this job ran, or null when it stopped before choosing one. */
  step: string | null;
  status: JobStatus;
  /** Why the phase failed or was skipped. */
  detail?: string;
  /** What a person should know beyond the status: widened permissions, files left out. */
  notes?: readonly string[];
  /** Every session of the issue, oldest first. */
  sessions: Session[];
  /** Ids of the sessions this job ran. */
  current: readonly string[];
  /** The step that runs next, or null when the pipeline is done or stopped. */
  next: string | null;
  cacheKey: string;
  /** The workflow artifact the store was also kept as. */
  artifact?: { name: string; sealed: boolean };
  runUrl: string;
  /** The pull request the job opened or updated. */
  pullRequest?: { number: number; url: string };
  /** The review gate's verdict when this job ran a gated step and it asks for changes. */
  gate?: Extract<GateState, { verdict: "changes" }>;
}

/** The hidden line that identifies the progress comment of an issue, whoever posted it. */
export function commentMarker(issueNumber: number): string {
  return `<!-- miyabi-sessions:issue-${issueNumber} -->`;
}

function headline(report: PhaseReport): string {
  const step = report.step ? `Phase **${report.step}**` : "This job";
  const verb = {
    success: "succeeded",
    partial: "finished partially (some tool calls were denied)",
    failed: "failed",
    "nothing to propose": "finished with nothing to propose (no phase changed a file)",
    skipped: "was skipped",
    refused: "was refused",
    "over-budget": "did not start: the issue's budget is spent",
    "needs-human": "still asks for changes after the review gate's last round",
  }[report.status];
  const next =
    report.status === "failed"
      ? "the pipeline stopped"
      : report.status === "needs-human"
        ? "a person must decide (label `miyabi:needs-human`)"
        : report.next
          ? `next: **${report.next}**`
          : report.status === "nothing to propose"
            ? "no pull request was opened"
            : "the pipeline is done";
  return `${step} ${verb}; ${next}. ([run](${report.runUrl}))`;
}

/** The findings of a `changes` verdict: agent-written, so fenced like every agent text. */
function gateSection(gate: Extract<GateState, { verdict: "changes" }>): string {
  const title = gate.exhausted
    ? `**Open findings** (the review gate used its ${gate.maxRounds} round${gate.maxRounds === 1 ? "" : "s"}):`
    : `**The review asks for changes** (review-gate round ${gate.rounds + 1} of ${gate.maxRounds} goes back to CodeGen):`;
  const lines = gate.findings.map((f) => {
    const where = f.file ? `${f.file}${f.line === undefined ? "" : `:${f.line}`}: ` : "";
    return `- ${where}${f.message.replace(/\s*\n\s*/g, " ")}`;
  });
  return `${title}\n\n${fencedText(lines.join("\n"))}`;
}

/**
 * The job's report: its outcome (status, run, pull request, failure, notes) ahead of the issue
 * report every job and `miyabi-sessions report` share. Agent output is fenced so it cannot
 * mention people or inject HTML.
 */
export function renderReport(report: PhaseReport): string {
  const lead = [headline(report)];
  if (report.pullRequest) {
    lead.push(`Pull request: [#${report.pullRequest.number}](${report.pullRequest.url})`);
  }
  if (report.detail) lead.push(fencedText(report.detail));
  if (report.gate) lead.push(gateSection(report.gate));
  if (report.notes && report.notes.length > 0) {
    lead.push(report.notes.map((note) => `> [!WARNING]\n> ${note}`).join("\n\n"));
  }
  const footer: string[] = [];
  if (report.cacheKey) {
    footer.push(`<sub>Sessions saved in the Actions cache as \`${report.cacheKey}\`.</sub>`);
  }
  if (report.artifact) {
    const how = report.artifact.sealed ? "sealed " : "";
    footer.push(`<sub>Also kept as the ${how}workflow artifact \`${report.artifact.name}\`.</sub>`);
  }
  return renderIssueReport({
    issueNumber: report.issueNumber,
    sessions: report.sessions,
    current: report.current,
    lead,
    footer,
  });
}
