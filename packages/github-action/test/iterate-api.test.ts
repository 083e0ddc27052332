/** The Octokit side of the iteration calls, against the testkit's GitHub stub. */
import { getOctokit } from "@actions/github";
import { startGitHubStub } from "@miyabi/testkit";
import { expect, it } from "vitest";
import { octokitIterateApi } from "../src/internal/iterate-api.js";
import { decideTrigger, pipelinePullIssue, reviewFeedback } from "../src/internal/triggers.js";

async function stubApi(t: { onTestFinished(fn: () => Promise<void>): void }) {
  const stub = await startGitHubStub({
    owner: "octo",
    repo: "widgets",
    issues: [{ number: 7, title: "Greet", body: "" }],
    comments: [{ issue_number: 7, body: "/miyabi codegen rename", user: "maintainer" }],
    pulls: [
      { number: 12, head: "miyabi/issue-7", base: "main", title: "Fix #7", body: "" },
      {
        number: 13,
        head: "miyabi/issue-7",
        base: "main",
        title: "Evil",
        body: "",
        headRepo: "attacker/widgets",
        user: "attacker",
      },
    ],
    reviewComments: [
      { pull_number: 12, review_id: 5, path: "src/greet.ts", line: 3, body: "Rename to hello." },
      { pull_number: 12, review_id: 5, path: "README.md", line: null, body: "Outdated." },
      { pull_number: 12, review_id: 6, path: "other.ts", line: 1, body: "Another review." },
    ],
  });
  t.onTestFinished(() => stub.close());
  return {
    stub,
    api: octokitIterateApi(getOctokit("ghs_test", { baseUrl: stub.url }), "octo", "widgets"),
  };
}

it("reads the pull request behind a comment and tells a fork from the pipeline's own", async (t) => {
  const { api } = await stubApi(t);
  const own = await api.getPull(12);
  expect(own).toEqual({
    number: 12,
    state: "open",
    headRef: "miyabi/issue-7",
    headRepo: "octo/widgets",
    baseRepo: "octo/widgets",
    author: "github-actions[bot]",
  });
  expect(pipelinePullIssue(own)).toEqual({ action: "run", issueNumber: 7 });
  const fork = await api.getPull(13);
  expect(pipelinePullIssue(fork)).toMatchObject({ action: "refuse", code: "FROM_FORK" });
  await expect(api.getPull(99)).rejects.toMatchObject({ status: 404 });
});

it("turns a review's line comments into CodeGen's feedback", async (t) => {
  const { api } = await stubApi(t);
  const comments = await api.listReviewComments(12, 5);
  expect(comments).toEqual([
    { path: "src/greet.ts", line: 3, body: "Rename to hello." },
    { path: "README.md", line: null, body: "Outdated." },
  ]);
  expect(reviewFeedback({ body: "Two things.", comments })).toBe(
    "Two things.\n\n- src/greet.ts:3: Rename to hello.\n\n- README.md: Outdated.",
  );
});

it("reacts, requests a reviewer (not the author) and dispatches the next phase", async (t) => {
  const { stub, api } = await stubApi(t);
  const comment = stub.state.comments[0];
  const decision = decideTrigger({
    name: "issue_comment",
    payload: {
      action: "created",
      issue: { number: 7 },
      comment: {
        id: comment?.id,
        body: comment?.body,
        user: { login: "maintainer", type: "User" },
      },
    },
  });
  if (decision.action !== "run" || decision.request.commentId === undefined)
    throw new Error("no run");
  await api.addReaction(decision.request.commentId, "eyes");
  expect(stub.state.reactions).toEqual([{ comment_id: comment?.id, content: "eyes" }]);

  await api.requestReviewers(12, ["maintainer"]);
  expect(stub.state.pulls.find((p) => p.number === 12)?.requestedReviewers).toEqual(["maintainer"]);
  await expect(api.requestReviewers(12, ["github-actions[bot]"])).rejects.toMatchObject({
    status: 422,
  });

  await api.dispatchWorkflow("miyabi.yml", "main", { "issue-number": "7", "cache-key": "k" });
  expect(stub.state.dispatches).toEqual([
    { workflow_id: "miyabi.yml", ref: "main", inputs: { "issue-number": "7", "cache-key": "k" } },
  ]);
});
