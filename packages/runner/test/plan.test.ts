import fs from "node:fs/promises";
import path from "node:path";
import type { Session } from "@miyabi/core";
import { type RecordedRequest, structuredOutputTurn } from "@miyabi/testkit";
import { describe, expect, it } from "vitest";
import {
  budgetStatus,
  DEFAULT_PIPELINE,
  handoffAndRun,
  type PipelineDefinition,
  PipelineSchema,
  type ProgressEvent,
  planPhase,
  runPhase,
  runPipeline,
} from "../src/index.js";
import { lastUserText, type Rig, rig, turns } from "./helpers.js";

const issue = { number: 7, title: "Plan it", body: "Plan the phases" };

/** A model that answers each agent with "<agent> says hi"; Review fails while `failReview`. */
function agentsModel(state: { failReview?: boolean } = {}) {
  return (req: RecordedRequest) => {
    const prompt = lastUserText(req.body);
    const agent = /You are (\w+)/.exec(prompt)?.[1] ?? "someone";
    if (agent === "ReviewAgent" && state.failReview)
      return { error: { status: 500, message: "review overload" } };
    // The review gate's verdict: Review ends by handing it over.
    if (agent === "ReviewAgent") return structuredOutputTurn({ verdict: "approve" });
    return { text: `${agent} says hi` };
  };
}

function options(r: Rig, pipeline: PipelineDefinition = DEFAULT_PIPELINE) {
  return { store: r.store, issue, pipeline, repoDir: r.repo, claude: r.claude() };
}

describe("planPhase and the continuation it chooses", () => {
  it("resumes the conversation of the step before, not the last one: --from review on a finished issue", async () => {
    const r = await rig(agentsModel());
    const first = await runPipeline(options(r));
    expect(first.done).toBe(true);
    const [codegen, , , deploy] = first.outcomes.map((o) => o.sessions[0]);
    const codegenConversation = codegen?.result?.claudeSessionId;
    expect(deploy?.result?.claudeSessionId).not.toBe(codegenConversation);

    const plan = await planPhase({ ...options(r), step: "review" });
    if (plan.done) throw new Error("expected a plan");
    expect(plan.step.id).toBe("review");
    expect(plan.start).toMatchObject({ kind: "handoff", from: { id: deploy?.id } });
    expect(plan.source?.id).toBe(codegen?.id);
    expect(plan.agents).toMatchObject([{ agent: "ReviewAgent", mode: "resume", retryOf: null }]);

    const again = await runPipeline({ ...options(r), from: "review" });
    expect(again.outcomes.map((o) => [o.step.id, o.status])).toEqual([
      ["review", "completed"],
      ["test", "completed"],
      ["deploy", "completed"],
    ]);
    expect(again.outcomes[0]?.sessions[0]?.result?.claudeSessionId).toBe(codegenConversation);
  });

  it("continueFrom step: asked again with feedback, CodeGen resumes its own conversation and is sent only the feedback", async () => {
    const r = await rig(agentsModel());
    const first = await runPipeline(options(r));
    const [codegen, , , deploy] = first.outcomes.map((o) => o.sessions[0]);
    const before = turns(r.server).length;
    const again = await runPhase({
      ...options(r),
      step: "codegen",
      continueFrom: "step",
      feedback: "rename greet to hello",
    });
    const [session] = again.sessions;
    // A new session in the lineage after the head, continuing CodeGen's conversation.
    expect(session?.parentSession).toBe(deploy?.id);
    expect(session?.result?.claudeSessionId).toBe(codegen?.result?.claudeSessionId);
    const [turn] = turns(r.server).slice(before);
    const sent = JSON.stringify(turn?.body);
    // The earlier messages travel with the resume; the new one is the feedback block alone.
    expect(sent).toContain("CodeGenAgent says hi");
    expect(lastUserText(turn?.body)).toMatch(/<feedback-[0-9a-f]{16}>\\nrename greet to hello/);
    expect(lastUserText(turn?.body)).not.toContain("You are CodeGenAgent");
  });

  it("budgets: a phase's budget is capped by what is left of the issue's; a spent issue starts no phase", async () => {
    const r = await rig(agentsModel());
    const plan = await planPhase({
      ...options(r),
      claude: { ...r.claude(), maxBudgetUsd: 5 },
      issueBudget: budgetStatus({ spentUsd: 1.5, budgetUsd: 2 }),
    });
    if (plan.done) throw new Error("expected a plan");
    expect(plan.settings.maxBudgetUsd).toBe(0.5);

    const codegen = await runPhase({ ...options(r), step: "codegen" });
    const cost = codegen.sessions[0]?.result?.totalCostUsd ?? 0;
    expect(cost).toBeGreaterThan(0);
    const before = turns(r.server).length;
    const stopped = await runPipeline({ ...options(r), budgetUsd: cost / 2 });
    expect(stopped).toMatchObject({ outcomes: [], done: false });
    expect(stopped.overBudget).toMatchObject({
      state: "spent",
      spentUsd: cost,
      budgetUsd: cost / 2,
    });
    expect(turns(r.server)).toHaveLength(before);
  });

  it("after a failure retries only that step; another step asked for starts anew and leaves it Failed", async () => {
    const state = { failReview: true };
    const r = await rig(agentsModel(state));
    const first = await runPipeline(options(r));
    expect(first.outcomes.map((o) => [o.step.id, o.status])).toEqual([
      ["codegen", "completed"],
      ["review", "failed"],
    ]);
    const failedReview = first.outcomes[1]?.sessions[0];

    // Asked for codegen: CodeGen runs with its own prompt; Review is not retried as CodeGen.
    const before = turns(r.server).length;
    const codegen = await runPhase({ ...options(r), step: "codegen" });
    const [again] = codegen.sessions;
    expect(again).toMatchObject({
      agentName: "CodeGenAgent",
      status: "Completed",
      parentSession: null,
      retryOf: null,
    });
    expect(again?.context.currentPhase).toBe("CodeGeneration");
    expect(again?.context.previousResults.map((p) => p.agent)).toEqual(["CodeGenAgent"]);
    expect(lastUserText(turns(r.server)[before]?.body)).toContain("You are CodeGenAgent");
    const sessions = await r.store.issueSessions(issue.number);
    expect(sessions.filter((s) => s.retryOf === failedReview?.id)).toEqual([]);
    expect((await r.store.getSession(failedReview?.id as string)).status).toBe("Failed");

    // Where the issue now stands: review runs next, as a handoff from the new CodeGen.
    state.failReview = false;
    const review = await runPhase(options(r));
    expect(review.step.id).toBe("review");
    expect(review.sessions[0]).toMatchObject({
      agentName: "ReviewAgent",
      parentSession: again?.id,
    });
    expect(review.sessions[0]?.result?.claudeSessionId).toBe(again?.result?.claudeSessionId);
  });

  it("retries a failed step by itself, telling the retry how the attempt ended", async () => {
    const state = { failReview: true };
    const r = await rig(agentsModel(state));
    await runPipeline(options(r));
    const failed = (await r.store.issueHead(issue.number)) as Session;
    expect(failed.status).toBe("Failed");
    state.failReview = false;
    const plan = await planPhase({ ...options(r), step: "review" });
    if (plan.done) throw new Error("expected a plan");
    expect(plan.start).toMatchObject({ kind: "retry", failed: [{ id: failed.id }] });
    const before = turns(r.server).length;
    const out = await runPhase({ ...options(r), plan });
    expect(out.sessions[0]).toMatchObject({
      agentName: "ReviewAgent",
      status: "Completed",
      retryOf: failed.id,
    });
    const prompt = lastUserText(turns(r.server)[before]?.body);
    expect(prompt).toContain(
      "An earlier attempt at this phase did not finish (The Claude API failed",
    );
  });

  it("gives each agent of a resume step its own fork of the conversation", async () => {
    const r = await rig(agentsModel());
    const pipeline = PipelineSchema.parse({
      steps: [
        { id: "codegen", phase: "CodeGeneration", agent: "CodeGenAgent" },
        { id: "review", phase: "Review", agents: ["ReviewAgent", "SecurityAgent"], mode: "resume" },
      ],
    });
    const events: ProgressEvent[] = [];
    const run = await runPipeline({ ...options(r, pipeline), onProgress: (e) => events.push(e) });
    expect(run.done).toBe(true);
    const source = run.outcomes[0]?.sessions[0]?.result?.claudeSessionId;
    const forks = run.outcomes[1]?.sessions.map((s) => s.result?.claudeSessionId) ?? [];
    expect(forks).toHaveLength(2);
    expect(new Set([source, ...forks]).size).toBe(3);
    const starts = events.filter((e) => e.kind === "start" && e.phase === "Review");
    expect(starts.map((e) => e.message).sort()).toEqual([
      "ReviewAgent started (fork)",
      "SecurityAgent started (fork)",
    ]);
    // Both carry CodeGen's conversation.
    for (const t of turns(r.server).slice(-2))
      expect(JSON.stringify(t.body)).toContain("CodeGenAgent says hi");
  });

  it("plans nothing for a finished pipeline and refuses a missing directory before recording", async () => {
    const r = await rig(agentsModel());
    const short = PipelineSchema.parse({
      steps: [{ id: "codegen", phase: "CodeGeneration", agent: "CodeGenAgent" }],
    });
    await runPipeline(options(r, short));
    expect(await planPhase(options(r, short))).toMatchObject({ done: true });
    expect(await runPipeline(options(r, short))).toEqual({ outcomes: [], done: true });
    const snapshot = JSON.stringify(await r.store.snapshot());
    await expect(
      planPhase({ ...options(r, short), step: "codegen", worktree: "gone" }),
    ).rejects.toMatchObject({ code: "WORKTREE_ERROR" });
    expect(JSON.stringify(await r.store.snapshot())).toBe(snapshot);
  });
});

describe("handoffAndRun", () => {
  async function completedParent(r: Rig): Promise<string> {
    const out = await runPhase({ ...options(r), step: "codegen" });
    return out.sessions[0]?.id as string;
  }

  it("checks the CLI, the directory and the conversation before recording anything", async () => {
    const r = await rig(agentsModel());
    const parent = await completedParent(r);
    const snapshot = JSON.stringify(await r.store.snapshot());
    const base = { store: r.store, from: parent, toAgent: "ReviewAgent", baseDir: r.repo };
    await expect(
      handoffAndRun({
        ...base,
        mode: "fresh",
        claude: { ...r.claude(), executable: path.join(r.root, "no-claude") },
      }),
    ).rejects.toMatchObject({ code: "CLAUDE_NOT_FOUND" });
    await expect(
      handoffAndRun({ ...base, mode: "fresh", claude: r.claude(), cwd: path.join(r.root, "gone") }),
    ).rejects.toMatchObject({ code: "WORKTREE_ERROR" });
    const transcripts = path.join(r.storeDir, "transcripts");
    await fs.rm(transcripts, { recursive: true, force: true });
    await expect(handoffAndRun({ ...base, mode: "resume", claude: r.claude() })).rejects.toThrow(
      /no Claude conversation in the store to resume .*--mode fresh/,
    );
    expect(JSON.stringify(await r.store.snapshot())).toBe(snapshot);
    expect((await r.store.getSession(parent)).status).toBe("Completed");
  });

  it("records a child that fails after the handoff as Failed, and it can be retried", async () => {
    const state = { failReview: false };
    const r = await rig(agentsModel(state));
    const parent = await completedParent(r);
    state.failReview = true;
    const child = await handoffAndRun({
      store: r.store,
      from: parent,
      toAgent: "ReviewAgent",
      phase: "Review",
      mode: "resume",
      claude: r.claude(),
      baseDir: r.repo,
    });
    expect(child.status).toBe("Failed");
    expect(child.errorMessage).toMatch(/^The Claude API failed/);
    expect((await r.store.getSession(parent)).status).toBe("HandedOff");
    const retry = await r.store.retry(child.id);
    expect((await r.store.getSession(retry)).status).toBe("Active");
  });

  it("continues the parent's conversation with --mode resume", async () => {
    const r = await rig(agentsModel());
    const parent = await completedParent(r);
    const resumed = await handoffAndRun({
      store: r.store,
      from: parent,
      toAgent: "ReviewAgent",
      mode: "resume",
      claude: r.claude(),
      baseDir: r.repo,
    });
    expect(resumed.status).toBe("Completed");
    expect(resumed.result?.claudeSessionId).toBe(
      (await r.store.getSession(parent)).result?.claudeSessionId,
    );
  });
});
