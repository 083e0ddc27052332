import { describe, expect, it } from "vitest";
import { type GitHubStub, type GitHubStubOptions, startGitHubStub } from "./github-stub.js";

const REPO = "/repos/acme/widgets";

interface ApiResponse {
  status: number;
  json: unknown;
  link: string | null;
}

type Cleanup = (fn: () => Promise<void>) => void;

async function stub(
  onCleanup: Cleanup,
  extra: Partial<GitHubStubOptions> = {},
): Promise<GitHubStub> {
  const started = await startGitHubStub({
    owner: "acme",
    repo: "widgets",
    issues: [
      { number: 7, title: "Fix the widget", body: "It wobbles.", labels: ["bug"] },
      { number: 9, title: "Second", body: "" },
    ],
    ...extra,
  });
  onCleanup(() => started.close());
  return started;
}

async function api(
  gh: GitHubStub,
  method: string,
  path: string,
  body?: unknown,
  auth = true,
): Promise<ApiResponse> {
  const url = path.startsWith("http") ? path : `${gh.url}${path}`;
  const res = await fetch(url, {
    method,
    headers: {
      Accept: "application/vnd.github+json",
      ...(auth ? { Authorization: "token test-token" } : {}),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: text ? JSON.parse(text) : undefined,
    link: res.headers.get("link"),
  };
}

function names(json: unknown): unknown[] {
  if (!Array.isArray(json)) throw new Error("expected an array");
  return json.map((item: unknown) =>
    typeof item === "object" && item !== null && "name" in item ? item.name : item,
  );
}

function nextLink(link: string | null): string | undefined {
  return link?.match(/<([^<>]+)>;\s*rel="next"/)?.[1];
}

describe("GitHub stub: auth and routing", () => {
  it("answers 401 without an Authorization header and records the request", async ({
    onTestFinished,
  }) => {
    const gh = await stub(onTestFinished);
    const res = await api(gh, "GET", `${REPO}/issues/7`, undefined, false);
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ message: "Requires authentication" });
    expect(gh.requests).toEqual([
      { method: "GET", path: `${REPO}/issues/7`, query: {}, body: undefined },
    ]);
  });

  it("answers 404 Not Found for unknown routes, other repositories and wrong verbs", async ({
    onTestFinished,
  }) => {
    const gh = await stub(onTestFinished);
    const unknown = await api(gh, "GET", `${REPO}/releases`);
    expect(unknown).toMatchObject({ status: 404, json: { message: "Not Found" } });
    expect((await api(gh, "GET", "/repos/acme/other/issues/7")).status).toBe(404);
    expect((await api(gh, "DELETE", `${REPO}/issues/7`)).status).toBe(404);
    expect((await api(gh, "GET", "/user")).status).toBe(404);
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${REPO}/releases`,
      "GET /repos/acme/other/issues/7",
      `DELETE ${REPO}/issues/7`,
      "GET /user",
    ]);
  });

  it("matches owner and repo case-insensitively, like GitHub", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    expect((await api(gh, "GET", "/repos/ACME/Widgets/issues/7")).status).toBe(200);
  });

  it("answers 400 to a body that is not JSON", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    const res = await api(gh, "POST", `${REPO}/issues/7/comments`, "{oops");
    expect(res).toMatchObject({ status: 400, json: { message: "Problems parsing JSON" } });
    expect(gh.state.comments).toEqual([]);
  });
});

describe("GitHub stub: issues and comments", () => {
  it("returns a seeded issue with its labels and 404 for an unknown number", async ({
    onTestFinished,
  }) => {
    const gh = await stub(onTestFinished);
    const issue = await api(gh, "GET", `${REPO}/issues/7`);
    expect(issue.status).toBe(200);
    expect(issue.json).toMatchObject({
      number: 7,
      title: "Fix the widget",
      body: "It wobbles.",
      state: "open",
    });
    expect(names((issue.json as { labels: unknown }).labels)).toEqual(["bug"]);
    expect((await api(gh, "GET", `${REPO}/issues/8`)).status).toBe(404);
  });

  it("creates, lists and edits comments", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    const created = await api(gh, "POST", `${REPO}/issues/7/comments`, { body: "Started" });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      body: "Started",
      user: { login: "github-actions[bot]", type: "Bot" },
    });
    const id = (created.json as { id: number }).id;
    expect(gh.state.comments).toEqual([
      { id, issue_number: 7, body: "Started", user: { login: "github-actions[bot]" } },
    ]);

    const edited = await api(gh, "PATCH", `${REPO}/issues/comments/${id}`, { body: "Done" });
    expect(edited).toMatchObject({ status: 200, json: { id, body: "Done" } });
    const listed = await api(gh, "GET", `${REPO}/issues/7/comments`);
    expect(listed.json).toMatchObject([{ id, body: "Done" }]);
    expect((await api(gh, "GET", `${REPO}/issues/9/comments`)).json).toEqual([]);
  });

  it("refuses comments on unknown issues and edits of unknown comments", async ({
    onTestFinished,
  }) => {
    const gh = await stub(onTestFinished);
    expect((await api(gh, "POST", `${REPO}/issues/8/comments`, { body: "x" })).status).toBe(404);
    expect((await api(gh, "GET", `${REPO}/issues/8/comments`)).status).toBe(404);
    expect((await api(gh, "PATCH", `${REPO}/issues/comments/123456`, { body: "x" })).status).toBe(
      404,
    );
    expect((await api(gh, "POST", `${REPO}/issues/7/comments`, {})).status).toBe(422);
    expect(gh.state.comments).toEqual([]);
  });

  it("paginates with per_page/page and a Link header that reaches every comment", async ({
    onTestFinished,
  }) => {
    const comments = Array.from({ length: 75 }, (_, i) => ({
      issue_number: 7,
      body: `c${i}`,
      user: "bob",
    }));
    const gh = await stub(onTestFinished, { comments });
    const first = await api(gh, "GET", `${REPO}/issues/7/comments?per_page=30`);
    expect((first.json as unknown[]).length).toBe(30);
    expect(first.link).toContain('page=3>; rel="last"');
    expect((first.json as unknown[])[0]).toMatchObject({
      body: "c0",
      user: { login: "bob", type: "User" },
    });

    const bodies: unknown[] = [];
    let url: string | undefined = `${REPO}/issues/7/comments?per_page=30`;
    let pages = 0;
    while (url) {
      const page = await api(gh, "GET", url);
      bodies.push(...(page.json as { body: string }[]).map((c) => c.body));
      url = nextLink(page.link);
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(bodies).toEqual(comments.map((c) => c.body));

    const defaults = await api(gh, "GET", `${REPO}/issues/7/comments`);
    expect((defaults.json as unknown[]).length).toBe(30);
    const capped = await api(gh, "GET", `${REPO}/issues/7/comments?per_page=500`);
    expect((capped.json as unknown[]).length).toBe(75);
    expect(capped.link).toBeNull();
  });
});

describe("GitHub stub: labels", () => {
  it("lists, adds, replaces and removes issue labels", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    expect(names((await api(gh, "GET", `${REPO}/issues/7/labels`)).json)).toEqual(["bug"]);

    const added = await api(gh, "POST", `${REPO}/issues/7/labels`, {
      labels: ["miyabi:running", "bug"],
    });
    expect(added.status).toBe(200);
    expect(names(added.json)).toEqual(["bug", "miyabi:running"]);
    expect(gh.state.labels.get(7)).toEqual(["bug", "miyabi:running"]);
    // Adding an unknown label defines it on the repository.
    expect(gh.state.repoLabels.get("miyabi:running")).toMatchObject({ name: "miyabi:running" });

    const removed = await api(
      gh,
      "DELETE",
      `${REPO}/issues/7/labels/${encodeURIComponent("miyabi:running")}`,
    );
    expect(removed.status).toBe(200);
    expect(names(removed.json)).toEqual(["bug"]);

    const replaced = await api(gh, "PUT", `${REPO}/issues/7/labels`, {
      labels: ["miyabi:done", "needs review"],
    });
    expect(names(replaced.json)).toEqual(["miyabi:done", "needs review"]);
    expect(gh.state.labels.get(7)).toEqual(["miyabi:done", "needs review"]);
    const spaced = await api(gh, "DELETE", `${REPO}/issues/7/labels/needs%20review`);
    expect(names(spaced.json)).toEqual(["miyabi:done"]);
  });

  it("answers 404 when removing a label the issue does not have", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    const res = await api(gh, "DELETE", `${REPO}/issues/9/labels/bug`);
    expect(res).toMatchObject({ status: 404, json: { message: "Label does not exist" } });
    expect(gh.state.labels.get(7)).toEqual(["bug"]);
  });

  it("rejects label bodies without names", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    expect((await api(gh, "POST", `${REPO}/issues/7/labels`, { labels: "bug" })).status).toBe(422);
    expect((await api(gh, "PUT", `${REPO}/issues/7/labels`, {})).status).toBe(422);
    expect(gh.state.labels.get(7)).toEqual(["bug"]);
  });

  it("creates repository labels and answers 422 already_exists for a second one", async ({
    onTestFinished,
  }) => {
    const gh = await stub(onTestFinished);
    const created = await api(gh, "POST", `${REPO}/labels`, {
      name: "miyabi:queued",
      color: "0e8a16",
      description: "Queued",
    });
    expect(created).toMatchObject({
      status: 201,
      json: { name: "miyabi:queued", color: "0e8a16", description: "Queued" },
    });
    const again = await api(gh, "POST", `${REPO}/labels`, { name: "miyabi:queued" });
    expect(again).toMatchObject({
      status: 422,
      json: {
        message: "Validation Failed",
        errors: [{ resource: "Label", code: "already_exists", field: "name" }],
      },
    });
    // Seeded issue labels exist on the repository too.
    expect((await api(gh, "POST", `${REPO}/labels`, { name: "bug" })).status).toBe(422);
  });
});

describe("GitHub stub: collaborator permission", () => {
  it("reports the legacy permission and the role name per login", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished, {
      permissions: {
        ada: "admin",
        mo: "maintain",
        wu: "write",
        tri: "triage",
        rex: "read",
        nob: "none",
      },
    });
    const expected: Record<string, [string, string]> = {
      ada: ["admin", "admin"],
      mo: ["write", "maintain"],
      wu: ["write", "write"],
      tri: ["read", "triage"],
      rex: ["read", "read"],
      nob: ["none", "none"],
      stranger: ["none", "none"],
    };
    for (const [login, [permission, role]] of Object.entries(expected)) {
      const res = await api(gh, "GET", `${REPO}/collaborators/${login}/permission`);
      expect(res, login).toMatchObject({
        status: 200,
        json: { permission, role_name: role, user: { login } },
      });
    }
  });
});

describe("GitHub stub: pull requests", () => {
  it("creates, finds by head, updates and closes a pull request", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    const created = await api(gh, "POST", `${REPO}/pulls`, {
      title: "Fix the widget",
      head: "miyabi/issue-7",
      base: "main",
      body: "Closes #7",
    });
    expect(created.status).toBe(201);
    // Pull requests share the issue number space: after seeded issue 9 comes 10.
    expect(created.json).toMatchObject({
      number: 10,
      state: "open",
      html_url: "https://github.com/acme/widgets/pull/10",
      head: { ref: "miyabi/issue-7", label: "acme:miyabi/issue-7" },
      base: { ref: "main" },
    });
    expect(gh.state.pulls).toEqual([
      {
        number: 10,
        head: "miyabi/issue-7",
        base: "main",
        title: "Fix the widget",
        body: "Closes #7",
        state: "open",
        html_url: "https://github.com/acme/widgets/pull/10",
      },
    ]);

    const query = `?head=${encodeURIComponent("acme:miyabi/issue-7")}&state=open`;
    expect((await api(gh, "GET", `${REPO}/pulls${query}`)).json).toMatchObject([{ number: 10 }]);
    const forkHead = `?head=${encodeURIComponent("someone:miyabi/issue-7")}&state=open`;
    expect((await api(gh, "GET", `${REPO}/pulls${forkHead}`)).json).toEqual([]);

    const edited = await api(gh, "PATCH", `${REPO}/pulls/10`, {
      title: "Fix the widget (v2)",
      body: "Closes #7 again",
    });
    expect(edited.json).toMatchObject({
      number: 10,
      title: "Fix the widget (v2)",
      body: "Closes #7 again",
    });
    const closed = await api(gh, "PATCH", `${REPO}/pulls/10`, { state: "closed" });
    expect(closed.json).toMatchObject({ state: "closed" });
    expect((await api(gh, "GET", `${REPO}/pulls${query}`)).json).toEqual([]);
    const all = `?head=${encodeURIComponent("acme:miyabi/issue-7")}&state=all`;
    expect((await api(gh, "GET", `${REPO}/pulls${all}`)).json).toMatchObject([
      { number: 10, state: "closed" },
    ]);
  });

  it("refuses a second open pull request for the same head and base", async ({
    onTestFinished,
  }) => {
    const gh = await stub(onTestFinished);
    const pr = { title: "T", head: "feature", base: "main" };
    expect((await api(gh, "POST", `${REPO}/pulls`, pr)).status).toBe(201);
    const again = await api(gh, "POST", `${REPO}/pulls`, { ...pr, head: "acme:feature" });
    expect(again).toMatchObject({
      status: 422,
      json: { errors: [{ message: "A pull request already exists for acme:feature." }] },
    });
    expect(gh.state.pulls).toHaveLength(1);
  });

  it("validates pull request bodies and numbers", async ({ onTestFinished }) => {
    const gh = await stub(onTestFinished);
    expect((await api(gh, "POST", `${REPO}/pulls`, { title: "T", base: "main" })).status).toBe(422);
    expect((await api(gh, "PATCH", `${REPO}/pulls/42`, { title: "x" })).status).toBe(404);
    await api(gh, "POST", `${REPO}/pulls`, { title: "T", head: "f", base: "main" });
    expect((await api(gh, "PATCH", `${REPO}/pulls/10`, { state: "merged" })).status).toBe(422);
  });

  it("lets issue routes address pull requests, which are issues on GitHub", async ({
    onTestFinished,
  }) => {
    const gh = await stub(onTestFinished);
    await api(gh, "POST", `${REPO}/pulls`, { title: "T", head: "f", base: "main" });
    expect((await api(gh, "POST", `${REPO}/issues/10/comments`, { body: "hi" })).status).toBe(201);
    expect(
      names((await api(gh, "POST", `${REPO}/issues/10/labels`, { labels: ["x"] })).json),
    ).toEqual(["x"]);
    const asIssue = await api(gh, "GET", `${REPO}/issues/10`);
    expect(asIssue.json).toMatchObject({
      number: 10,
      title: "T",
      pull_request: { html_url: expect.any(String) },
    });
  });
});
