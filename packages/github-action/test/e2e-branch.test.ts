/**
 * The work travelling with the session, end to end: the committed bundle under Node 24, the
 * real Claude Code CLI against a scripted model that writes and reads files, and a bare
 * repository as origin that every job clones afresh, as separate runners would.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import path from "node:path";
import type { ModelServer } from "@miyabi/testkit";
import { afterAll, describe, expect, it, type TestContext } from "vitest";
import { sh } from "./git.js";
import {
  errorAnnotations,
  expectOk,
  ISSUE,
  type RigJob,
  removeScratch,
  startRig,
} from "./harness.js";
import { say, type Turn, verdict, write } from "./turns.js";

const BRANCH = `miyabi/issue-${ISSUE}`;
const READ_ID = "toolu_review_reads_counter";
const COUNTER = "src/counter.js";

afterAll(removeScratch);

async function rig(t: TestContext) {
  const r = await startRig(t, { apiKey: "sk-ant-api03-e2e-branch-0123456789" });
  return {
    origin: r.origin,
    github: r.github,
    model: r.model,
    /** Run one job of `phase` in a fresh clone, its agent answering with `turns` in order. */
    job: (phase: string, turns: Turn[], options: RigJob = {}) =>
      r.job({
        ...options,
        turns,
        job: phase,
        chain: true,
        inputs: { phase, ...options.inputs },
      }),
  };
}

const read: Turn = (ws) => ({
  toolUses: [{ id: READ_ID, name: "Read", input: { file_path: path.join(ws, COUNTER) } }],
});
const edit: Turn = (ws) => ({
  toolUses: [
    {
      name: "Edit",
      input: {
        file_path: path.join(ws, COUNTER),
        old_string: "count = 0",
        new_string: "count = 1",
      },
    },
  ],
});
/** The gated Review's last turn: its verdict. */
const approve = verdict();

/** Push a commit to the branch from another clone while the job runs, as someone else would. */
function foreignPush(origin: string, file: string, content: string): Turn {
  return async () => {
    const clone = await mkdtemp(path.join(path.dirname(origin), "foreign-"));
    sh(clone, "clone", "--quiet", origin, ".");
    const exists = sh(origin, "branch", "--list", BRANCH) !== "";
    sh(clone, "switch", "--quiet", ...(exists ? [BRANCH] : ["-c", BRANCH]));
    mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    writeFileSync(path.join(clone, file), content);
    sh(clone, "add", file);
    sh(clone, "commit", "--quiet", "-m", "foreign change");
    sh(clone, "push", "--quiet", "origin", `HEAD:refs/heads/${BRANCH}`);
    return { text: "Done." };
  };
}

/** What Review's Read returned to the model: the file as the job's fresh checkout had it. */
function readResult(server: ModelServer): string {
  for (const request of server.requests) {
    const messages = (request.body as { messages?: { content?: unknown }[] } | undefined)?.messages;
    for (const message of messages ?? []) {
      if (!Array.isArray(message.content)) continue;
      for (const block of message.content as Record<string, unknown>[]) {
        if (block.type === "tool_result" && block.tool_use_id === READ_ID) {
          return JSON.stringify(block.content);
        }
      }
    }
  }
  return "";
}

const log = (origin: string, format: string) =>
  sh(origin, "log", `--format=${format}`, BRANCH).split("\n");

describe("action bundle: the work travels on the issue's branch", () => {
  it("codegen -> review -> test -> deploy, a foreign push rebased over, one pull request", async (t) => {
    const r = await rig(t);
    const codegen = await r.job("codegen", [
      write(COUNTER, "export let count = 0;\n"),
      say("Wrote the counter."),
    ]);
    expectOk(codegen, "codegen");
    const review = await r.job("review", [read, edit, approve]);
    expectOk(review, "review");
    // Review ran in a fresh clone: CodeGen's file reached it only through the branch.
    expect(readResult(r.model)).toContain("export let count = 0;");
    const test = await r.job("test", [
      write("test/counter.test.js", "// counts\n"),
      foreignPush(r.origin, "NOTES.md", "someone else's notes\n"),
    ]);
    expectOk(test, "test");
    expect(test.stdout).toContain(`${BRANCH} moved on origin meanwhile; rebasing`);
    const deploy = await r.job("deploy", [say("Ready.")]);
    expectOk(deploy, "deploy");

    expect(log(r.origin, "%s")).toEqual([
      `Test: TestAgent for #${ISSUE}`,
      "foreign change",
      `Review: ReviewAgent for #${ISSUE}`,
      `CodeGeneration: CodeGenAgent for #${ISSUE}`,
      "initial",
    ]);
    const bodies = log(r.origin, "%b").join("\n");
    for (const x of [codegen, review, test]) {
      expect(bodies).toContain(`Miyabi session ${x.outputs["session-id"]}`);
    }
    const committed = sh(r.origin, "log", "--all", "--name-only", "--format=").split("\n");
    expect(committed.filter((f) => f.startsWith(".ai"))).toEqual([]);
    expect(sh(r.origin, "show", `${BRANCH}:${COUNTER}`)).toBe("export let count = 1;");

    expect(r.github.state.pulls).toEqual([
      expect.objectContaining({ head: BRANCH, base: "main", state: "open" }),
    ]);
    const pull = r.github.state.pulls[0];
    expect(pull?.body).toMatch(/^Closes #7\n/);
    expect(pull?.body).toContain("| ▶ | DeployAgent | PullRequest | Completed |");
    expect(deploy.outputs["pull-request-url"]).toBe(pull?.html_url);
    expect(deploy.outputs["pull-request-number"]).toBe(String(pull?.number));
    expect(deploy.summary).toContain(`Pull request: [#${pull?.number}](${pull?.html_url})`);
    expect(r.github.state.comments[0]?.body).toContain(`Pull request: [#${pull?.number}]`);

    // A re-run of the final job refreshes the pull request instead of opening a second one.
    const again = await r.job("deploy", [say("Ready again.")], {
      inputs: { "cache-key": test.outputs["cache-key"] ?? "" },
      runAttempt: 2,
    });
    expectOk(again, "deploy re-run");
    expect(r.github.state.pulls).toHaveLength(1);
    expect(
      r.github.requests.filter((q) => q.method === "PATCH" && q.path.includes("/pulls/")),
    ).toHaveLength(1);
  });

  it("a conflicting foreign push fails the job clearly and is not overwritten", async (t) => {
    const r = await rig(t);
    const result = await r.job("codegen", [
      write(COUNTER, "export let count = 0;\n"),
      foreignPush(r.origin, COUNTER, "export const other = true;\n"),
    ]);
    expect(result.code).toBe(1);
    expect(errorAnnotations(result.stdout).at(-1)).toMatch(
      /^Pushing the phase's commits to miyabi\/issue-7 was rejected: its new commits on origin conflict with this phase's, so they could not be rebased \(CONFLICT \(add\/add\): Merge conflict in src\/counter\.js\)\. Nothing was force-pushed/,
    );
    expect(log(r.origin, "%s")).toEqual(["foreign change", "initial"]);
    // Told as it is: the phase ran, the job failed; the store is saved for a re-run.
    expect(result.outputs.status).toBe("failed");
    expect(r.github.state.labels.get(ISSUE)).toContain("miyabi:failed");
    expect(result.outputs["cache-key"]).not.toBe("");
  });

  it("push: false carries the work as a patch; only the pull request phase pushes", async (t) => {
    const r = await rig(t);
    const inputs = { push: "false", "pull-request-phase": "review" };
    const codegen = await r.job(
      "codegen",
      [write(COUNTER, "export let count = 0;\n"), say("Wrote the counter.")],
      { inputs },
    );
    expectOk(codegen, "codegen");
    expect(sh(r.origin, "branch", "--list", BRANCH)).toBe("");
    expect(codegen.stdout).toMatch(
      /Saved the phase's commits as a patch in the session store \(sha256 [0-9a-f]{12}\)/,
    );
    const review = await r.job("review", [read, edit, approve], { inputs });
    expectOk(review, "review");
    expect(review.stdout).toContain("Applied 1 earlier phases' patches");
    expect(readResult(r.model)).toContain("export let count = 0;");
    expect(log(r.origin, "%s")).toEqual([
      `Review: ReviewAgent for #${ISSUE}`,
      `CodeGeneration: CodeGenAgent for #${ISSUE}`,
      "initial",
    ]);
    const committed = sh(r.origin, "log", "--all", "--name-only", "--format=").split("\n");
    expect(committed.filter((f) => f.startsWith(".ai"))).toEqual([]);
    expect(r.github.state.pulls).toEqual([expect.objectContaining({ head: BRANCH, base: "main" })]);
    expect(review.outputs["pull-request-number"]).toBe(String(r.github.state.pulls[0]?.number));
  });
});
