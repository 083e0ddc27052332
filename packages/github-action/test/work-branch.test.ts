/**
 * The work travelling with the session: runPhaseJob against real git (a bare repository as
 * origin, a fresh clone per job) and the fakes for everything else.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type PhaseOutputs,
  PullRequestError,
  PushRejectedError,
  patchPaths,
  refusedPath,
  runPhaseJob,
  WorkBranchError,
} from "../src/index.js";
import { type Behaviour, fakeRunner, job, type World, world } from "./fakes.js";
import { sh } from "./git.js";

const BRANCH = "miyabi/issue-7";
let w: World;

beforeEach(async () => {
  w = await world();
});

afterEach(async () => {
  await w.cleanup();
});

interface ChainOptions {
  inputs?: Record<string, string>;
  /** Called while each phase's agent runs, before the action pushes. */
  during?: (phase: string) => void;
  behaviour?: Behaviour;
  /** GITHUB_RUN_ATTEMPT: a re-run of a job is its run's next attempt. */
  attempt?: number;
}

async function phase(
  name: string,
  previous: PhaseOutputs | undefined,
  o: ChainOptions = {},
): Promise<PhaseOutputs> {
  const { runner } = fakeRunner(() => {
    o.during?.(name);
    return o.behaviour ?? "complete";
  });
  const key = previous?.["cache-key"];
  const j = await job(
    w,
    { phase: name, ...(key ? { "cache-key": key } : {}), ...o.inputs },
    {
      runner,
    },
  );
  j.options.context = { ...j.options.context, runAttempt: o.attempt ?? 1 };
  return runPhaseJob(j.options);
}

async function chain(phases: string[], o: ChainOptions = {}): Promise<PhaseOutputs[]> {
  const outputs: PhaseOutputs[] = [];
  for (const name of phases) outputs.push(await phase(name, outputs.at(-1), o));
  return outputs;
}

const remoteBranch = () => sh(w.origin, "branch", "--list", BRANCH);
const subjects = () => sh(w.origin, "log", "--format=%s", BRANCH).split("\n");

describe("pushing to the issue's branch", () => {
  it("one commit per phase on the branch, the store never committed, one pull request", async () => {
    const outputs = await chain(["codegen", "review", "test", "deploy"]);
    expect(subjects()).toEqual([
      "PullRequest: DeployAgent for #7",
      "Test: TestAgent for #7",
      "Review: ReviewAgent for #7",
      "CodeGeneration: CodeGenAgent for #7",
      "initial",
    ]);
    const bodies = sh(w.origin, "log", "--format=%b", BRANCH);
    for (const o of outputs) expect(bodies).toContain(`Miyabi session ${o["session-id"]}`);
    const files = sh(w.origin, "log", "--name-only", "--format=", BRANCH).split("\n");
    expect(files.filter((f) => f.startsWith(".ai"))).toEqual([]);
    expect(sh(w.workspace, "status", "--porcelain")).toBe("");
    expect(sh(w.origin, "log", "--format=%s", "main")).toBe("initial");

    expect(w.github.pulls).toEqual([
      expect.objectContaining({
        number: 100,
        head: BRANCH,
        base: "main",
        title: "Miyabi: Add a counter",
      }),
    ]);
    const body = w.github.pulls[0]?.body ?? "";
    expect(body).toMatch(/^Closes #7\n/);
    expect(body).toContain("```mermaid\nflowchart TD");
    expect(body).toContain("| ▶ | DeployAgent | PullRequest | Completed | 3 | $0.0125 |");
    const last = outputs[3] as PhaseOutputs;
    expect(last["pull-request-url"]).toBe("https://github.com/octo/widgets/pull/100");
    expect(last["pull-request-number"]).toBe("100");
    expect(outputs.slice(0, 3).map((o) => o["pull-request-url"])).toEqual(["", "", ""]);
    expect(w.summaries.at(-1)).toContain(
      "Pull request: [#100](https://github.com/octo/widgets/pull/100)",
    );
    expect(w.github.comments[0]?.body).toContain("Pull request: [#100]");
  });

  it("a re-run of the final phase updates the open pull request instead of opening another", async () => {
    const outputs = await chain(["codegen", "review", "test", "deploy"]);
    const again = await phase("deploy", outputs[2], { attempt: 2 });
    expect(again["pull-request-number"]).toBe("100");
    expect(w.github.pulls).toHaveLength(1);
    expect(w.github.calls.filter((c) => c.includes("pull"))).toEqual([
      `list pulls ${BRANCH}`,
      "create pull miyabi/issue-7 -> main",
      `list pulls ${BRANCH}`,
      "update pull 100",
    ]);
  });

  it("draft: the new pull request is a draft, and whoever asked is requested as reviewer", async () => {
    const j = await job(w, {
      phase: "codegen",
      "pull-request-phase": "CodeGeneration",
      draft: "true",
    });
    await runPhaseJob(j.options);
    expect(w.github.pulls[0]).toMatchObject({ number: 100, draft: true });
    expect(w.github.calls).toContain("request reviewers 100 alice");
  });

  it("the pull request goes to the event's default branch", async () => {
    const j = await job(w, { phase: "codegen", "pull-request-phase": "CodeGeneration" });
    j.options.event.defaultBranch = "trunk";
    await runPhaseJob(j.options);
    expect(w.github.pulls[0]?.base).toBe("trunk");
  });

  it("rebases over a foreign push to the branch and keeps it", async () => {
    await chain(["codegen", "review"], {
      during: (name) => {
        if (name === "review") foreignPush("NOTES.md");
      },
    });
    expect(subjects()).toEqual([
      "Review: ReviewAgent for #7",
      "foreign change",
      "CodeGeneration: CodeGenAgent for #7",
      "initial",
    ]);
  });

  it("a conflicting foreign push fails clearly and is not overwritten", async () => {
    const first = await phase("codegen", undefined);
    const j = await job(
      w,
      { phase: "review", "cache-key": first["cache-key"] },
      {
        runner: fakeRunner(() => {
          foreignPush("work/review.txt");
          return "complete";
        }).runner,
      },
    );
    const error = await runPhaseJob(j.options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushRejectedError);
    expect(error).toMatchObject({ code: "PUSH_REJECTED" });
    expect((error as Error).message).toMatch(
      /^Pushing the phase's commits to miyabi\/issue-7 was rejected: its new commits on origin conflict with this phase's/,
    );
    expect(subjects()[0]).toBe("foreign change");
    // Reported as failed, with the store saved for a re-run.
    expect(j.outputs?.status).toBe("failed");
    expect(w.github.issues.get(7)?.labels).toEqual(["miyabi", "miyabi:failed"]);
    expect(w.github.comments[0]?.body).toContain("Phase **review** failed; the pipeline stopped.");
    expect(w.cache.entries.size).toBe(2);
    expect(sh(w.workspace, "status", "--porcelain")).toBe("");
  });

  it("a failed phase pushes nothing", async () => {
    const error = await phase("codegen", undefined, { behaviour: "fail" }).catch((e) => e);
    expect(error).toMatchObject({ code: "PHASE_FAILED" });
    expect(remoteBranch()).toBe("");
  });

  it("a push without credentials says what the workflow needs", async () => {
    const j = await job(w, { phase: "codegen" });
    sh(w.workspace, "remote", "set-url", "--push", "origin", path.join(w.root, "missing.git"));
    const error = await runPhaseJob(j.options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkBranchError);
    expect((error as Error).message).toContain("permissions: contents: write");
    expect(j.outputs?.status).toBe("failed");
  });

  it("a pull request the token may not open fails the job after reporting", async () => {
    w.github.failPulls = true;
    const j = await job(w, { phase: "codegen", "pull-request-phase": "codegen" });
    const error = await runPhaseJob(j.options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestError);
    expect(remoteBranch()).not.toBe("");
    expect(w.summaries).toHaveLength(1);
  });
});

describe("push: false, the work travelling as patches in the store", () => {
  it("nothing is pushed before the final phase, which pushes every phase's commit", async () => {
    const seen: boolean[] = [];
    const outputs = await chain(["codegen", "review", "test", "deploy"], {
      inputs: { push: "false" },
      during: (name) => {
        if (name === "review") seen.push(existsSync(path.join(w.workspace, "work/codegen.txt")));
        if (name !== "deploy") seen.push(remoteBranch() === "");
      },
    });
    expect(seen).toEqual([true, true, true, true]);
    expect(subjects()).toEqual([
      "PullRequest: DeployAgent for #7",
      "Test: TestAgent for #7",
      "Review: ReviewAgent for #7",
      "CodeGeneration: CodeGenAgent for #7",
      "initial",
    ]);
    const files = sh(w.origin, "log", "--name-only", "--format=", BRANCH).split("\n");
    expect(files.filter((f) => f.startsWith(".ai"))).toEqual([]);
    expect(outputs[3]?.["pull-request-number"]).toBe("100");
    expect(w.github.pulls).toHaveLength(1);
  });
});

/**
 * Push a commit to the branch from another clone, as someone else would; synchronous, since it
 * runs inside the fake agent's turn, between the phase starting and the action's push.
 */
function foreignPush(file: string): void {
  const clone = mkdtempSync(path.join(w.root, "foreign-"));
  sh(clone, "clone", "--quiet", w.origin, ".");
  sh(clone, "switch", "--quiet", ...(remoteBranch() ? [BRANCH] : ["-c", BRANCH]));
  mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
  writeFileSync(path.join(clone, file), "someone else's\n");
  sh(clone, "add", file);
  sh(clone, "commit", "--quiet", "-m", "foreign change");
  sh(clone, "push", "--quiet", "origin", `HEAD:refs/heads/${BRANCH}`);
}

describe("nothing to propose", () => {
  it("GitHub's 422 'No commits between' is nothing to propose, not a permission problem", async () => {
    w.github.createPull = async () => {
      throw new Error("Validation Failed: No commits between main and miyabi/issue-7");
    };
    const j = await job(w, { phase: "codegen", "pull-request-phase": "codegen" });
    const outputs = await runPhaseJob(j.options);
    expect(outputs.status).toBe("nothing to propose");
    expect(outputs["pull-request-url"]).toBe("");
    expect(w.summaries[0]).toContain("finished with nothing to propose");
    expect(w.summaries[0]).not.toContain("pull-requests: write");
    expect(w.github.issues.get(7)?.labels).toEqual(["miyabi", "miyabi:done"]);
  });
});

describe("patches carried in the store", () => {
  it("reads every path a series touches, renames from and to", async () => {
    const repo = mkdtempSync(path.join(w.root, "p-"));
    sh(repo, "init", "-q");
    writeFileSync(path.join(repo, "a.txt"), "a\n");
    mkdirSync(path.join(repo, ".github"));
    writeFileSync(path.join(repo, ".github", "wé.yml"), "on: push\n");
    sh(repo, "add", ".");
    sh(repo, "commit", "-qm", "a");
    sh(repo, "mv", "a.txt", "b.txt");
    // Moving a workflow away deletes it: the old name (git quotes it) counts too.
    sh(repo, "mv", ".github/wé.yml", "w.yml");
    mkdirSync(path.join(repo, ".claude"));
    writeFileSync(path.join(repo, ".claude", "settings.json"), "{}\n");
    sh(repo, "add", "-A");
    sh(repo, "commit", "-qm", "b");
    const file = path.join(repo, "series.patch");
    writeFileSync(file, sh(repo, "format-patch", "--stdout", "-M", "HEAD~1..HEAD"));
    expect((await patchPaths(repo, file)).sort()).toEqual([
      ".claude/settings.json",
      ".github/wé.yml",
      "a.txt",
      "b.txt",
      "w.yml",
    ]);
    expect(refusedPath(".claude/settings.json", [])).toBe(true);
    expect(refusedPath(".claude/settings.json", [".claude"])).toBe(false);
    expect(refusedPath(".github/workflows/ci.yml", [".github/workflows/ci.yml"])).toBe(false);
    expect(refusedPath(".github/workflows/evil.yml", [".github/workflows/ci.yml"])).toBe(true);
    expect(refusedPath("src/CLAUDE.md", [])).toBe(true);
    expect(refusedPath("src/index.ts", [])).toBe(false);
  });
});
