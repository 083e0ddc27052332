import { z } from "zod";
import type { Session } from "./model.js";
import { parseInput } from "./options.js";

/*
 * The issue report: what the GitHub Action writes to the job summary and the progress comment,
 * and what `miyabi-sessions report` prints, from one renderer. Only session data goes in, so
 * both render the same sessions byte for byte.
 */

const nodeId = (id: string) => `s${id.replaceAll("-", "")}`;

/**
 * A Mermaid flowchart of the issue's sessions: handoffs as arrows from parent to child,
 * retries as dotted arrows from the failed attempt. Labels hold only agent names (validated
 * identifiers, on disk too), phase and status enums, so nothing needs escaping.
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

/** "42s", "3m 07s"; "—" when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "—";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
}

/** "$0.0123"; "—" when unknown. */
export function formatCost(usd: number | null): string {
  return usd === null ? "—" : `$${usd.toFixed(4)}`;
}

/** What Claude measured, else the time from creation to the end; null while it runs. */
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

/** The lineage graph and the phase table, as the job summary and the pull request show them. */
export function sessionsMarkdown(sessions: readonly Session[], current: readonly string[]): string {
  return `\`\`\`mermaid\n${lineageGraph(sessions, current)}\n\`\`\`\n\n${phaseTable(sessions, current)}`;
}

/**
 * A fenced block that no backtick run inside `text` can close early: agent and issue text
 * shown this way cannot mention people or inject HTML.
 */
export function fencedText(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

/** "3 sessions (1 Completed, 2 HandedOff); 12 turns, $0.0300 over 3m 02s in total." */
function totalsLine(sessions: readonly Session[]): string {
  const byStatus = new Map<string, number>();
  for (const s of sessions) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
  const statuses = [...byStatus].map(([status, n]) => `${n} ${status}`).join(", ");
  const sum = (values: (number | null | undefined)[]) =>
    values.reduce<number>((total, v) => total + (v ?? 0), 0);
  const turns = sum(sessions.map((s) => s.result?.numTurns));
  const cost = sum(sessions.map((s) => s.result?.totalCostUsd));
  const time = sum(sessions.map(durationOf));
  const count = `${sessions.length} ${sessions.length === 1 ? "session" : "sessions"}`;
  return `${count} (${statuses}); ${turns} ${turns === 1 ? "turn" : "turns"}, ${formatCost(cost)} over ${formatDuration(time)} in total.`;
}

const IssueReportSchema = z.object({
  issueNumber: z.number().int().positive(),
  /** Every session of the issue, oldest first. */
  sessions: z.custom<readonly Session[]>((v) => Array.isArray(v), "expected a list of sessions"),
  /** Ids of the sessions a job ran: marked in the graph and table, their summaries shown. */
  current: z.array(z.string()).readonly().default([]),
  /** Markdown blocks between the title and the sessions (the action's job outcome). */
  lead: z.array(z.string()).readonly().default([]),
  /** Markdown blocks at the end (where the action saved the store). */
  footer: z.array(z.string()).readonly().default([]),
  /** A line with the issue's session count, turns, cost and agent time (the CLI's report). */
  totals: z.boolean().default(false),
});

export type IssueReportInput = z.input<typeof IssueReportSchema>;

/**
 * The issue report as Markdown: title, lead, totals, lineage graph, phase table, what the
 * current sessions' agents reported (fenced), footer.
 */
export function renderIssueReport(input: IssueReportInput): string {
  const o = parseInput(IssueReportSchema, input, "issue report");
  const parts = [`### Miyabi pipeline for #${o.issueNumber}`, ...o.lead];
  if (o.totals && o.sessions.length > 0) parts.push(totalsLine(o.sessions));
  if (o.sessions.length > 0) parts.push(sessionsMarkdown(o.sessions, o.current));
  const summaries = o.sessions
    .filter((s) => o.current.includes(s.id) && s.result?.summary)
    .map((s) => `**${s.agentName}**\n\n${fencedText(s.result?.summary ?? "")}`);
  if (summaries.length > 0) {
    parts.push(
      `<details><summary>What the agents reported</summary>\n\n${summaries.join("\n\n")}\n\n</details>`,
    );
  }
  parts.push(...o.footer);
  return `${parts.join("\n\n")}\n`;
}
