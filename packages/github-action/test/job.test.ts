import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { SessionStore } from "@miyabi/core";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ActionInputError,
  type Cache,
  CacheSaveError,
  claudeCacheKey,
  commentMarker,
  installClaude,
  MissingCacheKeyError,
  MissingCredentialError,
  PhaseFailedError,
  type PhaseOutputs,
  runPhaseJob,
  SenderNotAllowedError,
  SessionsNotRestoredError,
  TriggerRefusedError,
  UnknownPhaseError,
} from "../src/index.js";
import { fakeNpm, withPath } from "./fake-npm.js";
import { fakeRunner, type JobRun, job, type World, world } from "./fakes.js";
import { removeScratch } from "./harness.js";

let w: World;

afterAll(removeScratch);

beforeEach(async () => {
  w = await world();
});

afterEach(async () => {
  await w.cleanup();
});

/** A save key: the issue, the session count, run id and attempt, and a random part. */
const KEY = (sessions: number) =>
  new RegExp(`^miyabi-sessions-issue-7-${sessions}-100-1-[0-9a-f]{12}$`);

async function run(j: JobRun): Promise<PhaseOutputs> {
  return runPhaseJob(j.options);
}

/** Run a chain of phases like the example workflow, each job passing its key to the next. */
async function chain(phases: string[]): Promise<PhaseOutputs[]> {
  const outputs: PhaseOutputs[] = [];
  for (const phase of phases) {
    const previous = outputs.at(-1)?.["cache-key"];
    const j = await job(w, { phase, ...(previous ? { "cache-key": previous } : {}) });
    outputs.push(await run(j));
  }
  return outputs;
}

const s0 = (outcome: { sessions: { id: string }[] }) => outcome.sessions[0]?.id ?? "";

async function filesUnder(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    entries.filter((e) => e.isFile()).map((e) => readFile(path.join(e.parentPath, e.name), "utf8")),
  );
  return texts.join("\n");
}

describe("trigger", () => {
  it.each([
    [
      { name: "push" },
      "this push event does not start the pipeline; a trigger label on an issue, a /miyabi comment",
    ],
    [{ name: "issues", action: "opened" }, "this issues (opened) event"],
    [{ name: "issues", action: "labeled", label: "bug" }, 'the label "bug" is not a trigger label'],
  ])("skips %o with a notice and touches nothing", async (event, why) => {
    const j = await job(w, {});
    j.options.event = { ...event, sender: "alice", issueNumber: 7 };
    const outputs = await run(j);
    expect(outputs.status).toBe("skipped");
    expect(j.outputs).toEqual(outputs);
    expect(j.log.lines).toEqual([expect.stringContaining(why)]);
    expect(w.github.calls).toEqual([]);
    expect(w.cache.calls).toEqual([]);
  });

  it("accepts any of several trigger labels", async () => {
    const j = await job(w, { "trigger-labels": "miyabi, ai: go" });
    j.options.event.label = "ai: go";
    expect((await run(j)).status).toBe("success");
  });
});

describe("refusals before anything is restored", () => {
  it("refuses a sender without write access, naming who and why", async () => {
    w.github.permissions.set("mallory", "triage");
    const j = await job(w, {});
    j.options.event.sender = "mallory";
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SenderNotAllowedError);
    expect((error as Error).message).toContain('@mallory added the label, but has "triage" access');
    expect(w.github.calls).toEqual(["permission mallory"]);
    expect(w.cache.calls).toEqual([]);
  });

  it.each(["write", "maintain", "admin"])("lets %s through", async (role) => {
    w.github.permissions.set("bob", role);
    const j = await job(w, {});
    j.options.event.sender = "bob";
    expect((await run(j)).status).toBe("success");
  });

  it("fails on a missing credential before restoring or running", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(w, { "anthropic-api-key": "" }, { runner });
    await expect(run(j)).rejects.toBeInstanceOf(MissingCredentialError);
    expect(w.cache.calls).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("refuses both credentials at once", async () => {
    const j = await job(w, { "claude-code-oauth-token": "oauth-token-value" });
    await expect(run(j)).rejects.toBeInstanceOf(ActionInputError);
    expect(w.cache.calls).toEqual([]);
  });

  it("names the steps when the phase input matches none", async () => {
    const j = await job(w, { phase: "lint" });
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownPhaseError);
    expect(error).toHaveProperty(
      "message",
      expect.stringMatching(
        /"lint" names no step of pipeline "default".*codegen \(CodeGeneration\), review \(Review\)/,
      ),
    );
    expect(w.cache.calls).toEqual([]);
  });

  it("a workflow_dispatch needs an issue number", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(w, {}, { runner });
    j.options.event = { name: "workflow_dispatch", payload: { sender: { login: "alice" } } };
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TriggerRefusedError);
    expect(error).toHaveProperty("code", "TRIGGER_NO_ISSUE_NUMBER");
    expect(j.outputs?.status).toBe("refused");
    expect(w.github.calls).toEqual([]);
    expect(calls).toEqual([]);
  });
});

const comment = (body: string, login = "alice", issue: object = { number: 7 }) => ({
  name: "issue_comment",
  issueNumber: (issue as { number: number }).number,
  payload: {
    action: "created",
    issue,
    comment: { id: 55, body, user: { login, type: login.endsWith("[bot]") ? "Bot" : "User" } },
    sender: { login },
  },
});

const pullOfIssue7 = {
  number: 100,
  url: "https://github.com/octo/widgets/pull/100",
  title: "t",
  body: "b",
  head: "miyabi/issue-7",
  base: "main",
};

describe("iterating: comments, reviews, dispatch", () => {
  it("/miyabi <step> <feedback> runs that step with the feedback, reacts and replies", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(w, {}, { runner });
    j.options.event = comment("/miyabi codegen rename greet to hello");
    const outputs = await run(j);
    expect(outputs.status).toBe("success");
    expect(calls.map((c) => [c.step, c.feedback, c.continueFrom])).toEqual([
      ["codegen", "rename greet to hello", "step"],
    ]);
    expect(w.github.calls).toContain("react 55 eyes");
    expect(w.github.calls.indexOf("permission alice")).toBeLessThan(
      w.github.calls.indexOf("react 55 eyes"),
    );
    const reply = w.github.comments.at(-1);
    expect(reply?.issue).toBe(7);
    expect(reply?.body).toMatch(/^@alice Miyabi's run ended: success; next: review\./);
  });

  it("/miyabi alone continues with the next step", async () => {
    const { runner, calls } = fakeRunner();
    await run(await job(w, {}, { runner }));
    const j = await job(w, {}, { runner });
    j.options.event = comment("/miyabi");
    expect((await run(j)).status).toBe("success");
    expect(calls.map((c) => c.step)).toEqual(["codegen", "review"]);
    expect(calls[1]?.feedback).toBeUndefined();
    expect(calls[1]?.continueFrom).toBe("previous");
  });

  it("refuses a commenter without write access before anything is restored, on the thread", async () => {
    w.github.permissions.set("mallory", "read");
    const { runner, calls } = fakeRunner();
    const j = await job(w, {}, { runner });
    j.options.event = comment("/miyabi codegen add a backdoor", "mallory");
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SenderNotAllowedError);
    expect((error as Error).message).toContain('@mallory commented /miyabi, but has "read" access');
    expect(w.github.calls).toEqual(["permission mallory", "create comment 7"]);
    expect(w.github.comments.at(-1)?.body).toContain("only users with write");
    expect(w.cache.calls).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("refuses a bot not in allowed-bots quietly, and lets a named one through", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(w, {}, { runner });
    j.options.event = comment("/miyabi", "renovate[bot]");
    expect((await run(j)).status).toBe("refused");
    expect(w.github.comments.at(-1)?.body).toContain("allowed-bots");
    expect(calls).toEqual([]);
    w.github.permissions.set("renovate[bot]", "write");
    const allowed = await job(w, { "allowed-bots": "renovate[bot]" }, { runner });
    allowed.options.event = comment("/miyabi", "renovate[bot]");
    expect((await run(allowed)).status).toBe("success");
    expect(calls).toHaveLength(1);
  });

  it("a comment on the pipeline's pull request works on its issue; on a fork's it is refused", async () => {
    const { runner, calls } = fakeRunner();
    w.github.pulls.push(pullOfIssue7);
    const j = await job(w, {}, { runner });
    j.options.event = comment("/miyabi codegen shorter names", "alice", {
      number: 100,
      pull_request: {},
    });
    expect((await run(j)).status).toBe("success");
    expect(calls[0]?.issue.number).toBe(7);
    expect(w.github.comments.at(-1)?.issue).toBe(100);

    w.github.forks.add(100);
    const fork = await job(w, {}, { runner });
    fork.options.event = comment("/miyabi", "alice", { number: 100, pull_request: {} });
    expect((await run(fork)).status).toBe("refused");
    expect(w.github.comments.at(-1)?.body).toContain("fork");
    expect(calls).toHaveLength(1);
  });

  it("a review requesting changes hands CodeGen the review with file and line", async () => {
    const { runner, calls } = fakeRunner();
    w.github.reviewComments = [{ path: "src/greet.ts", line: 3, body: "call it hello" }];
    const j = await job(w, {}, { runner });
    const repo = { full_name: "octo/widgets" };
    j.options.event = {
      name: "pull_request_review",
      payload: {
        action: "submitted",
        review: {
          id: 9,
          body: "Rename, please.",
          state: "changes_requested",
          user: { login: "alice" },
        },
        pull_request: { number: 100, head: { ref: "miyabi/issue-7", repo }, base: { repo } },
        sender: { login: "alice" },
      },
    };
    expect((await run(j)).status).toBe("success");
    expect(calls[0]?.step).toBe("codegen");
    expect(calls[0]?.continueFrom).toBe("step");
    expect(calls[0]?.feedback).toBe("Rename, please.\n\n- src/greet.ts:3: call it hello");
    expect(w.github.calls).toContain("review comments 100 9");
  });

  it("a workflow_dispatch with issue-number and phase runs that phase on the issue's newest store", async () => {
    const { runner, calls } = fakeRunner();
    await run(await job(w, {}, { runner }));
    const j = await job(w, { "issue-number": "7", phase: "review" }, { runner });
    j.options.event = { name: "workflow_dispatch", payload: { sender: { login: "alice" } } };
    expect((await run(j)).status).toBe("success");
    expect(calls.map((c) => c.step)).toEqual(["codegen", "review"]);
    expect(w.github.calls).toContain("permission alice");
  });
});

describe("budgets", () => {
  it("does not start a phase once the issue's recorded cost reaches budget-usd", async () => {
    const { runner, calls } = fakeRunner();
    const first = await run(await job(w, { "budget-usd": "0.02" }, { runner }));
    expect(first.status).toBe("success");
    const j = await job(
      w,
      { phase: "review", "cache-key": first["cache-key"], "budget-usd": "0.01" },
      { runner },
    );
    const outputs = await run(j);
    expect(outputs.status).toBe("over-budget");
    expect(outputs["cache-key"]).toBe(first["cache-key"]);
    expect(calls).toHaveLength(1);
    const message = "Spent $0.0125 of the $0.0100 budget for issue #7";
    expect(j.log.lines).toContainEqual(expect.stringContaining(message));
    expect(w.github.comments.at(-1)?.body).toContain("raise budget-usd to continue");
    expect(w.github.issues.get(7)?.labels).toContain("miyabi:over-budget");
    expect(w.summaries.at(-1)).toContain(message);
  });

  it("passes the phase budget, capped by what is left of the issue's", async () => {
    const { runner, calls } = fakeRunner();
    const first = await run(await job(w, { "max-budget-usd": "5" }, { runner }));
    await run(
      await job(
        w,
        {
          phase: "review",
          "cache-key": first["cache-key"],
          "max-budget-usd": "5",
          "budget-usd": "1",
        },
        { runner },
      ),
    );
    expect(calls.map((c) => [c.claude.maxBudgetUsd, c.issueBudget?.remainingUsd])).toEqual([
      [5, null],
      [5, 0.9875],
    ]);
  });
});

describe("restoring", () => {
  it("a later phase without a cache key fails clearly, without running", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(w, { phase: "review" }, { runner });
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingCacheKeyError);
    expect(calls).toEqual([]);
    expect(w.cache.calls).toEqual([]);
  });

  it("a missing exact key fails clearly, even when the issue has other stores", async () => {
    await chain(["codegen"]);
    const { runner, calls } = fakeRunner();
    const key = "miyabi-sessions-issue-7-1-99-1-gone";
    const j = await job(w, { phase: "review", "cache-key": key }, { runner });
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionsNotRestoredError);
    expect((error as Error).message).toMatch(
      /^The previous phase's sessions are not in the cache under "miyabi-sessions-issue-7-1-99-1-gone": .* Only that exact entry will do;/,
    );
    expect(calls).toEqual([]);
    expect(w.cache.calls.at(-1)).toMatchObject({ op: "restore", key, restoreKeys: [] });
  });

  it("an unreachable cache service: the cause comes first", async () => {
    w.cache.down = true;
    const j = await job(w, { phase: "codegen" });
    await expect(run(j)).rejects.toThrow(
      /^connect ECONNREFUSED 127\.0\.0\.1:1: the cache service failed while restoring/,
    );
  });

  it("starts a new store for the first phase", async () => {
    const [first] = await chain(["codegen"]);
    expect(first?.status).toBe("success");
    expect(w.cache.calls[0]).toEqual({
      op: "restore",
      paths: [".ai/sessions"],
      key: "miyabi-sessions-issue-7-",
      restoreKeys: [],
    });
  });

  it("keeps the store out of the workspace while the agent runs", async () => {
    const [first] = await chain(["codegen"]);
    let seen: string[] = [];
    const { runner } = fakeRunner();
    const j = await job(
      w,
      { phase: "review", "cache-key": first?.["cache-key"] ?? "" },
      {
        runner: {
          ...runner,
          runPhase: async (options) => {
            seen = await readdir(w.workspace);
            return runner.runPhase(options);
          },
        },
      },
    );
    await run(j);
    expect(seen).not.toContain(".ai");
    // Once the agents are done, the store is copied to store-path for later steps.
    expect(await readdir(path.join(w.workspace, ".ai/sessions"))).toContain("sessions.json");
  });
});

describe("a phase that runs", () => {
  it("sets every output and saves under a new key", async () => {
    const j = await job(w, { phase: "codegen" });
    const outputs = await run(j);
    const store = await SessionStore.open({ dir: path.join(w.workspace, ".ai/sessions") });
    const [session] = await store.issueSessions(7);
    await store.close();
    expect(outputs).toEqual({
      "session-id": session?.id,
      "parent-session-id": "",
      "claude-session-id": "11111111-2222-4333-8444-555555555555",
      status: "success",
      "next-phase": "review",
      "next-agent": "ReviewAgent",
      "cache-key": expect.stringMatching(KEY(1)),
      "cost-usd": "0.0125",
      turns: "3",
      summary: "codegen done",
      "pull-request-url": "",
      "pull-request-number": "",
      "issue-number": "7",
    });
    expect(j.outputs).toEqual(outputs);
    expect([...w.cache.entries.keys()]).toEqual([outputs["cache-key"]]);
  });

  it("chains four phases: parent links, one edited comment, state labels to done", async () => {
    const outputs = await chain(["codegen", "review", "test", "deploy"]);
    expect(outputs.map((o) => o["next-phase"])).toEqual(["review", "test", "deploy", ""]);
    expect(outputs.map((o) => o["cache-key"])).toEqual(
      [1, 2, 3, 4].map((n) => expect.stringMatching(KEY(n))),
    );
    for (let i = 1; i < 4; i++) {
      expect(outputs[i]?.["parent-session-id"]).toBe(outputs[i - 1]?.["session-id"]);
    }
    expect(w.github.comments).toHaveLength(1);
    const body = w.github.comments[0]?.body ?? "";
    expect(body.startsWith(`${commentMarker(7)}\n`)).toBe(true);
    expect(body).toContain("Phase **deploy** succeeded; the pipeline is done.");
    expect(body.match(/^\| ▶? ?\| \w+Agent \|/gm)).toHaveLength(4);
    expect(w.github.issues.get(7)?.labels).toEqual(["miyabi", "miyabi:done"]);
    expect(w.github.calls.filter((c) => /^(add|remove) /.test(c))).toEqual([
      "add miyabi:codegen",
      "remove miyabi:codegen",
      "add miyabi:review",
      "remove miyabi:review",
      "add miyabi:test",
      "remove miyabi:test",
      "add miyabi:deploy",
      "remove miyabi:deploy",
      "add miyabi:done",
    ]);
  });

  it("writes a summary with the lineage graph and the phase table", async () => {
    await chain(["codegen", "review"]);
    const summary = w.summaries[1] ?? "";
    expect(summary).toContain("```mermaid\nflowchart TD\n");
    expect(summary).toMatch(
      / {2}s[0-9a-f]{32}\["CodeGenAgent<br\/>CodeGeneration<br\/>HandedOff"\]/,
    );
    expect(summary).toMatch(/ {2}s[0-9a-f]{32} --> s[0-9a-f]{32}/);
    expect(summary).toContain("| Agent | Phase | Status | Turns | Cost | Duration | Session |");
    expect(summary).toMatch(
      /\| ▶ \| ReviewAgent \| Review \| Completed \| 3 \| \$0\.0125 \| 4s \|/,
    );
  });

  it("continues from the head session when no phase is given", async () => {
    await chain(["codegen"]);
    const j = await job(w, {});
    expect((await run(j))["next-phase"]).toBe("test");
  });

  it("skips when every phase has run, passing the restored key on", async () => {
    const outputs = await chain(["codegen", "review", "test", "deploy"]);
    const j = await job(w, {});
    const last = await run(j);
    expect(last).toMatchObject({ status: "skipped", "cache-key": outputs[3]?.["cache-key"] });
    expect(j.log.lines).toContain(
      'notice: Skipped: every phase of "default" has run for issue #7.',
    );
  });

  it("edits only its own progress comment: a stranger's marker comment is left alone", async () => {
    const stranger = `${commentMarker(7)}\n<!-- miyabi-sessions:author 0123 -->\nfake progress`;
    w.github.comments.push(
      {
        id: 50,
        issue: 7,
        body: "Looks good! <!-- miyabi-sessions:issue-7 --> quoted",
        author: "eve",
      },
      { id: 51, issue: 7, body: stranger, author: "eve" },
      {
        id: 52,
        issue: 8,
        body: `${commentMarker(8)}\nanother issue`,
        author: "github-actions[bot]",
      },
    );
    await chain(["codegen"]);
    const own = w.github.comments.find((c) => c.issue === 7 && c.author === "github-actions[bot]");
    expect(own?.body).toContain("Phase **codegen** succeeded; next: **review**.");
    expect(w.github.comments.find((c) => c.id === 51)?.body).toBe(stranger);
    // The stranger copies the action's comment, signature and all: still not taken for it.
    const copied = own?.body ?? "";
    w.github.comments.push({ id: 60, issue: 7, body: copied, author: "eve" });
    w.github.calls.length = 0;
    await chain(["codegen"]);
    expect(w.github.comments.find((c) => c.id === 60)?.body).toBe(copied);
    expect(w.github.calls).toContain(`update comment ${own?.id}`);
    expect(w.github.calls).not.toContain("update comment 60");
    expect(w.github.comments.filter((c) => c.issue === 7 && c.author !== "eve")).toHaveLength(1);
  });

  it("logs progress on one line each, so agent text cannot issue workflow commands", async () => {
    const j = await job(w, {});
    await run(j);
    const start = j.log.lines.indexOf("group: Phase codegen: CodeGenAgent");
    expect(j.log.lines[start + 1]).toBe(
      "[2s] CodeGenAgent/CodeGeneration text (turn 1, $0.0100): working ⏎ ::warning::not a command",
    );
    expect(j.log.lines[start + 2]).toBe("endgroup");
  });

  it("gives the key to the runner's credential proxy only, never to the store or reports", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(w, {}, { runner });
    await run(j);
    expect(calls[0]?.claude).toMatchObject({
      executable: "/opt/claude/bin/claude",
      credential: { name: "ANTHROPIC_API_KEY", value: "sk-ant-unit-secret-key" },
      sandbox: "required",
      allowProtectedPaths: [],
    });
    // Nothing of this process's environment is handed on: the runner builds the agent's.
    expect(calls[0]?.claude.env).toBeUndefined();
    const hidden = calls[0]?.claude.hiddenPaths ?? [];
    expect(hidden).toContain(j.options.tempDir);
    expect(hidden.some((p) => w.workspace.startsWith(p))).toBe(false);
    expect(calls[0]?.trustedDir).toMatch(/trusted$/);
    expect(JSON.stringify(calls[0]?.issue)).not.toContain("sk-ant");
    const everything = [
      await filesUnder(path.join(w.workspace, ".ai/sessions")),
      ...w.summaries,
      ...w.github.comments.map((c) => c.body),
      ...j.log.lines,
      JSON.stringify(j.outputs),
    ].join("\n");
    expect(everything).not.toContain("sk-ant-unit-secret-key");
  });

  it("redacts every exit: a secret in the agent's answer leaves the job as ***", async () => {
    const { runner } = fakeRunner();
    const leaky: typeof runner = {
      ...runner,
      runPhase: async (options) => {
        const outcome = await runner.runPhase(options);
        const encoded = Buffer.from("ghs_token runtime-token-secret").toString("base64");
        const summary = `env: ghs_token runtime-token-secret ${encoded} sk-ant-unit-secret-key`;
        options.onProgress?.({
          sessionId: s0(outcome),
          agent: "CodeGenAgent",
          phase: "CodeGeneration",
          kind: "text",
          message: summary,
          turns: 1,
          costUsd: null,
          elapsedMs: 1,
        });
        // What the agent answered, as the outputs and the report carry it.
        const sessions = outcome.sessions.map((s) =>
          s.result ? { ...s, result: { ...s.result, summary } } : s,
        );
        return { ...outcome, sessions };
      },
    };
    const j = await job(w, {}, { runner: leaky });
    await run(j).catch(() => undefined);
    const everything = [
      ...w.summaries,
      ...w.github.comments.map((c) => c.body),
      ...j.log.lines,
      JSON.stringify(j.outputs),
    ].join("\n");
    expect(j.outputs?.summary).toContain("***");
    for (const secret of ["ghs_token", "runtime-token-secret", "sk-ant-unit-secret-key"]) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(Buffer.from(secret).toString("base64").slice(0, 12));
    }
  });

  it("passes the OAuth token as the credential and the Claude options through", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(
      w,
      {
        "anthropic-api-key": "",
        "claude-code-oauth-token": "oauth-value",
        model: "claude-opus-4-1",
        "claude-args": `--append-system-prompt "be brief" --add-dir '/tmp/a b'`,
        "max-turns": "7",
        "timeout-minutes": "1.5",
        "handoff-mode": "fork",
        sandbox: "off",
      },
      { runner },
    );
    await run(j);
    expect(calls[0]?.claude).toMatchObject({
      credential: { name: "CLAUDE_CODE_OAUTH_TOKEN", value: "oauth-value" },
      model: "claude-opus-4-1",
      extraArgs: ["--append-system-prompt", "be brief", "--add-dir", "/tmp/a b"],
      maxTurns: 7,
      timeoutMs: 90_000,
      mode: "fork",
      sandbox: "off",
    });
    // A conscious widening, flagged where people look.
    expect(w.summaries[0]).toContain("> [!WARNING]\n> sandbox off");
    expect(w.github.comments[0]?.body).toContain("sandbox off");
  });

  it("installs Claude only when no path is given and none is on PATH", async () => {
    const { runner, calls } = fakeRunner();
    const j = await job(w, { "claude-path": "", "claude-version": "2.1.400" }, { runner });
    await run(j);
    expect(w.installs).toEqual(["2.1.400"]);
    expect(calls[0]?.claude.executable).toBe(
      "/tool-cache/miyabi-claude/2.1.400/node_modules/.bin/claude",
    );
  });
});

describe("installing Claude through the Actions cache", () => {
  it("a refused or failing save of the CLI is a warning: the phase runs and the store is saved", async () => {
    const { runner, calls } = fakeRunner();
    const npm = await fakeNpm();
    const toolRoot = path.join(w.root, "tool-cache");
    // The session store's saves go through; only the CLI's throws.
    const cliCache: Cache = {
      download: (...args) => w.cache.download(...args),
      save: async () => {
        throw new Error("Cache service responded with 503");
      },
    };
    const j = await job(w, { "claude-path": "", "claude-version": "2.1.400" }, { runner });
    j.options.installClaude = (version) =>
      installClaude({
        version,
        toolRoot,
        root: w.workspace,
        scratch: path.join(w.root, "claude-scratch"),
        cache: cliCache,
        log: j.log,
      });
    const outputs = await withPath(npm.bin, () => run(j));
    expect(outputs.status).toBe("success");
    expect(calls[0]?.claude.executable).toBe(
      path.join(toolRoot, "miyabi-claude", "2.1.400", "node_modules", ".bin", "claude"),
    );
    expect(j.log.lines).toContain(
      `warning: npm's downloads for Claude Code 2.1.400 were not saved to the cache as "${claudeCacheKey("2.1.400")}" (Cache service responded with 503); the next job downloads them again.`,
    );
    expect([...w.cache.entries.keys()]).toEqual([outputs["cache-key"]]);
  });
});

describe("failures after the phase ran are reported first", () => {
  it.each([
    ["is refused", "refuse", /^read ECONNRESET: the session store could not be saved/],
    ["throws", "throw", /^Path Validation Error: injected: the session store could not be saved/],
  ] as const)(
    "a save that %s fails the job, cause first, and the issue says so",
    async (_what, fault, cause) => {
      w.cache.saveFault = fault;
      const j = await job(w, {});
      const error = await run(j).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CacheSaveError);
      const message = (error as Error).message;
      expect(message).toMatch(cause);
      // Where the work was left, for an artifact step or a re-run.
      expect(message).toContain(
        `The sessions are left in ${path.join(w.workspace, ".ai/sessions")}`,
      );
      expect(j.outputs).toMatchObject({ status: "failed", "cache-key": "", "next-phase": "" });
      expect(w.summaries[0]).toContain("| ▶ | CodeGenAgent | CodeGeneration | Completed |");
      const comment = w.github.comments[0]?.body ?? "";
      expect(comment).toContain("Phase **codegen** failed; the pipeline stopped.");
      expect(comment).toMatch(/```text\n(read ECONNRESET|Path Validation Error)/);
      expect(comment).not.toContain("Sessions saved in the Actions cache");
      expect(w.github.issues.get(7)?.labels).toEqual(["miyabi", "miyabi:failed"]);
    },
  );

  it("a failed phase saves its sessions, labels the issue failed and fails the job", async () => {
    const j = await job(w, {}, { runner: fakeRunner(() => "fail").runner });
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhaseFailedError);
    expect((error as Error).message).toContain("Phase codegen failed: the agent gave up.");
    expect(j.outputs).toMatchObject({ status: "failed", "next-phase": "", "next-agent": "" });
    expect(j.outputs?.["cache-key"]).toMatch(KEY(1));
    expect(w.cache.entries.size).toBe(1);
    expect(w.github.issues.get(7)?.labels).toEqual(["miyabi", "miyabi:failed"]);
    expect(w.github.comments[0]?.body).toContain("Phase **codegen** failed; the pipeline stopped.");
    expect(w.github.comments[0]?.body).toContain(
      "```text\nPhase codegen failed: the agent gave up.",
    );
  });

  it("a runner that throws still closes, saves and reports, then fails with its error", async () => {
    const j = await job(w, {}, { runner: fakeRunner(() => "throw").runner });
    await expect(run(j)).rejects.toThrow("runner exploded");
    expect(j.outputs?.status).toBe("failed");
    expect(w.cache.entries.size).toBe(1);
    expect(w.github.issues.get(7)?.labels).toContain("miyabi:failed");
  });

  it("a comment the token may not write is a warning, not a lost phase", async () => {
    w.github.failComments = true;
    const j = await job(w, {});
    expect((await run(j)).status).toBe("success");
    expect(j.log.lines).toContain(
      "warning: Could not update the progress comment (the github-token needs issues: write): Resource not accessible by integration.",
    );
  });
});

describe("parallel legs", () => {
  it("two matrix legs identical in every input save under distinct keys", async () => {
    const [codegen] = await chain(["codegen"]);
    const from = { phase: "review", "cache-key": codegen?.["cache-key"] ?? "" };
    const a = await run(await job(w, from));
    const b = await run(await job(w, from));
    expect(a["cache-key"]).toMatch(KEY(2));
    expect(b["cache-key"]).toMatch(KEY(2));
    expect(a["cache-key"]).not.toBe(b["cache-key"]);
    expect(w.cache.entries.size).toBe(3);
  });
});

describe("fan-in with merge-cache-keys", () => {
  it("folds the stores of parallel jobs into this job's store before running", async () => {
    const [codegen] = await chain(["codegen"]);
    const parallel: PhaseOutputs[] = [];
    for (let leg = 0; leg < 2; leg++) {
      const j = await job(w, { phase: "review", "cache-key": codegen?.["cache-key"] ?? "" });
      parallel.push(await run(j));
    }
    const merge = await job(w, {
      phase: "test",
      "cache-key": parallel[0]?.["cache-key"] ?? "",
      "merge-cache-keys": parallel[1]?.["cache-key"] ?? "",
    });
    const outputs = await run(merge);

    const store = await SessionStore.open({ dir: path.join(w.workspace, ".ai/sessions") });
    const sessions = await store.issueSessions(7);
    await store.close();
    expect(sessions.map((s) => s.agentName)).toEqual([
      "CodeGenAgent",
      "ReviewAgent",
      "ReviewAgent",
      "TestAgent",
    ]);
    expect(sessions[0]?.childSessions).toEqual(parallel.map((p) => p["session-id"]));
    expect(outputs["cache-key"]).toMatch(KEY(4));
    expect(merge.log.lines).toContain(
      "Merged a parallel job's store: 1 sessions added, 1 updated, 0 conflicts.",
    );
    expect(await readdir(path.dirname(path.join(w.workspace, ".ai/sessions")))).toEqual([
      "sessions",
    ]);
  });

  it("fails when a store to merge is missing, running nothing", async () => {
    const [codegen] = await chain(["codegen"]);
    const { runner, calls } = fakeRunner();
    const j = await job(
      w,
      {
        phase: "review",
        "cache-key": codegen?.["cache-key"] ?? "",
        "merge-cache-keys": "miyabi-sessions-issue-7-1-100-1-nope",
      },
      { runner },
    );
    await expect(run(j)).rejects.toThrow(
      /^The sessions to merge \(merge-cache-keys\) are not in the cache under "miyabi-sessions-issue-7-1-100-1-nope"/,
    );
    expect(calls).toEqual([]);
  });
});
