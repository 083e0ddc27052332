import type { DiskSession, SessionStatus } from "./model.js";

/**
 * How far along a session is. When two copies of one session disagree (parallel jobs each
 * restored the same store and changed it), the one further along wins: a handoff is never undone
 * by a copy that has not seen it, and a finished session never goes back to Active.
 */
const STATUS_RANK: Record<SessionStatus, number> = {
  Active: 0,
  Completed: 1,
  Failed: 1,
  HandedOff: 2,
};

export interface MergeConflict {
  sessionId: string;
  field: "status" | "handoff_to";
  /** The value the merged store has. */
  kept: string;
  /** The value that lost (status) or the incoming side's value (handoff_to, kept as a union). */
  other: string;
}

export interface MergeReport {
  /** Sessions only the incoming side had. */
  added: string[];
  /** Sessions both had whose records differed and were combined. */
  updated: string[];
  conflicts: MergeConflict[];
}

const stamp = (s: DiskSession) => s.updated_at ?? s.created_at;

function union(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

function unionAgents(a: string | null, b: string | null): string | null {
  if (a === null || b === null || a === b) return a ?? b;
  return union(a.split(","), b.split(",")).join(",");
}

function mergeOne(mine: DiskSession, theirs: DiskSession, conflicts: MergeConflict[]): DiskSession {
  const rankMine = STATUS_RANK[mine.status];
  const rankTheirs = STATUS_RANK[theirs.status];
  let winner = mine;
  if (rankTheirs > rankMine) winner = theirs;
  else if (rankTheirs === rankMine && stamp(theirs) > stamp(mine)) winner = theirs;
  if (rankMine === rankTheirs && mine.status !== theirs.status) {
    conflicts.push({
      sessionId: mine.id,
      field: "status",
      kept: winner.status,
      other: (winner === mine ? theirs : mine).status,
    });
  }
  const agents = unionAgents(mine.handoff_to, theirs.handoff_to);
  // Only a real fork counts: one side having seen a superset of the other's handoffs is not.
  if (
    mine.handoff_to &&
    theirs.handoff_to &&
    agents !== mine.handoff_to &&
    agents !== theirs.handoff_to
  ) {
    conflicts.push({
      sessionId: mine.id,
      field: "handoff_to",
      kept: agents ?? "",
      other: theirs.handoff_to,
    });
  }
  return {
    ...winner,
    child_sessions: union(mine.child_sessions, theirs.child_sessions),
    handoff_to: agents,
    // A patch is written once, by the job that ran the session; whichever side has it keeps it.
    patch: winner.patch ?? (winner === mine ? theirs : mine).patch,
  };
}

/**
 * Union of two stores of the same work: every session of either side, child lists united,
 * status resolved by `STATUS_RANK` and then by the newer `updated_at`. Order: `base` first, then
 * what only `incoming` has, in its order.
 */
export function mergeSessions(
  base: Iterable<DiskSession>,
  incoming: Iterable<DiskSession>,
): { sessions: DiskSession[]; report: MergeReport } {
  const out = new Map<string, DiskSession>();
  for (const s of base) out.set(s.id, s);
  const report: MergeReport = { added: [], updated: [], conflicts: [] };
  for (const theirs of incoming) {
    const mine = out.get(theirs.id);
    if (!mine) {
      out.set(theirs.id, theirs);
      report.added.push(theirs.id);
      continue;
    }
    if (JSON.stringify(mine) === JSON.stringify(theirs)) continue;
    const merged = mergeOne(mine, theirs, report.conflicts);
    if (JSON.stringify(merged) === JSON.stringify(mine)) continue;
    out.set(theirs.id, merged);
    report.updated.push(theirs.id);
  }
  return { sessions: [...out.values()], report };
}
