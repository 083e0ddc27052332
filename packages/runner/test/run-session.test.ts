import fs from "node:fs/promises";
import path from "node:path";
import { structuredOutputTurn } from "@miyabi/testkit";
import { describe, expect, it } from "vitest";
import { DEFAULT_PIPELINE, PipelineSchema, type ProgressEvent, runPipeline } from "../src/index.js";
import { issue, messagesOf, phase, pidAlive, rig, turns } from "./helpers.js";

/** The Review step is gated: it ends by handing over a verdict. */
const APPROVE = structuredOutputTurn({ verdict: "approve" });

describe("runPhase with the real Claude Code CLI", () => {
  it("records Claude's session id, turns, cost and result, and the raw stream in the log", async () => {
    const r = await rig([{ text: "All done: nothing to change." }]);
    const events: ProgressEvent[] = [];
    const out = await phase(r, { onProgress: (e) => events.push(e) });
    expect(out.status).toBe("completed");
    expect(out.next?.id).toBe("review");
    const [session] = out.sessions;
    expect(session).toMatchObject({ agentName: "CodeGenAgent", status: "Completed" });
    const result = session?.result;
    expect(result?.claudeSessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result).toMatchObject({
      outcome: "success",
      summary: "All done: nothing to change.",
      numTurns: 1,
      exitCode: 0,
    });
    expect(result?.totalCostUsd).toBeGreaterThan(0);
    expect(result?.usage?.outputTokens).toBeGreaterThan(0);
    expect(result?.pid).toBeGreaterThan(0);
    const log = await r.store.readLog(session?.id as string);
    const types = log
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types[0]).toBe("system");
    expect(types.at(-1)).toBe("result");
    expect(events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(["start", "init", "text", "result"]),
    );
    // The prompt carries the issue as delimited data.
    const prompt = JSON.stringify(messagesOf(turns(r.server)[0]?.body));
    expect(prompt).toMatch(/<issue-[0-9a-f]{16}>/);
    expect(prompt).toContain("Please add hello.txt");
  });

  it("lets a scripted Write tool call change a file in the worktree", async () => {
    let target = "";
    const r = await rig((_req, index) =>
      index === 0
        ? { toolUses: [{ name: "Write", input: { file_path: target, content: "hello\n" } }] }
        : { text: "Wrote hello.txt" },
    );
    target = path.join(r.repo, "hello.txt");
    const out = await phase(r);
    expect(out.status).toBe("completed");
    expect(await fs.readFile(target, "utf8")).toBe("hello\n");
    expect(out.sessions[0]?.result?.numTurns).toBe(2);
  });

  it("fails the session with a clear reason on an API 500", async () => {
    const r = await rig([{ error: { status: 500, message: "scripted overload" } }]);
    const out = await phase(r);
    expect(out.status).toBe("failed");
    expect(out.next).toBeNull();
    const [s] = out.sessions;
    expect(s?.status).toBe("Failed");
    expect(s?.errorMessage).toMatch(/^The Claude API failed: API Error: 500/);
    expect(s?.errorMessage).toContain("scripted overload");
    expect(s?.errorMessage).not.toMatch(/\(success\)|\.\./);
    expect(s?.result).toMatchObject({ outcome: "failure", exitCode: 1 });
  });

  it("kills the whole process tree of a hanging run at the timeout and fails the session", async () => {
    const r = await rig([{ hang: true }]);
    const out = await phase(r, {
      claude: r.claude("home", { timeoutMs: 4_000, killGraceMs: 1_000 }),
    });
    const [s] = out.sessions;
    expect(s?.status).toBe("Failed");
    expect(s?.errorMessage).toMatch(/^timeout: Claude did not finish within/);
    expect(s?.result?.outcome).toBe("timeout");
    const pid = s?.result?.pid as number;
    expect(pidAlive(pid)).toBe(false);
    // No process of the group is left.
    expect(() => process.kill(-pid, 0)).toThrow();
  });

  it("marks a cancelled run Failed with reason cancelled", async () => {
    const r = await rig([{ hang: true }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 2_000);
    const out = await phase(r, { signal: controller.signal });
    expect(out.sessions[0]?.errorMessage).toMatch(/^cancelled/);
    expect(out.sessions[0]?.result?.outcome).toBe("cancelled");
  });

  it("refuses a missing claude binary before touching the store", async () => {
    const r = await rig([]);
    const before = JSON.stringify(await r.store.snapshot());
    await expect(
      phase(r, { claude: { executable: path.join(r.root, "no-such-claude") } }),
    ).rejects.toMatchObject({
      code: "CLAUDE_NOT_FOUND",
    });
    await expect(phase(r, { claude: { executable: "claude-not-installed-here" } })).rejects.toThrow(
      /not found on PATH/,
    );
    expect(JSON.stringify(await r.store.snapshot())).toBe(before);
  });

  it("forks to a new Claude session id that keeps the history", async () => {
    const r = await rig([{ text: "codegen says hi" }, APPROVE, { text: "forked test" }]);
    const { outcomes } = await runPipeline({
      store: r.store,
      issue,
      pipeline: { ...DEFAULT_PIPELINE, steps: DEFAULT_PIPELINE.steps.slice(0, 3) },
      repoDir: r.repo,
      claude: r.claude(),
    });
    const ids = outcomes.map((o) => o.sessions[0]?.result?.claudeSessionId);
    expect(ids[1]).toBe(ids[0]); // resume continues the same conversation
    expect(ids[2]).not.toBe(ids[0]); // fork starts a new one
    const forkTurn = turns(r.server).at(-1);
    expect(JSON.stringify(messagesOf(forkTurn?.body))).toContain("codegen says hi");
  });

  it("runs the four-phase pipeline into one lineage", async () => {
    const r = await rig([{ text: "code" }, APPROVE, { text: "tests" }, { text: "pr" }]);
    const { outcomes } = await runPipeline({
      store: r.store,
      issue,
      pipeline: DEFAULT_PIPELINE,
      repoDir: r.repo,
      claude: r.claude(),
    });
    expect(outcomes.map((o) => [o.step.id, o.status])).toEqual([
      ["codegen", "completed"],
      ["review", "completed"],
      ["test", "completed"],
      ["deploy", "completed"],
    ]);
    const last = outcomes.at(-1)?.sessions[0]?.id as string;
    const lineage = await r.store.getLineage(last);
    expect(lineage.map((s) => [s.agentName, s.status, s.context.currentPhase])).toEqual([
      ["CodeGenAgent", "HandedOff", "CodeGeneration"],
      ["ReviewAgent", "HandedOff", "Review"],
      ["TestAgent", "HandedOff", "Test"],
      ["DeployAgent", "Completed", "PullRequest"],
    ]);
    expect(lineage[3]?.context.previousResults.map((p) => p.summary)).toEqual([
      "code",
      '{"verdict":"approve"}',
      "tests",
    ]);
    expect(await r.store.issueHead(42)).toMatchObject({ id: last });
    await expect(phase(r)).rejects.toMatchObject({
      code: "PIPELINE_STATE",
    });
    // The whole pipeline again: nothing to do, and that is not an error.
    const again = await runPipeline({
      store: r.store,
      issue,
      pipeline: DEFAULT_PIPELINE,
      repoDir: r.repo,
      claude: r.claude(),
    });
    expect(again).toEqual({ outcomes: [], done: true });
    expect(turns(r.server)).toHaveLength(4);
  });

  it("never writes the API key into the store, logs or prompts", async () => {
    const secret = "sk-ant-api03-this-is-a-very-secret-test-key";
    const r = await rig([{ text: `echoing ${secret}` }]);
    await phase(r, { claude: r.claude("home", { env: { ANTHROPIC_API_KEY: secret } }) });
    await r.store.close();
    const files = await fs.readdir(r.storeDir, { recursive: true });
    for (const f of files) {
      const full = path.join(r.storeDir, f);
      if ((await fs.stat(full)).isFile())
        expect(await fs.readFile(full, "utf8"), f).not.toContain(secret);
    }
    expect(JSON.stringify(turns(r.server).map((t) => t.body))).not.toContain(secret);
    expect(turns(r.server)[0]?.headers["x-api-key"]).toBe(secret);
  });
});

describe("a step with several agents", () => {
  it("runs them at once as siblings and hands all their results to the next step", async () => {
    const r = await rig((req) => {
      const text = JSON.stringify((req.body as { messages?: unknown[] }).messages);
      if (text.includes("You are SecurityAgent")) return { text: "security: fine" };
      if (text.includes("You are ReviewAgent")) return { text: "review: fine" };
      return { text: "ok" };
    });
    const pipeline = PipelineSchema.parse({
      steps: [
        { id: "codegen", phase: "CodeGeneration", agent: "CodeGenAgent" },
        { id: "review", phase: "Review", agents: ["ReviewAgent", "SecurityAgent"] },
        { id: "test", phase: "Test", agent: "TestAgent" },
      ],
    });
    const { outcomes } = await runPipeline({
      store: r.store,
      issue,
      pipeline,
      repoDir: r.repo,
      claude: r.claude(),
    });
    expect(outcomes.map((o) => o.status)).toEqual(["completed", "completed", "completed"]);
    const [codegen] = outcomes[0]?.sessions ?? [];
    const reviews = outcomes[1]?.sessions ?? [];
    expect(reviews.map((s) => s.agentName)).toEqual(["ReviewAgent", "SecurityAgent"]);
    expect(reviews.every((s) => s.parentSession === codegen?.id)).toBe(true);
    expect(new Set(reviews.map((s) => s.result?.pid)).size).toBe(2);
    for (const s of reviews) expect(await r.store.readLog(s.id)).toContain('"type":"result"');
    expect((await r.store.getSession(codegen?.id as string)).handoffTo).toBe(
      "ReviewAgent,SecurityAgent",
    );
    const test = outcomes[2]?.sessions[0];
    expect(test?.context.previousResults.map((p) => p.summary).sort()).toEqual([
      "ok",
      "review: fine",
      "security: fine",
    ]);
  });
});
