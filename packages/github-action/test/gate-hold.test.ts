import type { Session } from "@miyabi/core";
import { DEFAULT_PIPELINE, type GateState, type IssueStanding } from "@miyabi/runner";
import { describe, expect, it } from "vitest";
import { gateHold } from "../src/internal/gate-hold.js";
import type { TriggerKind, TriggerRequest } from "../src/internal/triggers.js";

const [codegen, review, test] = DEFAULT_PIPELINE.steps;
const request = (kind: TriggerKind): TriggerRequest => ({
  kind,
  issueNumber: 7,
  actor: "alice",
  isPullRequest: false,
  fromFork: false,
});
const changes = (exhausted: boolean): GateState => ({
  verdict: "changes",
  findings: [{ message: "Rename it." }],
  rounds: exhausted ? 2 : 0,
  maxRounds: 2,
  exhausted,
});
const standing = (gate: GateState | undefined, next = codegen ?? null): IssueStanding => ({
  head: { id: "head" } as Session,
  group: [],
  next,
  ...(gate ? { gate } : {}),
});
const hold = (kind: TriggerKind, step: typeof codegen, at: IssueStanding) =>
  gateHold({
    request: request(kind),
    requested: step,
    standing: at,
    issueNumber: 7,
    triggerPhrase: "/go",
  });

describe("gateHold", () => {
  it("rounds spent: asking for the next step runs nothing and says a person must decide", () => {
    expect(hold("dispatch", undefined, standing(changes(true), null))).toEqual({
      status: "needs-human",
      message: expect.stringContaining('Name a step to go on, e.g. "/go codegen <what to change>"'),
    });
  });

  it("a chained job of the labelled run waits while the gate sends the issue elsewhere", () => {
    expect(hold("label", test, standing(changes(false)))).toEqual({
      status: "skipped",
      message:
        "Skipped: the review gate sent issue #7 back to codegen, so phase test waits for its approval.",
    });
    // The job the gate leads to runs; so does any step once the gate approved.
    expect(hold("label", codegen, standing(changes(false)))).toBeUndefined();
    expect(hold("label", test, standing({ verdict: "approve" }, test))).toBeUndefined();
  });

  it("a step a maintainer names runs whatever the gate said", () => {
    for (const kind of ["comment", "review", "dispatch"] as const) {
      expect(hold(kind, review, standing(changes(true), null)), kind).toBeUndefined();
    }
  });

  it("an unreadable verdict fails a request for the next step, naming the session", () => {
    const missing: GateState = { verdict: "missing", sessionId: "s-1", reason: "no result line" };
    expect(() => hold("comment", undefined, standing(missing, null))).toThrow(
      /cannot read the verdict of session s-1: no result line/,
    );
    expect(hold("comment", codegen, standing(missing, null))).toBeUndefined();
  });
});
