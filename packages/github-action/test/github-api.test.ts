/** The Octokit side of the GitHubApi seam, against the testkit's GitHub stub. */
import { getOctokit } from "@actions/github";
import { startGitHubStub } from "@miyabi/testkit";
import { describe, expect, it } from "vitest";
import { createOctokit } from "../src/internal/octokit.js";
import { gitHubApi } from "../src/internal/run.js";

async function stubApi(t: { onTestFinished(fn: () => Promise<void>): void }) {
  const stub = await startGitHubStub({
    owner: "octo",
    repo: "widgets",
    permissions: { alice: "maintain", bob: "triage" },
    issues: [{ number: 7, title: "Count", body: "", labels: ["miyabi", "miyabi:review"] }],
    comments: Array.from({ length: 130 }, (_, i) => ({ issue_number: 7, body: `comment ${i}` })),
  });
  t.onTestFinished(() => stub.close());
  return { stub, api: gitHubApi(getOctokit("ghs_test", { baseUrl: stub.url }), "octo", "widgets") };
}

it("reads permission, issue and every page of comments", async (t) => {
  const { api } = await stubApi(t);
  expect(await api.getPermission("alice")).toEqual({ permission: "write", role: "maintain" });
  expect(await api.getPermission("bob")).toEqual({ permission: "read", role: "triage" });
  expect(await api.getIssue(7)).toEqual({
    number: 7,
    title: "Count",
    body: "",
    url: "https://github.com/octo/widgets/issues/7",
    labels: ["miyabi", "miyabi:review"],
  });
  const comments = await api.listComments(7);
  expect(comments).toHaveLength(130);
  expect(comments.at(-1)?.body).toBe("comment 129");
});

it("creates and edits comments, adds labels, and takes a 404 on removal as done", async (t) => {
  const { stub, api } = await stubApi(t);
  await api.createComment(7, "first");
  const created = stub.state.comments.at(-1);
  await api.updateComment(created?.id ?? 0, "edited");
  expect(stub.state.comments.at(-1)?.body).toBe("edited");
  await api.removeLabel(7, "miyabi:review");
  await api.removeLabel(7, "miyabi:review");
  await api.addLabels(7, ["miyabi:test"]);
  expect(stub.state.labels.get(7)).toEqual(["miyabi", "miyabi:test"]);
  const deletes = stub.requests.filter((r) => r.method === "DELETE");
  expect(deletes).toHaveLength(2);
  await expect(api.getIssue(8)).rejects.toMatchObject({ status: 404 });
});

describe("createOctokit", () => {
  async function retryingApi(t: { onTestFinished(fn: () => Promise<void>): void }) {
    const stub = await startGitHubStub({
      owner: "octo",
      repo: "widgets",
      issues: [{ number: 7, title: "Count", body: "" }],
    });
    t.onTestFinished(() => stub.close());
    const warnings: string[] = [];
    const octokit = createOctokit({
      token: "ghs_test",
      baseUrl: stub.url,
      log: { warning: (message) => warnings.push(message) },
    });
    return { stub, warnings, api: gitHubApi(octokit, "octo", "widgets") };
  }

  it("retries a request that met a 502", async (t) => {
    const { stub, api } = await retryingApi(t);
    const path = "/repos/octo/widgets/issues/7";
    stub.failNext({ method: "GET", path, status: 502, body: { message: "Bad Gateway" } });
    expect(await api.getIssue(7)).toMatchObject({ number: 7, title: "Count" });
    expect(stub.requests.filter((r) => r.path === path)).toHaveLength(2);
  });

  it("waits out a secondary rate limit for as long as retry-after says, then retries", async (t) => {
    const { stub, warnings, api } = await retryingApi(t);
    const path = "/repos/octo/widgets/issues/7/comments";
    stub.failNext({
      method: "POST",
      path,
      status: 403,
      headers: { "retry-after": "1" },
      body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes." },
    });
    const started = performance.now();
    await api.createComment(7, "hello");
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(stub.requests.filter((r) => r.method === "POST" && r.path === path)).toHaveLength(2);
    expect(stub.state.comments.map((c) => c.body)).toEqual(["hello"]);
    expect(warnings).toEqual([expect.stringMatching(/secondary rate limit .* retrying in 1 s$/)]);
  });

  it("fails at once when a rate limit asks for a longer wait than the job should sit idle", async (t) => {
    const { stub, warnings, api } = await retryingApi(t);
    stub.failNext({
      method: "GET",
      path: "/repos/octo/widgets/issues/7",
      status: 403,
      headers: { "retry-after": "3600" },
      body: { message: "You have exceeded a secondary rate limit." },
    });
    await expect(api.getIssue(7)).rejects.toMatchObject({ status: 403 });
    expect(warnings).toEqual([expect.stringMatching(/giving up$/)]);
  });
});
