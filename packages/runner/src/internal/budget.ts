import type { Session } from "@miyabi/core";
import { z } from "zod";

/*
 * Budgets in US dollars, at Claude Code's list prices (the `total_cost_usd` each run
 * reports). Per phase: the step setting / input / flag `maxBudgetUsd`, passed to the CLI as
 * `--max-budget-usd` (buildClaudeArgs), which ends the run with `error_max_budget_usd` before
 * the next tool call once spent. Per issue: the sum of the recorded cost of the issue's
 * sessions, checked before a phase starts.
 */

/** A budget as typed in an input or a flag: a positive decimal such as "2" or "0.50". */
export const BudgetUsdSchema = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, "expected an amount in US dollars, such as 5 or 0.50")
  .transform(Number)
  .pipe(
    z
      .number()
      .positive("a budget of 0 would stop every phase; leave it unset for no limit")
      .max(100_000),
  );

export type BudgetState = "unlimited" | "within" | "spent";

export interface BudgetStatus {
  state: BudgetState;
  spentUsd: number;
  /** Null when there is no budget. */
  budgetUsd: number | null;
  /** What is left (0 once spent); null without a budget. */
  remainingUsd: number | null;
}

/**
 * Where the issue stands. A phase may start only while `state` is not "spent": a budget is
 * spent when the recorded cost reaches it, since a phase's cost is only known afterwards.
 */
export function budgetStatus(options: {
  spentUsd: number;
  budgetUsd?: number | null;
}): BudgetStatus {
  const spentUsd = Math.max(0, options.spentUsd);
  const budgetUsd = options.budgetUsd ?? null;
  if (budgetUsd === null) return { state: "unlimited", spentUsd, budgetUsd, remainingUsd: null };
  const remainingUsd = Math.max(0, budgetUsd - spentUsd);
  return { state: spentUsd >= budgetUsd ? "spent" : "within", spentUsd, budgetUsd, remainingUsd };
}

/** The recorded cost of `sessions` (e.g. store.issueSessions(n)); runs without a cost count 0. */
export function recordedCostUsd(sessions: readonly Pick<Session, "result">[]): number {
  return sessions.reduce((sum, s) => sum + (s.result?.totalCostUsd ?? 0), 0);
}

/**
 * The `maxBudgetUsd` for the next phase: its own budget, capped by what is left of the
 * issue's, so a phase cannot run far past the issue budget either.
 */
export function phaseBudgetUsd(
  phaseBudget: number | undefined,
  status: BudgetStatus,
): number | undefined {
  if (status.remainingUsd === null) return phaseBudget;
  return phaseBudget === undefined
    ? status.remainingUsd
    : Math.min(phaseBudget, status.remainingUsd);
}
