/**
 * The committed bundle, run as the Actions runner runs it, against the testkit's cache service
 * and GitHub API stand-ins (and, where a phase runs, the real Claude Code CLI against the
 * scripted model server).
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import {
  type CacheFaults,
  claudeBinPath,
  type GitHubStub,
  type RecordedRequest,
  type ScriptedTurn,
  unreachableCacheEnv,
  verdictTurn,
} from "@miyabi/testkit";
import { afterAll, describe, expect, it, type TestContext } from "vitest";
import { fakeNpm } from "./fake-npm.js";
import {
  type ActionResult,
  asksForVerdict,
  errorAnnotations,
  freshDir,
  GITHUB_TOKEN,
  ISSUE,
  issueEvent,
  OWNER,
  REPO,
  type RigOptions,
  removeScratch,
  startRig,
  treeText,
  workspaceSessions,
} from "./harness.js";

const API_KEY = "sk-ant-api03-e2e-secret-0123456789abcdef";

afterAll(removeScratch);

function rig(t: TestContext, options: Omit<RigOptions, "apiKey"> = {}) {
  return startRig(t, {
    apiKey: API_KEY,
    permissions: { alice: "admin", bob: "read" },
    issue: { labels: ["miyabi"] },
    ...options,
  });
}

/** Jobs that stop before a phase runs: no Claude Code, and `faults` in the cache service. */
const stoppingRig = (t: TestContext, faults?: CacheFaults) =>
  rig(t, { claude: false, cacheFaults: faults });

function apiCalls(github: GitHubStub): string[] {
  return github.requests.map((r) => `${r.method} ${r.path.replace(`/repos/${OWNER}/${REPO}`, "")}`);
}

/** The key appears once, in the ::add-mask:: command that hides it. */
function expectMasked(result: ActionResult, secret: string): void {
  expect(result.stdout).toContain(`::add-mask::${secret}`);
  expect(result.stdout.split(secret)).toHaveLength(2);
  expect(result.stderr).not.toContain(secret);
}

describe("action bundle: paths that do not run Claude", () => {
  it("skips a non-labeled event with a notice and exit 0", async (t) => {
    const r = await stoppingRig(t);
    const result = await r.job({ payload: issueEvent({ issueNumber: ISSUE, action: "opened" }) });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "::notice::Skipped: this issues (opened) event does not start the pipeline; a trigger label on an issue, a /miyabi comment, a review requesting changes on the pipeline's pull request, or a workflow_dispatch with issue-number does.",
    );
    expect(result.outputs).toMatchObject({ status: "skipped", "cache-key": "", "session-id": "" });
    expect(r.cache.calls).toEqual([]);
    expect(r.github.requests).toEqual([]);
    expectMasked(result, API_KEY);
  });

  it("skips another label and another event type", async (t) => {
    const r = await stoppingRig(t);
    const other = await r.job({ payload: issueEvent({ issueNumber: ISSUE, label: "bug" }) });
    expect(other.code).toBe(0);
    expect(other.stdout).toContain('::notice::Skipped: the label "bug" is not a trigger label');
    const push = await r.job({ eventName: "push", payload: { ref: "refs/heads/main" } });
    expect(push.code).toBe(0);
    expect(push.outputs.status).toBe("skipped");
    expect(r.github.requests).toEqual([]);
  });

  it("refuses a sender without write access; nothing restored", async (t) => {
    const r = await stoppingRig(t);
    const result = await r.job({ payload: issueEvent({ issueNumber: ISSUE, sender: "bob" }) });
    expect(result.code).toBe(1);
    expect(errorAnnotations(result.stdout)).toEqual([
      `@bob added the label, but has "read" access to ${OWNER}/${REPO}; only users with write, maintain or admin access can start the pipeline (the agent runs with this repository's secrets). Ask a maintainer to do it. Nothing was restored or run.`,
    ]);
    expect(result.outputs.status).toBe("failed");
    expect(apiCalls(r.github)).toEqual(["GET /collaborators/bob/permission"]);
    expect(r.github.requests[0]?.query).toEqual({});
    expect(r.cache.calls).toEqual([]);
  });

  it("fails on a missing API key before any cache call", async (t) => {
    const r = await stoppingRig(t);
    const result = await r.job({ inputs: { "anthropic-api-key": "" } });
    expect(result.code).toBe(1);
    expect(errorAnnotations(result.stdout)[0]).toMatch(
      /^Neither anthropic-api-key nor claude-code-oauth-token is set/,
    );
    expect(r.cache.calls).toEqual([]);
    expect(apiCalls(r.github)).toEqual(["GET /collaborators/alice/permission"]);
  });

  it("reports a bad input by name", async (t) => {
    const r = await stoppingRig(t);
    const result = await r.job({ inputs: { "max-turns": "lots" } });
    expect(result.code).toBe(1);
    expect(errorAnnotations(result.stdout)).toEqual([
      `Input "max-turns" is invalid: expected a whole number. See the action's README for its format.`,
    ]);
    expect(r.github.requests).toEqual([]);
  });

  it("a later phase whose exact store is not in the cache fails before running", async (t) => {
    const r = await stoppingRig(t);
    const key = `miyabi-sessions-issue-${ISSUE}-1-7000001-1-0123456789ab`;
    const result = await r.job({ job: "review", inputs: { phase: "review", "cache-key": key } });
    expect(result.code).toBe(1);
    expect(errorAnnotations(result.stdout)[0]).toBe(
      `The previous phase's sessions are not in the cache under "${key}": the entry may have been evicted or deleted, or the key mistyped. Only that exact entry will do; re-run the job that wrote it, or start the pipeline again from its first phase. Nothing was run.`,
    );
    expect(r.cache.calls.map((c) => c.method)).toEqual(["GetCacheEntryDownloadURL"]);
    // No fallback to the issue's newest store.
    expect(r.cache.calls[0]?.body).toMatchObject({ key });
    expect(r.cache.calls[0]?.body).not.toHaveProperty("restore_keys", [expect.anything()]);
    // Nothing about the phase was reported: no labels, no comment.
    expect(apiCalls(r.github)).toEqual([
      "GET /collaborators/alice/permission",
      `GET /issues/${ISSUE}`,
    ]);
  });

  it("an unreachable cache service fails a later phase fast and clearly", async (t) => {
    const r = await stoppingRig(t);
    const started = Date.now();
    const result = await r.job({
      cacheEnv: { ...unreachableCacheEnv(), RUNNER_TEMP: await freshDir("temp") },
      inputs: { phase: "test", "cache-key": `miyabi-sessions-issue-${ISSUE}-1-1-1-aa` },
    });
    expect(result.code).toBe(1);
    // The cause first.
    expect(errorAnnotations(result.stdout)[0]).toMatch(
      /^Failed to GetCacheEntryDownloadURL: .*ECONNREFUSED.*: the cache service failed while restoring the session store/s,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("a cache service that refuses reads (403) fails a later phase clearly", async (t) => {
    const r = await stoppingRig(t, {
      rpcErrors: { GetCacheEntryDownloadURL: "permission_denied" },
    });
    const result = await r.job({
      inputs: { phase: "review", "cache-key": `miyabi-sessions-issue-${ISSUE}-1-1-1-aa` },
    });
    expect(result.code).toBe(1);
    expect(errorAnnotations(result.stdout)[0]).toMatch(
      /^Failed to GetCacheEntryDownloadURL: .*: the cache service failed while restoring/,
    );
  });
});

/* ------------------------------------------------------------------------------------------ */
// Paths that run a phase: the real Claude Code CLI against the scripted model server.

/** Jobs that run a phase: the gated Review approves, every other run answers `text`. */
const phaseRig = (t: TestContext, text = "Done.", faults?: CacheFaults) =>
  rig(t, {
    script: (req: RecordedRequest): ScriptedTurn =>
      asksForVerdict(req) ? verdictTurn() : { text },
    cacheFaults: faults,
  });

const storeSessions = (workspace: string) => workspaceSessions(workspace, ISSUE);

describe("action bundle: saving fails after a phase ran", () => {
  it.for([
    ["409: the key is taken", { createConflict: true }],
    ["403 permission_denied", { rpcErrors: { CreateCacheEntry: "permission_denied" } }],
  ] satisfies [string, CacheFaults][])(
    "%s -> exit 1 with a clear message, the result still reported",
    async ([, faults], t) => {
      const r = await phaseRig(t, "Done.", faults);
      const result = await r.job();
      expect(result.code).toBe(1);
      const [message] = errorAnnotations(result.stdout);
      // The service's own words first, then what it means and where the sessions are.
      expect(message).toMatch(
        /^Failed to CreateCacheEntry: .*: the session store could not be saved to the cache under "miyabi-sessions-issue-7-1-7000001-1-[0-9a-f]{12}"\. The sessions are left in /,
      );
      expect(result.outputs).toMatchObject({
        status: "failed",
        "cache-key": "",
        "next-phase": "",
        "next-agent": "",
      });
      expect(result.summary).toContain("| ▶ | CodeGenAgent | CodeGeneration | Completed |");
      expect(r.github.state.comments).toHaveLength(1);
      expect(r.github.state.comments[0]?.body).toContain("Phase **codegen** failed");
      expect(r.github.state.labels.get(ISSUE)).toEqual(["miyabi", "miyabi:failed"]);
      expect(r.cache.entries()).toEqual([]);
      // Left where the message says, for an artifact step.
      expect(await readdir(path.join(result.workspace, ".ai", "sessions"))).toContain(
        "sessions.json",
      );
    },
  );

  it("500 from the service (retried for ~30 s) -> exit 1", { timeout: 120_000 }, async (t) => {
    const r = await phaseRig(t, "Done.", { rpcErrors: { CreateCacheEntry: "internal" } });
    const result = await r.job();
    expect(result.code).toBe(1);
    expect(r.cache.calls.filter((c) => c.method === "CreateCacheEntry")).toHaveLength(5);
    expect(errorAnnotations(result.stdout).at(-1)).toMatch(
      /^Failed to CreateCacheEntry: Failed to make request after 5 attempts: .*\(500\).*: the session store could not be saved to the cache under "miyabi-sessions-issue-7-1-/,
    );
    expect(result.outputs.status).toBe("failed");
  });
});

describe("action bundle: the Claude Code CLI travels through the Actions cache", () => {
  it("job 1 installs it with npm and saves npm's downloads; job 2, on a fresh runner, installs from them", async (t) => {
    const r = await phaseRig(t);
    // The fake npm "installs" a claude that runs the real CLI, so the phases still run.
    const npm = await fakeNpm({ claude: claudeBinPath() });
    // One path for every job, as /opt/hostedtoolcache is on GitHub-hosted runners.
    const toolCache = await freshDir("hostedtoolcache");
    const key = `miyabi-claude-npm-2.1.332-${process.platform}-${process.arch}`;
    const env = { PATH: `${npm.bin}:/usr/local/bin:/usr/bin:/bin`, RUNNER_TOOL_CACHE: toolCache };
    const first = await r.job({ job: "codegen", env, inputs: { "claude-path": "" } });
    expect(first.code, first.stdout).toBe(0);
    expect(first.stdout).toContain(`Saved npm's downloads for Claude Code 2.1.332 as "${key}".`);
    expect(r.cache.entries().map((e) => e.key)).toContain(key);

    // A fresh machine: nothing left in the tool cache.
    await rm(toolCache, { recursive: true });
    await mkdir(toolCache);
    const second = await r.job({
      job: "review",
      env,
      inputs: { "claude-path": "", "cache-key": first.outputs["cache-key"] ?? "" },
    });
    expect(second.code, second.stdout).toBe(0);
    expect(second.stdout).toContain(
      `Restored npm's downloads for Claude Code 2.1.332 from the cache ("${key}").`,
    );
    // npm ran again (it checks each download against the registry's integrity): nothing
    // executable came from the cache.
    expect(await npm.runs()).toHaveLength(2);
    expect(second.outputs.status).toBe("success");
  });
});

describe("action bundle: a phase whose agent fails", () => {
  it("records and saves the failed session, labels the issue failed and exits 1", async (t) => {
    const r = await rig(t, {
      script: () => ({ error: { status: 500, message: "scripted outage" } }),
    });
    const result = await r.job();
    expect(result.code).toBe(1);
    expect(errorAnnotations(result.stdout).at(-1)).toMatch(/^Phase codegen failed: /);
    expect(result.outputs).toMatchObject({ status: "failed", "next-phase": "" });
    expect(r.cache.entries().map((e) => e.key)).toEqual([result.outputs["cache-key"]]);
    const [session] = await storeSessions(result.workspace);
    expect(session?.status).toBe("Failed");
    expect(r.github.state.labels.get(ISSUE)).toEqual(["miyabi", "miyabi:failed"]);
    expect(r.github.state.comments[0]?.body).toContain(
      "Phase **codegen** failed; the pipeline stopped.",
    );
  });
});

describe("action bundle: the four-job pipeline with Claude Code", () => {
  it("codegen -> review -> test -> deploy, each job on a fresh runner", async (t) => {
    const r = await phaseRig(t, "Phase work done.");
    const results: ActionResult[] = [];
    for (const phase of ["codegen", "review", "test", "deploy"]) {
      const previous = results.at(-1)?.outputs["cache-key"];
      const result = await r.job({
        job: phase,
        inputs: { phase, ...(previous ? { "cache-key": previous } : {}) },
      });
      expect(result.code, `${phase}\n${result.stdout}\n${result.stderr}`).toBe(0);
      results.push(result);
    }
    expect(results.map((x) => x.outputs["next-phase"])).toEqual(["review", "test", "deploy", ""]);
    // The scripted agents changed no file: there is no pull request to open, and the job says so.
    expect(results.map((x) => x.outputs.status)).toEqual([
      "success",
      "success",
      "success",
      "nothing to propose",
    ]);
    expect(results[3]?.summary).toContain("nothing to propose (no phase changed a file)");
    expect(r.github.state.pulls).toEqual([]);
    for (let i = 1; i < 4; i++) {
      expect(results[i]?.outputs["parent-session-id"]).toBe(results[i - 1]?.outputs["session-id"]);
    }
    const last = results[3] as ActionResult;
    const sessions = await storeSessions(last.workspace);
    expect(sessions.map((s) => [s.agentName, s.status])).toEqual([
      ["CodeGenAgent", "HandedOff"],
      ["ReviewAgent", "HandedOff"],
      ["TestAgent", "HandedOff"],
      ["DeployAgent", "Completed"],
    ]);
    expect(r.cache.entries().map((e) => e.key)).toEqual(results.map((x) => x.outputs["cache-key"]));
    expect(r.github.state.comments).toHaveLength(1);
    expect(r.github.state.labels.get(ISSUE)).toEqual(["miyabi", "miyabi:done"]);
    expect(last.summary).toContain("```mermaid\nflowchart TD\n");
    expect(last.stdout).toContain("::group::Phase deploy: DeployAgent");
    // Review resumed CodeGen's conversation on another runner: its request carries CodeGen's
    // prompt and answer, which only the transcript in the restored store could provide.
    const turns = r.model.requests.filter((q) => q.kind === "turn");
    const reviewTurn = JSON.stringify(turns[1]?.body);
    expect(reviewTurn).toContain('in the \\"CodeGeneration\\" phase');
    expect(reviewTurn).toContain('"role":"assistant"');

    // The key reached Claude (the model server saw it) and nothing else.
    expect(r.model.requests.some((q) => q.headers["x-api-key"] === API_KEY)).toBe(true);
    for (const x of results) expectMasked(x, API_KEY);
    const leaks = [
      await treeText(path.join(last.workspace, ".ai", "sessions")),
      ...results.map((x) => x.summary + JSON.stringify(x.outputs)),
      ...r.github.state.comments.map((c) => c.body),
    ].join("\n");
    expect(leaks).not.toContain(API_KEY);
    expect(leaks).not.toContain(GITHUB_TOKEN);
  });

  it("fan-out and fan-in: two parallel reviews folded into the test job", async (t) => {
    const r = await phaseRig(t, "Reviewed.");
    const run = async (name: string, inputs: Record<string, string>) => {
      const result = await r.job({ job: name, inputs });
      expect(result.code, `${name}\n${result.stdout}`).toBe(0);
      return result.outputs;
    };
    const codegen = await run("codegen", { phase: "codegen" });
    const from = { phase: "review", "cache-key": codegen["cache-key"] ?? "" };
    const [a, b] = await Promise.all([run("review-a", from), run("review-b", from)]);
    const merged = await r.job({
      job: "test",
      inputs: {
        phase: "test",
        "cache-key": a?.["cache-key"] ?? "",
        "merge-cache-keys": b?.["cache-key"] ?? "",
      },
    });
    expect(merged.code, merged.stdout).toBe(0);
    expect(merged.stdout).toContain("Merged a parallel job's store: 1 sessions added, 1 updated");
    const sessions = await storeSessions(merged.workspace);
    expect(sessions.map((s) => s.agentName).sort()).toEqual([
      "CodeGenAgent",
      "ReviewAgent",
      "ReviewAgent",
      "TestAgent",
    ]);
    const root = sessions.find((s) => s.agentName === "CodeGenAgent");
    expect(new Set(root?.childSessions)).toEqual(new Set([a?.["session-id"], b?.["session-id"]]));
    expect(await readdir(path.join(merged.workspace, ".ai"))).toEqual(["sessions"]);
  });
});
