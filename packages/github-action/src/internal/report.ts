import type { Session } from "@miyabi/core";
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

const nodeId = (id: string) => `s${id.replaceAll("-", "")}`;

/**
 * A Mermaid flowchart of the issue's sessions: handoffs as arrows from parent to child,
 * retries as dotted arrows from the failed attempt. Labels hold only agent names (validated
 * identifiers), phase and status enums, so nothing needs escaping.
 */
export function lineageGraph(sessions: readonly Session[], current: readonly string[]): string {
  const known = new Set(sessions.map((s) => s.id));
  const lines = ["flowchart TD"];
  for (const s of sessions) {
    lines.push(`  ${nodeId(s.id)}["${s.agentName}<br/>${s.context.currentPhase}<br/>${s.status}"]`);
  }
  for (const s of sessions) {
    if (s.retryOf && known.has(s.retryOf)) {
      lines.push(`  ${nodeId(s.retryOf)} -. retry .-> ${nodeId(s.id)}`);
    } else if (s.parentSession && known.has(s.parentSession)) {
      lines.push(`  ${nodeId(s.parentSession)} --> ${nodeId(s.id)}`);
    }
  }
  lines.push("  classDef failed fill:#ffebe9,stroke:#cf222e");
  lines.push("  classDef active fill:#fff8c5,stroke:#9a6700");
  lines.push("  classDef current stroke-width:3px");
  const failed = sessions.filter((s) => s.status === "Failed").map((s) => nodeId(s.id));
  const active = sessions.filter((s) => s.status === "Active").map((s) => nodeId(s.id));
  const mine = sessions.filter((s) => current.includes(s.id)).map((s) => nodeId(s.id));
  if (failed.length > 0) lines.push(`  class ${failed.join(",")} failed`);
  if (active.length > 0) lines.push(`  class ${active.join(",")} active`);
  if (mine.length > 0) lines.push(`  class ${mine.join(",")} current`);
  return lines.join("\n");
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "—";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
}

export function formatCost(usd: number | null): string {
  return usd === null ? "—" : `$${usd.toFixed(4)}`;
}

function durationOf(s: Session): number | null {
  if (s.result?.durationMs != null) return s.result.durationMs;
  return s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.createdAt) : null;
}

/** One row per session: agent, phase, status, turns, cost, duration. */
export function phaseTable(sessions: readonly Session[], current: readonly string[]): string {
  const rows = [
    "| | Agent | Phase | Status | Turns | Cost | Duration | Session |",
    "|---|---|---|---|---:|---:|---:|---|",
  ];
  for (const s of sessions) {
    const mark = current.includes(s.id) ? "▶" : "";
    const turns = s.result?.numTurns ?? null;
    rows.push(
      `| ${mark} | ${s.agentName} | ${s.context.currentPhase} | ${s.status} | ${turns ?? "—"} | ${formatCost(s.result?.totalCostUsd ?? null)} | ${formatDuration(durationOf(s))} | \`${s.id.slice(0, 8)}\` |`,
    );
  }
  return rows.join("\n");
}

/** A fenced block that no backtick run inside `text` can close early. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
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
  return `${title}\n\n${fenced(lines.join("\n"))}`;
}

/** The report as Markdown; agent output is fenced so it cannot mention people or inject HTML. */
export function renderReport(report: PhaseReport): string {
  const parts = [`### Miyabi pipeline for #${report.issueNumber}`, headline(report)];
  if (report.pullRequest) {
    parts.push(`Pull request: [#${report.pullRequest.number}](${report.pullRequest.url})`);
  }
  if (report.detail) parts.push(fenced(report.detail));
  if (report.gate) parts.push(gateSection(report.gate));
  if (report.notes && report.notes.length > 0) {
    parts.push(report.notes.map((note) => `> [!WARNING]\n> ${note}`).join("\n\n"));
  }
  if (report.sessions.length > 0) {
    parts.push(`\`\`\`mermaid\n${lineageGraph(report.sessions, report.current)}\n\`\`\``);
    parts.push(phaseTable(report.sessions, report.current));
  }
  const summaries = report.sessions
    .filter((s) => report.current.includes(s.id) && s.result?.summary)
    .map((s) => `**${s.agentName}**\n\n${fenced(s.result?.summary ?? "")}`);
  if (summaries.length > 0) {
    parts.push(
      `<details><summary>What the agents reported</summary>\n\n${summaries.join("\n\n")}\n\n</details>`,
    );
  }
  if (report.cacheKey)
    parts.push(`<sub>Sessions saved in the Actions cache as \`${report.cacheKey}\`.</sub>`);
  return `${parts.join("\n\n")}\n`;
}
