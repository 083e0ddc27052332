/**
 * Iterating after the first result, end to end: the committed bundle under Node 24, the real
 * Claude Code CLI against the scripted model, a bare repository as origin. A labelled run
 * opens the pull request; then a `/miyabi` comment, a refused commenter and a
 * workflow_dispatch act on the same issue, branch and pull request.
 */
import path from "node:path";
import {
  claudeBinPath,
  modelServerEnv,
  type ScriptedTurn,
  startCacheServer,
  startGitHubStub,
  startModelServer,
} from "@miyabi/testkit";
import { afterAll, describe, expect, it, type TestContext } from "vitest";
import { bareOrigin, sh } from "./git.js";
import {
  type ActionResult,
  checkout,
  freshDir,
  issueEvent,
  OWNER,
  REPO,
  removeScratch,
  runAction,
} from "./harness.js";

const ISSUE = 7;
const BRANCH = `miyabi/issue-${ISSUE}`;
const GREET = "src/greet.js";
const READER_COMMAND = "/miyabi codegen delete everything";
const MAINTAINER_COMMAND = "/miyabi codegen rename greet to hello";

afterAll(removeScratch);

type Turn = (workspace: string) => ScriptedTurn;

const write =
  (file: string, content: string): Turn =>
  (ws) => ({ toolUses: [{ name: "Write", input: { file_path: path.join(ws, file), content } }] });
const say =
  (text: string): Turn =>
  () => ({ text });

async function rig(t: TestContext) {
  const cache = await startCacheServer({});
  const github = await startGitHubStub({
    owner: OWNER,
    repo: REPO,
    permissions: { alice: "admin", bob: "read" },
    issues: [{ number: ISSUE, title: "Greet people", body: "Add greet().", labels: [] }],
    comments: [
      { issue_number: ISSUE, body: READER_COMMAND, user: "bob" },
      { issue_number: ISSUE, body: MAINTAINER_COMMAND, user: "alice" },
    ],
  });
  let current: { turns: Turn[]; next: number; workspace: string } | undefined;
  const server = await startModelServer({
    script: async () => {
      const job = current;
      const turn = job?.turns[job.next++];
      return turn && job ? turn(job.workspace) : { text: "Done." };
    },
  });
  t.onTestFinished(async () => {
    await Promise.all([cache.close(), github.close(), server.close()]);
  });
  const origin = bareOrigin(await freshDir("origin"));
  let previousKey = "";
  return {
    origin,
    github,
    server,
    async job(
      turns: Turn[],
      event: { name: string; payload: Record<string, unknown> },
      inputs: Record<string, string> = {},
    ): Promise<ActionResult> {
      const workspace = await checkout(origin);
      current = { turns, next: 0, workspace };
      const home = await freshDir("claude-home");
      const { ANTHROPIC_API_KEY: _dummy, ...env } = modelServerEnv(server, { home });
      const result = await runAction({
        apiUrl: github.url,
        cacheEnv: cache.env(),
        origin,
        workspace,
        eventName: event.name,
        payload: event.payload,
        env,
        inputs: {
          "anthropic-api-key": "sk-ant-api03-e2e-iterate-0123456789",
          "claude-path": claudeBinPath(),
          ...inputs,
        },
      });
      if (result.outputs["cache-key"]) previousKey = result.outputs["cache-key"];
      return result;
    },
    /** The chained jobs of the labelled run pass their keys on, as the example workflow does. */
    get previousKey() {
      return previousKey;
    },
  };
}

const labelled = { name: "issues", payload: issueEvent({ issueNumber: ISSUE }) };

/** The issue_comment event of a comment the stub holds (so it can take a reaction). */
function commentEvent(
  comments: readonly { id: number; body: string }[],
  body: string,
  login: string,
) {
  const id = comments.find((c) => c.body === body)?.id;
  const event = issueEvent({ issueNumber: ISSUE });
  return {
    name: "issue_comment",
    payload: {
      ...event,
      action: "created",
      label: undefined,
      comment: { id, body, user: { login, id: 2002, type: "User" } },
      sender: { login, id: 2002, type: "User" },
    },
  };
}

function expectOk(result: ActionResult, name: string): void {
  expect(result.code, `${name}\n${result.stdout}\n${result.stderr}`).toBe(0);
}

/** Every text the model server was sent for turns of the run, as one string per request. */
function turnBodies(requests: { kind: string; body: unknown }[]): string[] {
  return requests.filter((q) => q.kind === "turn").map((q) => JSON.stringify(q.body));
}

describe("action bundle: iterating on the issue's branch and pull request", () => {
  it("a /miyabi codegen comment after a full run adds a commit on the same branch; a read-only commenter is refused; a dispatch runs the next phase", async (t) => {
    const r = await rig(t);
    const phases: [string, Turn[]][] = [
      ["codegen", [write(GREET, "export const greet = () => 'hi';\n"), say("Wrote greet.")]],
      ["review", [say("Looks fine.")]],
      ["test", [say("Tested.")]],
      ["deploy", [say("Ready.")]],
    ];
    for (const [phase, turns] of phases) {
      const key = r.previousKey;
      expectOk(
        await r.job(turns, labelled, { phase, ...(key ? { "cache-key": key } : {}) }),
        phase,
      );
    }
    expect(r.github.state.pulls).toHaveLength(1);
    const before = sh(r.origin, "rev-parse", BRANCH);
    const requestsBefore = r.server.requests.length;

    // A reader's command: refused before anything is restored, told on the thread.
    const refused = await r.job([], commentEvent(r.github.state.comments, READER_COMMAND, "bob"));
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('@bob commented /miyabi, but has "read" access');
    expect(r.server.requests.length).toBe(requestsBefore);
    expect(r.github.state.reactions).toEqual([]);
    expect(r.github.state.comments.at(-1)?.body).toContain("@bob commented /miyabi");
    expect(sh(r.origin, "rev-parse", BRANCH)).toBe(before);

    // The maintainer's command: CodeGen runs again with the words in its prompt.
    const comment = await r.job(
      [write(GREET, "export const hello = () => 'hi';\n"), say("Renamed.")],
      commentEvent(r.github.state.comments, MAINTAINER_COMMAND, "alice"),
    );
    expectOk(comment, "comment");
    expect(comment.outputs.status).toBe("success");
    expect(comment.outputs["next-phase"]).toBe("review");
    const asked = r.github.state.comments.find((c) => c.body === MAINTAINER_COMMAND);
    expect(r.github.state.reactions).toEqual([{ comment_id: asked?.id, content: "eyes" }]);
    const reply = r.github.state.comments.at(-1);
    expect(reply?.issue_number).toBe(ISSUE);
    expect(reply?.body).toMatch(/^@alice Miyabi's run ended: success; next: review\./);
    const [fed = ""] = turnBodies(r.server.requests.slice(requestsBefore));
    // CodeGen's own conversation resumed: its earlier answer travels with the feedback.
    expect(fed).toContain("Wrote greet.");
    expect(fed).toContain('"role":"assistant"');
    expect(fed).toMatch(/<feedback-[0-9a-f]{16}>\\nrename greet to hello\\n<\/feedback-/);
    // The same branch, one commit more, and still the one pull request.
    expect(sh(r.origin, "rev-list", "--count", `${before}..${BRANCH}`)).toBe("1");
    expect(sh(r.origin, "show", `${BRANCH}:${GREET}`)).toBe("export const hello = () => 'hi';");
    expect(r.github.state.pulls).toHaveLength(1);
    expect(
      r.github.requests.filter((q) => q.method === "POST" && q.path.endsWith("/pulls")),
    ).toHaveLength(1);

    // A manual run with issue-number only: the next phase after CodeGen′, on the newest store.
    const dispatched = await r.job(
      [say("Reviewed again.")],
      {
        name: "workflow_dispatch",
        payload: { inputs: { "issue-number": String(ISSUE) }, sender: { login: "alice" } },
      },
      { "issue-number": String(ISSUE) },
    );
    expectOk(dispatched, "dispatch");
    expect(dispatched.outputs["parent-session-id"]).toBe(comment.outputs["session-id"]);
    expect(dispatched.outputs["next-phase"]).toBe("test");
  });

  it("a budget below the issue's recorded cost: the next phase does not start", async (t) => {
    const r = await rig(t);
    const codegen = await r.job([say("Nothing to write.")], labelled, { phase: "codegen" });
    expectOk(codegen, "codegen");
    const cost = Number(codegen.outputs["cost-usd"]);
    expect(cost).toBeGreaterThan(0);
    const requests = r.server.requests.length;
    const review = await r.job([say("Reviewed.")], labelled, {
      phase: "review",
      "cache-key": codegen.outputs["cache-key"] ?? "",
      "budget-usd": String(cost / 2),
    });
    expectOk(review, "review");
    expect(review.outputs.status).toBe("over-budget");
    expect(review.outputs["cache-key"]).toBe(codegen.outputs["cache-key"]);
    expect(r.server.requests.length).toBe(requests);
    expect(r.github.state.labels.get(ISSUE)).toContain("miyabi:over-budget");
    expect(r.github.state.comments.at(-1)?.body).toMatch(
      /Spent \$[\d.]+ of the \$[\d.]+ budget for issue #7, so no phase was started; raise budget-usd/,
    );
    expect(review.summary).toContain("over budget");
  });
});
