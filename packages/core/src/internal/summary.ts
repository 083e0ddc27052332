import { z } from "zod";
import { type DiskSession, DiskSessionSchema, PhaseSchema } from "./model.js";
import { isRunning } from "./running.js";
import { emptyStats, type SessionStats } from "./stats.js";

/**
 * What a one-shot command needs from a large store without its whole document: the figures
 * `getStats` returns and the sessions orphan reconciliation looks at. A compaction writes them
 * into the journal header; every record carries the change it makes to the figures, so a store
 * opened lazily folds the journal into the header instead of parsing `sessions.json`.
 */

/** Stats, or the signed change a journal record makes to them. */
export const StatsSchema = z.object({
  total: z.number().int(),
  active: z.number().int(),
  handedOff: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  totalCostUsd: z.number(),
  byPhase: z.partialRecord(PhaseSchema, z.number().int()),
});

export const SummarySchema = z.object({
  stats: StatsSchema,
  /** Every session `isRunning` holds for: what reconciling orphans at open needs. */
  running: z.array(DiskSessionSchema),
});

export interface StoreSummary {
  stats: SessionStats;
  running: DiskSession[];
}

const STATUS_KEY = {
  Active: "active",
  HandedOff: "handedOff",
  Completed: "completed",
  Failed: "failed",
} as const;

/** Add (sign 1) or remove (sign -1) one session's share of the figures. */
function count(stats: SessionStats, s: DiskSession, sign: 1 | -1): void {
  stats.total += sign;
  stats[STATUS_KEY[s.status]] += sign;
  const phase = s.context.current_phase;
  const n = (stats.byPhase[phase] ?? 0) + sign;
  if (n === 0) delete stats.byPhase[phase];
  else stats.byPhase[phase] = n;
  stats.totalCostUsd += sign * (s.result?.total_cost_usd ?? 0);
}

export function countStats(sessions: Iterable<DiskSession>): SessionStats {
  const stats = emptyStats();
  for (const s of sessions) count(stats, s, 1);
  return stats;
}

/**
 * The change to the figures of putting `put` and deleting `del`, where `before` gives a
 * session's state before the change (undefined: it did not exist).
 */
export function statsDelta(
  put: readonly DiskSession[],
  del: readonly string[],
  before: (id: string) => DiskSession | undefined,
): SessionStats {
  const delta = emptyStats();
  // A record may name a session twice; each entry replaces the one before it.
  const seen = new Map<string, DiskSession | undefined>();
  const current = (id: string) => (seen.has(id) ? seen.get(id) : before(id));
  for (const s of put) {
    const old = current(s.id);
    if (old) count(delta, old, -1);
    count(delta, s, 1);
    seen.set(s.id, s);
  }
  for (const id of del) {
    const old = current(id);
    if (old) count(delta, old, -1);
    seen.set(id, undefined);
  }
  return delta;
}

/** The summary a compaction writes for `sessions`. */
export function summarize(sessions: Iterable<DiskSession>): StoreSummary {
  const stats = emptyStats();
  const running: DiskSession[] = [];
  for (const s of sessions) {
    count(stats, s, 1);
    if (isRunning(s)) running.push(s);
  }
  return { stats, running };
}
