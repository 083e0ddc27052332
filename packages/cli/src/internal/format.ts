import { stripVTControlCharacters } from "node:util";
import type { Session, SessionStats, SessionStatus, TreeNode } from "@miyabi/core";
import { paint, type Style } from "./color.js";
import { plural, relativeTime, truncate } from "./text.js";

const STATUS_COLOR: Record<SessionStatus, Style> = {
  Active: "cyan",
  HandedOff: "blue",
  Completed: "green",
  Failed: "red",
};

export function paintStatus(status: SessionStatus, color: boolean): string {
  return paint(color, STATUS_COLOR[status], status);
}

// Visible width ignoring colour codes, so coloured cells still align.
const visible = (s: string) => stripVTControlCharacters(s).length;

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - visible(c))))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

export const shortId = (id: string) => id.slice(0, 8);

export interface RowsStyle {
  color: boolean;
  /** A terminal: short ids, relative times, the purpose cut to fit `columns`. */
  tty: boolean;
  columns: number;
  now: Date;
}

export function sessionRows(sessions: Session[], style: RowsStyle): string {
  if (sessions.length === 0) return "No sessions.";
  const headers = ["ID", "AGENT", "STATUS", "PHASE", "ISSUE", "CREATED", "PURPOSE"];
  const rows = sessions.map((s) => [
    style.tty ? shortId(s.id) : s.id,
    s.agentName,
    paintStatus(s.status, style.color),
    s.context.currentPhase,
    s.context.issueNumber === null ? "-" : `#${s.context.issueNumber}`,
    style.tty ? relativeTime(s.createdAt, style.now) : s.createdAt.replace(/\.\d+Z$/, "Z"),
    s.purpose,
  ]);
  // The purpose takes what the other columns leave of the terminal's width (at least 12).
  const fixed = headers
    .slice(0, -1)
    .reduce(
      (sum, h, i) => sum + 2 + Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))),
      0,
    );
  const room = style.tty ? Math.max(12, style.columns - fixed - 1) : 60;
  for (const r of rows) r[6] = truncate(r[6] ?? "", room);
  return table(headers, rows);
}

export function sessionDetail(s: Session, color: boolean): string {
  const lines: [string, string][] = [
    ["id", s.id],
    ["agent", s.agentName],
    ["status", paintStatus(s.status, color)],
    ["purpose", s.purpose],
    ["phase", s.context.currentPhase],
    ["issue", s.context.issueNumber === null ? "-" : `#${s.context.issueNumber}`],
    ["worktree", s.context.worktreePath ?? "-"],
    ["created", s.createdAt],
    ["updated", s.updatedAt],
    ["ended", s.endedAt ?? "-"],
    ["parent", s.parentSession ?? "-"],
    ["children", s.childSessions.length > 0 ? s.childSessions.join(", ") : "-"],
    ["handoff to", s.handoffTo ?? "-"],
  ];
  if (s.retryOf) lines.push(["retry of", s.retryOf]);
  if (s.errorMessage) lines.push(["error", s.errorMessage]);
  if (s.process)
    lines.push([
      "process",
      `pid ${s.process.pid ?? "-"} (runner ${s.process.runnerPid} on ${s.process.hostname})`,
    ]);
  if (s.result) {
    const r = s.result;
    lines.push(["result", `${r.outcome}: ${r.summary || "(no summary)"}`]);
    if (r.claudeSessionId) lines.push(["claude session", r.claudeSessionId]);
    const figures = [
      r.numTurns === null ? null : plural(r.numTurns, "turn"),
      r.totalCostUsd === null ? null : `$${r.totalCostUsd.toFixed(4)}`,
      r.durationMs === null ? null : `${(r.durationMs / 1000).toFixed(1)} s`,
      r.exitCode === null ? null : `exit ${r.exitCode}`,
    ].filter((x) => x !== null);
    if (figures.length > 0) lines.push(["figures", figures.join(", ")]);
    if (r.commit) lines.push(["commit", r.commit]);
  }
  if (s.context.previousResults.length > 0) {
    lines.push([
      "previous",
      s.context.previousResults.map((r) => `${r.agent} (${r.outcome})`).join(" -> "),
    ]);
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

export function lineageText(sessions: Session[], color: boolean): string {
  return sessions
    .map(
      (s, i) =>
        `${i + 1}: ${s.agentName} (${paintStatus(s.status, color)}) ${shortId(s.id)} ${s.context.currentPhase}`,
    )
    .join("\n");
}

export function treeText(node: TreeNode<Session>, color: boolean): string {
  const out: string[] = [];
  const walk = (n: TreeNode<Session>, prefix: string, last: boolean, root: boolean) => {
    const s = n.session;
    const label = `${s.agentName} (${paintStatus(s.status, color)}) ${shortId(s.id)} ${s.context.currentPhase}`;
    out.push(root ? label : `${prefix}${last ? "└─ " : "├─ "}${label}`);
    const childPrefix = root ? "" : `${prefix}${last ? "   " : "│  "}`;
    for (const [i, c] of n.children.entries()) {
      walk(c, childPrefix, i === n.children.length - 1, false);
    }
  };
  walk(node, "", true, true);
  return out.join("\n");
}

export function statsText(stats: SessionStats): string {
  const rows: [string, string][] = [
    ["Total sessions", String(stats.total)],
    ["Active", String(stats.active)],
    ["Handed off", String(stats.handedOff)],
    ["Completed", String(stats.completed)],
    ["Failed", String(stats.failed)],
    ["Cost (USD)", stats.totalCostUsd.toFixed(4)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}
