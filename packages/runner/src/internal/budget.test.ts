import { describe, expect, it } from "vitest";
import { BudgetUsdSchema, budgetStatus, phaseBudgetUsd, recordedCostUsd } from "./budget.js";

describe("budgets", () => {
  it("parses amounts as typed in inputs and flags", () => {
    expect(BudgetUsdSchema.parse(" 5 ")).toBe(5);
    expect(BudgetUsdSchema.parse("0.50")).toBe(0.5);
    for (const bad of ["0", "-1", "$5", "5,00", "1e3", "", "abc"]) {
      expect(BudgetUsdSchema.safeParse(bad).success).toBe(false);
    }
  });

  it("says whether a phase may start", () => {
    expect(budgetStatus({ spentUsd: 1.25 })).toEqual({
      state: "unlimited",
      spentUsd: 1.25,
      budgetUsd: null,
      remainingUsd: null,
    });
    expect(budgetStatus({ spentUsd: 1.25, budgetUsd: 5 })).toEqual({
      state: "within",
      spentUsd: 1.25,
      budgetUsd: 5,
      remainingUsd: 3.75,
    });
    expect(budgetStatus({ spentUsd: 5, budgetUsd: 5 }).state).toBe("spent");
    expect(budgetStatus({ spentUsd: 7, budgetUsd: 5 })).toMatchObject({
      state: "spent",
      remainingUsd: 0,
    });
  });

  it("caps a phase's budget by what is left of the issue's", () => {
    const within = budgetStatus({ spentUsd: 4, budgetUsd: 5 });
    expect(phaseBudgetUsd(2, within)).toBe(1);
    expect(phaseBudgetUsd(0.5, within)).toBe(0.5);
    expect(phaseBudgetUsd(undefined, within)).toBe(1);
    expect(phaseBudgetUsd(2, budgetStatus({ spentUsd: 4 }))).toBe(2);
    expect(phaseBudgetUsd(undefined, budgetStatus({ spentUsd: 4 }))).toBeUndefined();
  });

  it("sums the recorded cost of sessions, counting runs without one as 0", () => {
    const s = (cost: number | null | undefined) =>
      ({ result: cost === undefined ? null : { totalCostUsd: cost } }) as Parameters<
        typeof recordedCostUsd
      >[0][number];
    expect(recordedCostUsd([s(0.5), s(null), s(undefined), s(1.25)])).toBe(1.75);
    expect(recordedCostUsd([])).toBe(0);
  });
});
