/**
 * The review gate through runPipeline (what the CLI's `pipeline` runs) and planPhase (what the
 * action plans each job with), against the pinned Claude Code CLI and the scripted model.
 */
import { type ScriptedTurn, verdictTurn } from "@miyabi/testkit";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PIPELINE,
  type PipelineDefinition,
  PipelineSchema,
  planPhase,
  runPipeline,
} from "../src/index.js";
import { issue, lastUserText, messagesOf, type Rig, rig, turns } from "./helpers.js";

const approve = verdictTurn();
const changes = (message: string): ScriptedTurn =>
  verdictTurn([{ file: "src/greet.ts", line: 3, message }]);

function options(r: Rig, pipeline: PipelineDefinition = DEFAULT_PIPELINE) {
  return { store: r.store, issue, pipeline, repoDir: r.repo, claude: r.claude() };
}

function withRounds(maxRounds: number): PipelineDefinition {
  return PipelineSchema.parse({
    steps: DEFAULT_PIPELINE.steps.map(({ agents, ...s }) => ({
      ...s,
      agent: agents[0],
      ...(s.gate ? { gate: { maxRounds } } : {}),
    })),
  });
}

describe("review gate", () => {
  it("changes hand back to CodeGen, which resumes its conversation with the findings; approve goes on to Test", async () => {
    const r = await rig([
      { text: "Wrote greet." },
      changes("Rename greet to hello."),
      { text: "Renamed." },
      approve,
      { text: "Tested." },
      { text: "PR ready." },
    ]);
    const run = await runPipeline(options(r));
    expect(run.done).toBe(true);
    expect(run.outcomes.map((o) => [o.step.id, o.status, o.next?.id ?? null])).toEqual([
      ["codegen", "completed", "review"],
      ["review", "completed", "codegen"],
      ["codegen", "completed", "review"],
      ["review", "completed", "test"],
      ["test", "completed", "deploy"],
      ["deploy", "completed", null],
    ]);
    expect(run.outcomes[1]?.gate).toMatchObject({ verdict: "changes", rounds: 0, maxRounds: 2 });
    expect(run.outcomes[3]?.gate).toEqual({ verdict: "approve" });

    // One line: each session the child of the one before, the round named in its purpose.
    const sessions = await r.store.issueSessions(issue.number);
    expect(sessions.map((s) => s.agentName)).toEqual([
      "CodeGenAgent",
      "ReviewAgent",
      "CodeGenAgent",
      "ReviewAgent",
      "TestAgent",
      "DeployAgent",
    ]);
    for (let i = 1; i < sessions.length; i++) {
      expect(sessions[i]?.parentSession).toBe(sessions[i - 1]?.id);
    }
    expect(sessions[2]?.purpose).toBe("review-gate round 1: 1 finding");

    // The gated step was offered the verdict tool and told how to use it.
    const sent = turns(r.server);
    const review = sent[1]?.body as { tools?: { name: string }[] };
    expect(review.tools?.map((t) => t.name)).toContain("StructuredOutput");
    expect(lastUserText(review)).toContain("End the review with a verdict");
    // CodeGen′ continued its own conversation and got the findings as data.
    const again = sent[2]?.body;
    expect(JSON.stringify(messagesOf(again))).toContain("Wrote greet.");
    const prompt = lastUserText(again);
    expect(prompt).toMatch(/<feedback-[0-9a-f]{16}>/);
    expect(prompt).toContain("src/greet.ts:3: Rename greet to hello.");
    expect(prompt).not.toContain("End the review with a verdict");
  });

  it("stops for a person when the rounds run out, with the open findings", async () => {
    const r = await rig([
      { text: "Wrote greet." },
      changes("Rename greet to hello."),
      { text: "Renamed." },
      changes("Add a test for hello."),
    ]);
    const pipeline = withRounds(1);
    const run = await runPipeline(options(r, pipeline));
    expect(run.done).toBe(false);
    expect(run.outcomes.map((o) => o.step.id)).toEqual(["codegen", "review", "codegen", "review"]);
    expect(run.needsHuman).toEqual({
      verdict: "changes",
      findings: [{ file: "src/greet.ts", line: 3, message: "Add a test for hello." }],
      rounds: 1,
      maxRounds: 1,
      exhausted: true,
    });
    // Nothing runs by itself afterwards, and saying so needs no model.
    const requests = r.server.requests.length;
    const plan = await planPhase(options(r, pipeline));
    expect(plan).toMatchObject({ done: true, gate: { exhausted: true } });
    expect((await runPipeline(options(r, pipeline))).needsHuman?.exhausted).toBe(true);
    expect(r.server.requests.length).toBe(requests);
  });

  it("a review without a verdict fails its session with the reason", async () => {
    const r = await rig([{ text: "Wrote greet." }, { text: "Looks good to me." }]);
    const run = await runPipeline(options(r));
    const review = run.outcomes[1];
    expect(review?.status).toBe("failed");
    expect(review?.next).toBeNull();
    expect(review?.sessions[0]?.status).toBe("Failed");
    expect(review?.sessions[0]?.errorMessage).toMatch(
      /^The review gate got no verdict: the Review run ended without a verdict/,
    );
  });

  it("a gate needs a CodeGeneration step before it", () => {
    const parsed = PipelineSchema.safeParse({
      steps: [{ phase: "Review", agent: "ReviewAgent", gate: {} }],
    });
    expect(parsed.success).toBe(false);
    expect(
      PipelineSchema.parse({
        steps: [
          { phase: "CodeGeneration", agent: "A" },
          { phase: "Review", agent: "B", gate: {} },
        ],
      }).steps[1]?.gate,
    ).toEqual({ maxRounds: 2 });
  });
});
