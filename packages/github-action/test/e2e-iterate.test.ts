/**
 * Iterating after the first result, end to end: the committed bundle under Node 24, the real
 * Claude Code CLI against the scripted model, a bare repository as origin. A labelled run
 * opens the pull request; then a `/miyabi` comment, a refused commenter and a
 * workflow_dispatch act on the same issue, branch and pull request.
 */
import { afterAll, describe, expect, it, type TestContext } from "vitest";
import { sh } from "./git.js";
import {
  type ActionResult,
  expectOk,
  ISSUE,
  issueEvent,
  OWNER,
  REPO,
  type RigJob,
  removeScratch,
  startRig,
  turnBodies,
  workspaceSessions,
} from "./harness.js";
import { say, type Turn, verdict as verdictOf, write } from "./turns.js";

const BRANCH = `miyabi/issue-${ISSUE}`;
const GREET = "src/greet.js";
const READER_COMMAND = "/miyabi codegen delete everything";
const MAINTAINER_COMMAND = "/miyabi codegen rename greet to hello";

afterAll(removeScratch);

/** The gated Review's verdict: `approve`, or `changes` with one finding per message. */
const verdict = (...messages: string[]): Turn =>
  verdictOf(...messages.map((message) => ({ file: GREET, line: 1, message })));

/** What the job was started by: the event's name and payload. */
type JobEvent = Required<Pick<RigJob, "eventName" | "payload">>;

const labelled: JobEvent = { eventName: "issues", payload: issueEvent({ issueNumber: ISSUE }) };

async function rig(t: TestContext) {
  const r = await startRig(t, {
    apiKey: "sk-ant-api03-e2e-iterate-0123456789",
    permissions: { alice: "admin", bob: "read" },
    issue: { title: "Greet people", body: "Add greet()." },
    comments: [
      { issue_number: ISSUE, body: READER_COMMAND, user: "bob" },
      { issue_number: ISSUE, body: MAINTAINER_COMMAND, user: "alice" },
    ],
  });
  return {
    origin: r.origin,
    github: r.github,
    server: r.model,
    job: (turns: Turn[], event: JobEvent, inputs: Record<string, string> = {}) =>
      r.job({ turns, ...event, inputs }),
    /**
     * The labelled run's next job, for `phase`: it restores what the job before saved, as the
     * example workflow's chained jobs pass their keys on.
     */
    next: (turns: Turn[], phase: string) =>
      r.job({ turns, ...labelled, chain: true, inputs: { phase } }),
    get previousKey() {
      return r.previousKey;
    },
  };
}

/** The issue_comment event of a comment the stub holds (so it can take a reaction). */
function commentEvent(
  comments: readonly { id: number; body: string }[],
  body: string,
  login: string,
) {
  const id = comments.find((c) => c.body === body)?.id;
  const event = issueEvent({ issueNumber: ISSUE });
  return {
    eventName: "issue_comment",
    payload: {
      ...event,
      action: "created",
      label: undefined,
      comment: { id, body, user: { login, id: 2002, type: "User" } },
      sender: { login, id: 2002, type: "User" },
    },
  };
}

describe("action bundle: iterating on the issue's branch and pull request", () => {
  it("a /miyabi codegen comment after a full run adds a commit on the same branch; a read-only commenter is refused; a dispatch runs the next phase", async (t) => {
    const r = await rig(t);
    const phases: [string, Turn[]][] = [
      ["codegen", [write(GREET, "export const greet = () => 'hi';\n"), say("Wrote greet.")]],
      ["review", [verdict()]],
      ["test", [say("Tested.")]],
      ["deploy", [say("Ready.")]],
    ];
    for (const [phase, turns] of phases) expectOk(await r.next(turns, phase), phase);
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
      [verdict()],
      {
        eventName: "workflow_dispatch",
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

/** The pull_request_review event of a review requesting changes on the pipeline's pull request. */
function reviewEvent(pullNumber: number, reviewId: number, body: string) {
  const repository = { full_name: `${OWNER}/${REPO}`, default_branch: "main" };
  const reviewer = { login: "alice", id: 2002, type: "User" };
  return {
    eventName: "pull_request_review",
    payload: {
      action: "submitted",
      review: { id: reviewId, body, state: "changes_requested", user: reviewer },
      pull_request: {
        number: pullNumber,
        head: { ref: BRANCH, repo: repository },
        base: { ref: "main", repo: repository },
      },
      repository,
      sender: reviewer,
    },
  };
}

describe("action bundle: the review gate", () => {
  type Rig = Awaited<ReturnType<typeof rig>>;
  /**
   * The labelled run's jobs one after another, each asking for the phase the one before named
   * (as a chained or self-dispatching workflow does), each with its scripted turns.
   */
  async function follow(r: Rig, turnsPerJob: Turn[][], from = "codegen"): Promise<ActionResult[]> {
    const results: ActionResult[] = [];
    let phase = from;
    for (const turns of turnsPerJob) {
      const result = await r.next(turns, phase);
      expectOk(result, `${results.length}: ${phase}`);
      results.push(result);
      phase = result.outputs["next-phase"] ?? "";
      if (!phase) break;
    }
    return results;
  }
  const codegen = (content: string, said: string) => [write(GREET, content), say(said)];

  it("changes twice, then approve: CodeGen resumes with the findings each round, then Test, Deploy and the pull request", async (t) => {
    const r = await rig(t);
    const results = await follow(r, [
      codegen("export const greet = () => 'hi';\n", "Wrote greet."),
      [verdict("Rename greet to hello.")],
      codegen("export const hello = () => 'hi';\n", "Renamed."),
      [verdict("Export a default too.", "Say hello, not hi.")],
      codegen("export const hello = () => 'hello';\nexport default hello;\n", "Done."),
      [verdict()],
      [say("Tested.")],
      [say("Ready.")],
    ]);
    expect(results.map((x) => x.outputs["next-phase"])).toEqual([
      "review",
      "codegen",
      "review",
      "codegen",
      "review",
      "test",
      "deploy",
      "",
    ]);
    // The review that asks for changes says so, with its findings, and the pipeline goes on.
    expect(results[1]?.outputs.status).toBe("success");
    expect(results[1]?.summary).toContain(
      "The review asks for changes** (review-gate round 1 of 2 goes back to CodeGen)",
    );
    expect(results[1]?.summary).toContain(`- ${GREET}:1: Rename greet to hello.`);
    expect(r.github.state.labels.get(ISSUE)).toContain("miyabi:done");

    // CodeGen′ continued its own conversation, with the findings as data.
    const codegenTurns = r.server.requests
      .filter((q) => q.kind === "turn")
      .map((q) => JSON.stringify(q.body))
      .filter((body) => body.includes("The review asks for these changes"));
    expect(codegenTurns.length).toBeGreaterThanOrEqual(2);
    expect(codegenTurns[0]).toContain("Wrote greet.");
    expect(codegenTurns[0]).toMatch(
      /<feedback-[0-9a-f]{16}>\\nThe review asks for these changes:\\n\\n- src\/greet\.js:1: Rename greet to hello\./,
    );

    // One line through both loops, each round a session named for it.
    const last = results.at(-1) as ActionResult;
    expect(last.outputs.status).toBe("success");
    const sessions = await workspaceSessions(last.workspace, ISSUE);
    expect(sessions.map((s) => s.agentName)).toEqual([
      "CodeGenAgent",
      "ReviewAgent",
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
    expect(
      sessions.filter((s) => s.purpose.startsWith("review-gate round")).map((s) => s.purpose),
    ).toEqual(["review-gate round 1: 1 finding", "review-gate round 2: 2 findings"]);
    // The summary's graph shows the loop: three CodeGen and three Review nodes in one chain.
    expect(last.summary.match(/\["CodeGenAgent<br\/>/g)).toHaveLength(3);
    expect(last.summary.match(/\["ReviewAgent<br\/>/g)).toHaveLength(3);
    expect(r.github.state.pulls).toHaveLength(1);
    expect(sh(r.origin, "show", `${BRANCH}:${GREET}`)).toContain("export default hello;");
  });

  it("changes after the last round: miyabi:needs-human, the open findings in the comment, no next phase", async (t) => {
    const r = await rig(t);
    const results = await follow(r, [
      codegen("export const greet = () => 'hi';\n", "Wrote greet."),
      [verdict("Rename greet to hello.")],
      codegen("export const hello = () => 'hi';\n", "Renamed."),
      [verdict("Still hi.")],
      codegen("export const hello = () => 'hey';\n", "Changed."),
      [verdict("Use <b>hello</b>, @someone.")],
    ]);
    const review = results.at(-1) as ActionResult;
    expect(results).toHaveLength(6);
    expect(review.outputs.status).toBe("needs-human");
    expect(review.outputs["next-phase"]).toBe("");
    expect(r.github.state.labels.get(ISSUE)).toContain("miyabi:needs-human");
    const comment = r.github.state.comments.find((c) =>
      c.body.includes("<!-- miyabi-sessions:issue-7"),
    );
    expect(comment?.body).toContain("**Open findings** (the review gate used its 2 rounds):");
    // Agent-written: fenced, so it neither renders HTML nor mentions anyone.
    expect(comment?.body).toMatch(
      /```text\n- src\/greet\.js:1: Use <b>hello<\/b>, @someone\.\n```/,
    );
    expect(review.summary).toContain("a person must decide (label `miyabi:needs-human`)");

    // Nothing runs by itself afterwards: a manual run without a phase says why.
    const requests = r.server.requests.length;
    const dispatched = await r.job(
      [],
      {
        eventName: "workflow_dispatch",
        payload: { inputs: { "issue-number": String(ISSUE) }, sender: { login: "alice" } },
      },
      { "issue-number": String(ISSUE) },
    );
    expectOk(dispatched, "dispatch");
    expect(dispatched.outputs.status).toBe("needs-human");
    expect(dispatched.stdout).toContain("needs a person: the review gate still asks for changes");
    // A job chained after the review (the static workflow's `test`) does not run past the gate.
    const chained = await r.job([], labelled, {
      phase: "test",
      "cache-key": review.outputs["cache-key"] ?? "",
    });
    expectOk(chained, "chained test");
    expect(chained.outputs.status).toBe("skipped");
    expect(chained.stdout).toContain(
      "Skipped: the review gate stopped issue #7 for a person, so phase test waits for its approval.",
    );
    expect(r.server.requests.length).toBe(requests);
  });

  it("a review that ends without a verdict fails the phase, saying why", async (t) => {
    const r = await rig(t);
    expectOk(
      await r.job(codegen("export const greet = () => 'hi';\n", "Wrote greet."), labelled, {
        phase: "codegen",
      }),
      "codegen",
    );
    const review = await r.job([say("Looks fine to me.")], labelled, {
      phase: "review",
      "cache-key": r.previousKey,
    });
    expect(review.code).toBe(1);
    expect(review.outputs.status).toBe("failed");
    expect(review.outputs["next-phase"]).toBe("");
    expect(review.stdout).toContain(
      "The review gate got no verdict: the Review run ended without a verdict",
    );
    expect(r.github.state.labels.get(ISSUE)).toContain("miyabi:failed");
  });

  it("a review requesting changes on the pull request: CodeGen resumes with the review's line comments, on the same branch and pull request", async (t) => {
    const r = await rig(t);
    await follow(r, [
      codegen("export const greet = () => 'hi';\n", "Wrote greet."),
      [verdict()],
      [say("Tested.")],
      [say("Ready.")],
    ]);
    const [pull] = r.github.state.pulls;
    expect(pull).toBeDefined();
    const before = sh(r.origin, "rev-parse", BRANCH);
    const reviewId = 4242;
    r.github.state.reviewComments.push({
      id: 99001,
      pull_number: pull?.number ?? 0,
      review_id: reviewId,
      path: GREET,
      line: 1,
      body: "Call it hello.",
      user: { login: "alice" },
    });
    const requests = r.server.requests.length;
    const reviewed = await r.job(
      codegen("export const hello = () => 'hi';\n", "Renamed as asked."),
      reviewEvent(pull?.number ?? 0, reviewId, "Please rename."),
    );
    expectOk(reviewed, "review event");
    expect(reviewed.outputs["next-phase"]).toBe("review");
    // The event named only the pull request; the workflow dispatches the next phase with this.
    expect(reviewed.outputs["issue-number"]).toBe(String(ISSUE));
    const [fed = ""] = turnBodies(r.server.requests.slice(requests));
    expect(fed).toContain("Wrote greet.");
    expect(fed).toContain('"role":"assistant"');
    expect(fed).toMatch(
      /<feedback-[0-9a-f]{16}>\\nPlease rename\.\\n\\n- src\/greet\.js:1: Call it hello\./,
    );
    expect(sh(r.origin, "rev-list", "--count", `${before}..${BRANCH}`)).toBe("1");

    // The rest of the pipeline runs again and updates the same pull request.
    const rest = await follow(r, [[verdict()], [say("Tested.")], [say("Ready.")]], "review");
    expect(rest.map((x) => x.outputs["next-phase"])).toEqual(["test", "deploy", ""]);
    expect(rest.at(-1)?.outputs["pull-request-number"]).toBe(String(pull?.number));
    expect(sh(r.origin, "show", `${BRANCH}:${GREET}`)).toBe("export const hello = () => 'hi';");
    expect(r.github.state.pulls).toHaveLength(1);
    expect(
      r.github.requests.filter((q) => q.method === "POST" && q.path.endsWith("/pulls")),
    ).toHaveLength(1);
  });
});
