import { stripVTControlCharacters, styleText } from "node:util";
import type { Session, SessionStats, SessionStatus, TreeNode } from "@miyabi/core";

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Colours only when writing to a terminal. */
  color: boolean;
}

const STATUS_COLOR: Record<SessionStatus, Parameters<typeof styleText>[0]> = {
  Active: "cyan",
  HandedOff: "blue",
  Completed: "green",
  Failed: "red",
};

export function paintStatus(status: SessionStatus, color: boolean): string {
  return color ? styleText(STATUS_COLOR[status], status) : status;
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

const short = (id: string) => id.slice(0, 8);

export function sessionRows(sessions: Session[], color: boolean): string {
  if (sessions.length === 0) return "No sessions.";
  return table(
    ["ID", "AGENT", "STATUS", "PHASE", "ISSUE", "CREATED", "PURPOSE"],
    sessions.map((s) => [
      s.id,
      s.agentName,
      paintStatus(s.status, color),
      s.context.currentPhase,
      s.context.issueNumber === null ? "-" : `#${s.context.issueNumber}`,
      s.createdAt.replace(/\.\d+Z$/, "Z"),
      s.purpose.length > 60 ? `${s.purpose.slice(0, 57)}...` : s.purpose,
    ]),
  );
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
      r.numTurns === null ? null : `${r.numTurns} turns`,
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
        `${i + 1}: ${s.agentName} (${paintStatus(s.status, color)}) ${short(s.id)} ${s.context.currentPhase}`,
    )
    .join("\n");
}

export function treeText(node: TreeNode<Session>, color: boolean): string {
  const out: string[] = [];
  const walk = (n: TreeNode<Session>, prefix: string, last: boolean, root: boolean) => {
    const s = n.session;
    const label = `${s.agentName} (${paintStatus(s.status, color)}) ${short(s.id)} ${s.context.currentPhase}`;
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
