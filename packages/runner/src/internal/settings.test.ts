import { describe, expect, it } from "vitest";
import { PipelineSchema } from "./pipeline.js";
import { mergeSettings } from "./settings.js";

const pipeline = PipelineSchema.parse({
  defaults: { model: "from-defaults", timeoutMinutes: 5 },
  steps: [
    {
      id: "codegen",
      phase: "CodeGeneration",
      agent: "CodeGenAgent",
      model: "from-step",
      maxTurns: 7,
      timeoutMinutes: 30,
      maxBudgetUsd: 2,
      allowedTools: ["Read", "Write"],
      appendSystemPrompt: "step note",
    },
  ],
});
const [step] = pipeline.steps;

describe("mergeSettings: step < pipeline defaults < inputs and flags", () => {
  it("carries a step's maxBudgetUsd, which the defaults and a flag override", () => {
    expect(mergeSettings({ step }).maxBudgetUsd).toBe(2);
    expect(mergeSettings({ step, defaults: { maxBudgetUsd: 1 } }).maxBudgetUsd).toBe(1);
    expect(
      mergeSettings({ step, defaults: { maxBudgetUsd: 1 }, settings: { maxBudgetUsd: 0.5 } })
        .maxBudgetUsd,
    ).toBe(0.5);
  });

  it("takes the step's values where nothing above sets them", () => {
    const s = mergeSettings({ step });
    expect(s).toMatchObject({
      model: "from-step",
      maxTurns: 7,
      timeoutMs: 30 * 60_000,
      allowedTools: ["Read", "Write"],
      appendSystemPrompt: "step note",
    });
  });

  it("lets the pipeline's defaults override the step", () => {
    const s = mergeSettings({ step, defaults: pipeline.defaults });
    expect(s.model).toBe("from-defaults");
    expect(s.timeoutMs).toBe(5 * 60_000);
    // What the defaults leave unset stays the step's.
    expect(s.maxTurns).toBe(7);
  });

  it("lets inputs and flags override both, and unset flags erase nothing", () => {
    const s = mergeSettings({
      step,
      defaults: pipeline.defaults,
      settings: { model: "from-flag", maxTurns: undefined, allowedTools: ["Read"] },
    });
    expect(s.model).toBe("from-flag");
    expect(s.maxTurns).toBe(7);
    expect(s.timeoutMs).toBe(5 * 60_000);
    expect(s.allowedTools).toEqual(["Read"]);
    expect(mergeSettings({ step, settings: { timeoutMs: 1_000 } }).timeoutMs).toBe(1_000);
  });

  it("falls back to the schema's defaults last", () => {
    const s = mergeSettings({});
    expect(s.timeoutMs).toBe(30 * 60_000);
    expect(s.permissionMode).toBe("acceptEdits");
    expect(s.model).toBeUndefined();
  });
});
