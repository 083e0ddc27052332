import { PHASES } from "./constants.js";
import type { Phase } from "./model.js";
import { isRunning } from "./running.js";

// The figures, their arithmetic and the summary view, apart from the schemas so the
// schema-free `stats` can add up a journal with the same code as a lazy open.

export interface SessionStats {
  total: number;
  active: number;
  handedOff: number;
  completed: number;
  failed: number;
  /** Sum of `total_cost_usd` over recorded results. */
  totalCostUsd: number;
  byPhase: Partial<Record<Phase, number>>;
}

export function emptyStats(): SessionStats {
  return {
    total: 0,
    active: 0,
    handedOff: 0,
    completed: 0,
    failed: 0,
    totalCostUsd: 0,
    byPhase: {},
  };
}

export function copyStats(stats: SessionStats): SessionStats {
  return { ...stats, byPhase: { ...stats.byPhase } };
}

/** `into += delta`, in place. */
export function addStats(into: SessionStats, delta: SessionStats): void {
  into.total += delta.total;
  into.active += delta.active;
  into.handedOff += delta.handedOff;
  into.completed += delta.completed;
  into.failed += delta.failed;
  into.totalCostUsd += delta.totalCostUsd;
  for (const [phase, n] of Object.entries(delta.byPhase) as [Phase, number][]) {
    const sum = (into.byPhase[phase] ?? 0) + n;
    if (sum === 0) delete into.byPhase[phase];
    else into.byPhase[phase] = sum;
  }
}

/** What the summary keeps of a session: enough for isRunning, and its id. */
export interface RunState {
  id: string;
  status?: unknown;
  process?: unknown;
  result?: unknown;
}

/**
 * The summary of a lazily opened store: the header's, with the journal folded in. A lazy open
 * holds whole sessions in it; the schema-free `stats` only the parts it checked.
 */
export class SummaryView<S extends RunState> {
  readonly stats: SessionStats;
  readonly running: Map<string, S>;

  constructor(summary: { stats: SessionStats; running: readonly S[] }) {
    this.stats = copyStats(summary.stats);
    this.running = new Map(summary.running.map((s) => [s.id, s]));
  }

  /** Fold one record in; false when it carries no stats change (written by an older release). */
  fold(record: { put?: readonly S[]; del?: readonly string[]; stats?: SessionStats }): boolean {
    if (!record.stats) return false;
    addStats(this.stats, record.stats);
    // Records hold whole sessions, so the last put of a session is its current state.
    for (const s of record.put ?? []) {
      if (isRunning(s)) this.running.set(s.id, s);
      else this.running.delete(s.id);
    }
    for (const id of record.del ?? []) this.running.delete(id);
    return true;
  }
}

type Fields = Record<string, unknown>;

export const isObject = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const COUNTS = ["total", "active", "handedOff", "completed", "failed"] as const;

/**
 * The figures StatsSchema accepts, picked out of `value` without the schema library, or null.
 * A property test holds the two to the same answers.
 */
export function pickStats(value: unknown): SessionStats | null {
  if (!isObject(value) || !isObject(value.byPhase)) return null;
  if (!COUNTS.every((k) => Number.isSafeInteger(value[k]))) return null;
  if (typeof value.totalCostUsd !== "number") return null;
  const byPhase: SessionStats["byPhase"] = {};
  for (const [phase, n] of Object.entries(value.byPhase)) {
    if (!(PHASES as readonly string[]).includes(phase) || !Number.isSafeInteger(n)) return null;
    byPhase[phase as keyof typeof byPhase] = n as number;
  }
  const count = (key: (typeof COUNTS)[number]) => value[key] as number;
  return {
    total: count("total"),
    active: count("active"),
    handedOff: count("handedOff"),
    completed: count("completed"),
    failed: count("failed"),
    totalCostUsd: value.totalCostUsd,
    byPhase,
  };
}
