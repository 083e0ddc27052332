/**
 * An in-memory stand-in for the slice of the GitHub REST API the action uses, good enough
 * for `getOctokit(token, { baseUrl: stub.url })` from @actions/github (or GITHUB_API_URL):
 * issue comments, issue labels, repository labels, collaborator permission, issues and pull
 * requests of one repository. Responses carry the fields Octokit callers read, in GitHub's
 * shapes; error bodies follow GitHub's `{ message, documentation_url }`.
 *
 * Issue and pull request numbers must exist (seed issues through the options, or create
 * pull requests): like GitHub, routes under an unknown number answer 404, so a test catches
 * an action that talks about the wrong issue.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { ArtifactRestSource, RestArtifact } from "./artifact-server.js";
import { closeServer, isRecord, listen, readBody } from "./internal/http.js";

export type RepoRole = "admin" | "write" | "maintain" | "triage" | "read" | "none";

export interface GitHubUser {
  login: string;
}

export interface StubComment {
  id: number;
  issue_number: number;
  body: string;
  user: GitHubUser;
}

export interface StubPull {
  number: number;
  /** Branch name in the stub's own repository. */
  head: string;
  base: string;
  title: string;
  body: string;
  state: "open" | "closed";
  html_url: string;
  /** The head branch's repository (`owner/name`) when it is a fork; default: this repository. */
  headRepo?: string;
  /** Author login; default: the bot login. */
  user?: string;
  requestedReviewers?: string[];
}

export interface StubReviewComment {
  id: number;
  pull_number: number;
  review_id: number;
  path: string;
  /** Null for a comment on a line that is no longer in the diff. */
  line: number | null;
  body: string;
  user: GitHubUser;
}

export interface StubReaction {
  comment_id: number;
  content: string;
}

export interface StubDispatch {
  workflow_id: string;
  ref: string;
  inputs: Record<string, unknown>;
}

export interface StubIssue {
  number: number;
  title: string;
  body: string;
  labels?: string[];
}

export interface StubLabel {
  name: string;
  color: string;
  description: string;
}

export interface GitHubStubOptions {
  owner: string;
  repo: string;
  /** Role per login; logins not listed have no access ("none"). */
  permissions?: Record<string, RepoRole>;
  issues?: StubIssue[];
  comments?: { issue_number: number; body: string; user?: string }[];
  /** Author of comments and pull requests created through the API. */
  botLogin?: string;
  /** Serves the repository's workflow artifacts (`startArtifactServer().rest`). */
  artifacts?: ArtifactRestSource;
  /** Pull requests that exist from the start, e.g. one from a fork (`headRepo`). */
  pulls?: (Omit<StubPull, "html_url" | "state"> & { state?: "open" | "closed" })[];
  /** Line comments of pull request reviews. */
  reviewComments?: (Omit<StubReviewComment, "id" | "user"> & { user?: string })[];
}

export interface StubRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** The Authorization header it carried: which token made the call. */
  authorization?: string;
}

/** A reply served once, in place of the route's, to the next request that matches. */
export interface StubFault {
  /** Any method when absent. */
  method?: string;
  /** The request's path without the query string. */
  path: string;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface GitHubStub {
  /** API base URL without a trailing slash, for `baseUrl` or GITHUB_API_URL. */
  url: string;
  state: {
    comments: StubComment[];
    /** Label names per issue or pull request number. */
    labels: Map<number, string[]>;
    pulls: StubPull[];
    /** Labels defined on the repository (created explicitly or by adding them to an issue). */
    repoLabels: Map<string, StubLabel>;
    reviewComments: StubReviewComment[];
    reactions: StubReaction[];
    /** workflow_dispatch events created through the API. */
    dispatches: StubDispatch[];
  };
  requests: StubRequest[];
  /** Queue a failure (a 502, a rate limit) for the next matching request: retries are tested. */
  failNext(fault: StubFault): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Ctx {
  stub: GitHubStub;
  options: Required<Pick<GitHubStubOptions, "owner" | "repo" | "botLogin">> & GitHubStubOptions;
  issues: Map<number, StubIssue>;
  ids: { next: number };
  faults: StubFault[];
  url: URL;
  body: unknown;
}

type Handler = (ctx: Ctx, params: readonly string[]) => Reply;

const DOCS = "https://docs.github.com/rest";
const DEFAULT_LABEL_COLOR = "ededed";

export async function startGitHubStub(options: GitHubStubOptions): Promise<GitHubStub> {
  const stub: GitHubStub = {
    url: "",
    state: {
      comments: [],
      labels: new Map(),
      pulls: [],
      repoLabels: new Map(),
      reviewComments: [],
      reactions: [],
      dispatches: [],
    },
    requests: [],
    failNext: (fault) => {
      faults.push(fault);
    },
    close: async () => undefined,
  };
  const faults: StubFault[] = [];
  const ctxBase = {
    stub,
    options: { ...options, botLogin: options.botLogin ?? "github-actions[bot]" },
    issues: new Map((options.issues ?? []).map((issue) => [issue.number, issue])),
    ids: { next: 1000 },
    faults,
  };
  seed(ctxBase);
  const server = createServer((req, res) => {
    handle(ctxBase, req, res).catch((error: unknown) => {
      send(res, { status: 500, body: { message: String(error), documentation_url: DOCS } });
    });
  });
  const port = await listen(server);
  stub.url = `http://127.0.0.1:${port}`;
  stub.close = () => closeServer(server);
  return stub;
}

function seed(ctx: Omit<Ctx, "url" | "body">): void {
  for (const issue of ctx.issues.values()) {
    ctx.stub.state.labels.set(issue.number, [...(issue.labels ?? [])]);
    for (const name of issue.labels ?? []) defineLabel(ctx.stub, name);
  }
  for (const pull of ctx.options.pulls ?? []) {
    ctx.stub.state.pulls.push({
      ...pull,
      state: pull.state ?? "open",
      html_url: `${htmlBase(ctx)}/pull/${pull.number}`,
    });
    ctx.stub.state.labels.set(pull.number, []);
  }
  for (const comment of ctx.options.reviewComments ?? []) {
    ctx.stub.state.reviewComments.push({
      ...comment,
      id: ctx.ids.next++,
      user: { login: comment.user ?? "reviewer" },
    });
  }
  for (const comment of ctx.options.comments ?? []) {
    ctx.stub.state.comments.push({
      id: ctx.ids.next++,
      issue_number: comment.issue_number,
      body: comment.body,
      user: { login: comment.user ?? ctx.options.botLogin },
    });
  }
}

async function handle(
  base: Omit<Ctx, "url" | "body">,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", base.stub.url);
  const raw = (await readBody(req)).toString("utf8");
  const parsed = parseJson(raw);
  const method = req.method ?? "GET";
  base.stub.requests.push({
    method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    body: parsed.ok ? parsed.value : raw,
    authorization: req.headers.authorization,
  });
  if (!req.headers.authorization?.trim()) {
    return send(res, {
      status: 401,
      body: { message: "Requires authentication", documentation_url: DOCS },
    });
  }
  const fault = base.faults.findIndex(
    (f) => f.path === url.pathname && (f.method === undefined || f.method === method),
  );
  if (fault !== -1) {
    const [reply] = base.faults.splice(fault, 1);
    if (reply) return send(res, reply);
  }
  if (!parsed.ok) {
    return send(res, {
      status: 400,
      body: { message: "Problems parsing JSON", documentation_url: DOCS },
    });
  }
  send(res, dispatch({ ...base, url, body: parsed.value }, method));
}

// ---------------------------------------------------------------------------------------
// Routing. Paths are matched below /repos/{owner}/{repo}, which GitHub compares case-insensitively.

const ROUTES: { method: string; pattern: RegExp; handler: Handler }[] = [
  { method: "GET", pattern: /^\/issues\/(\d+)$/, handler: getIssue },
  { method: "GET", pattern: /^\/issues\/(\d+)\/comments$/, handler: listComments },
  { method: "POST", pattern: /^\/issues\/(\d+)\/comments$/, handler: createComment },
  { method: "PATCH", pattern: /^\/issues\/comments\/(\d+)$/, handler: updateComment },
  { method: "GET", pattern: /^\/issues\/(\d+)\/labels$/, handler: listIssueLabels },
  { method: "POST", pattern: /^\/issues\/(\d+)\/labels$/, handler: addIssueLabels },
  { method: "PUT", pattern: /^\/issues\/(\d+)\/labels$/, handler: setIssueLabels },
  { method: "DELETE", pattern: /^\/issues\/(\d+)\/labels\/([^/]+)$/, handler: removeIssueLabel },
  { method: "POST", pattern: /^\/labels$/, handler: createLabel },
  { method: "GET", pattern: /^\/collaborators\/([^/]+)\/permission$/, handler: getPermission },
  { method: "GET", pattern: /^\/pulls$/, handler: listPulls },
  { method: "POST", pattern: /^\/pulls$/, handler: createPull },
  { method: "PATCH", pattern: /^\/pulls\/(\d+)$/, handler: updatePull },
  { method: "GET", pattern: /^\/pulls\/(\d+)$/, handler: getPull },
  {
    method: "GET",
    pattern: /^\/pulls\/(\d+)\/reviews\/(\d+)\/comments$/,
    handler: listReviewComments,
  },
  {
    method: "POST",
    pattern: /^\/pulls\/(\d+)\/requested_reviewers$/,
    handler: requestReviewers,
  },
  { method: "POST", pattern: /^\/issues\/comments\/(\d+)\/reactions$/, handler: addReaction },
  {
    method: "POST",
    pattern: /^\/actions\/workflows\/([^/]+)\/dispatches$/,
    handler: dispatchWorkflow,
  },
  { method: "GET", pattern: /^\/actions\/artifacts$/, handler: listArtifacts },
  { method: "GET", pattern: /^\/actions\/runs\/(\d+)\/artifacts$/, handler: listRunArtifacts },
  { method: "GET", pattern: /^\/actions\/artifacts\/(\d+)$/, handler: getArtifact },
  { method: "GET", pattern: /^\/actions\/artifacts\/(\d+)\/zip$/, handler: downloadArtifact },
];

function dispatch(ctx: Ctx, method: string): Reply {
  const prefix = `/repos/${ctx.options.owner}/${ctx.options.repo}`.toLowerCase();
  const path = ctx.url.pathname;
  if (path.toLowerCase().startsWith(`${prefix}/`)) {
    const rest = path.slice(prefix.length);
    for (const route of ROUTES) {
      const match = route.method === method ? route.pattern.exec(rest) : null;
      if (match) return route.handler(ctx, match.slice(1).map(decodeURIComponent));
    }
  }
  return notFound();
}

function notFound(message = "Not Found"): Reply {
  return { status: 404, body: { message, documentation_url: DOCS } };
}

function validationFailed(errors: unknown[]): Reply {
  return { status: 422, body: { message: "Validation Failed", errors, documentation_url: DOCS } };
}

// ---------------------------------------------------------------------------------------
// Issues and comments

/** Issues and pull requests share one number space, as on GitHub. */
function issueExists(ctx: Ctx, number: number): boolean {
  return ctx.issues.has(number) || ctx.stub.state.pulls.some((p) => p.number === number);
}

function getIssue(ctx: Ctx, [n]: readonly string[]): Reply {
  const number = Number(n);
  const issue = ctx.issues.get(number);
  const pull = ctx.stub.state.pulls.find((p) => p.number === number);
  if (!issue && !pull) return notFound();
  const shared = {
    number,
    id: number,
    html_url: `${htmlBase(ctx)}/${pull ? "pull" : "issues"}/${number}`,
    labels: labelObjects(ctx, number),
    user: { login: ctx.options.botLogin },
  };
  if (pull) {
    return {
      status: 200,
      body: {
        ...shared,
        title: pull.title,
        body: pull.body,
        state: pull.state,
        pull_request: { html_url: pull.html_url },
      },
    };
  }
  return {
    status: 200,
    body: { ...shared, title: issue?.title, body: issue?.body, state: "open" },
  };
}

function listComments(ctx: Ctx, [n]: readonly string[]): Reply {
  const number = Number(n);
  if (!issueExists(ctx, number)) return notFound();
  const all = ctx.stub.state.comments.filter((c) => c.issue_number === number);
  return paginate(
    ctx,
    all.map((c) => commentJson(ctx, c)),
  );
}

function createComment(ctx: Ctx, [n]: readonly string[]): Reply {
  const number = Number(n);
  if (!issueExists(ctx, number)) return notFound();
  const body = stringProp(ctx.body, "body");
  if (body === undefined)
    return validationFailed([{ resource: "IssueComment", code: "missing_field", field: "body" }]);
  const comment: StubComment = {
    id: ctx.ids.next++,
    issue_number: number,
    body,
    user: { login: ctx.options.botLogin },
  };
  ctx.stub.state.comments.push(comment);
  return { status: 201, body: commentJson(ctx, comment) };
}

function updateComment(ctx: Ctx, [id]: readonly string[]): Reply {
  const comment = ctx.stub.state.comments.find((c) => c.id === Number(id));
  if (!comment) return notFound();
  const body = stringProp(ctx.body, "body");
  if (body === undefined)
    return validationFailed([{ resource: "IssueComment", code: "missing_field", field: "body" }]);
  comment.body = body;
  return { status: 200, body: commentJson(ctx, comment) };
}

function commentJson(ctx: Ctx, comment: StubComment): Record<string, unknown> {
  return {
    id: comment.id,
    body: comment.body,
    user: {
      login: comment.user.login,
      type: comment.user.login.endsWith("[bot]") ? "Bot" : "User",
    },
    html_url: `${htmlBase(ctx)}/issues/${comment.issue_number}#issuecomment-${comment.id}`,
    issue_url: `${ctx.stub.url}/repos/${ctx.options.owner}/${ctx.options.repo}/issues/${comment.issue_number}`,
  };
}

// ---------------------------------------------------------------------------------------
// Labels

function listIssueLabels(ctx: Ctx, [n]: readonly string[]): Reply {
  const number = Number(n);
  if (!issueExists(ctx, number)) return notFound();
  return paginate(ctx, labelObjects(ctx, number));
}

function addIssueLabels(ctx: Ctx, [n]: readonly string[]): Reply {
  return changeIssueLabels(ctx, Number(n), (current, names) => [
    ...current,
    ...names.filter((name) => !current.includes(name)),
  ]);
}

function setIssueLabels(ctx: Ctx, [n]: readonly string[]): Reply {
  return changeIssueLabels(ctx, Number(n), (_current, names) => [...new Set(names)]);
}

function changeIssueLabels(
  ctx: Ctx,
  number: number,
  change: (current: string[], names: string[]) => string[],
): Reply {
  if (!issueExists(ctx, number)) return notFound();
  const names = labelNames(ctx.body);
  if (!names) return validationFailed([{ resource: "Label", code: "invalid", field: "labels" }]);
  // Adding an unknown label to an issue creates it on the repository, as GitHub does.
  for (const name of names) defineLabel(ctx.stub, name);
  ctx.stub.state.labels.set(number, change(ctx.stub.state.labels.get(number) ?? [], names));
  return { status: 200, body: labelObjects(ctx, number) };
}

function removeIssueLabel(ctx: Ctx, [n, name]: readonly string[]): Reply {
  const number = Number(n);
  if (!issueExists(ctx, number)) return notFound();
  const current = ctx.stub.state.labels.get(number) ?? [];
  if (!name || !current.includes(name)) return notFound("Label does not exist");
  ctx.stub.state.labels.set(
    number,
    current.filter((label) => label !== name),
  );
  return { status: 200, body: labelObjects(ctx, number) };
}

function createLabel(ctx: Ctx): Reply {
  const name = stringProp(ctx.body, "name");
  if (!name) return validationFailed([{ resource: "Label", code: "missing_field", field: "name" }]);
  if (ctx.stub.state.repoLabels.has(name)) {
    return validationFailed([{ resource: "Label", code: "already_exists", field: "name" }]);
  }
  const label = defineLabel(
    ctx.stub,
    name,
    stringProp(ctx.body, "color"),
    stringProp(ctx.body, "description"),
  );
  return { status: 201, body: labelJson(ctx, label) };
}

function defineLabel(
  stub: GitHubStub,
  name: string,
  color?: string,
  description?: string,
): StubLabel {
  const existing = stub.state.repoLabels.get(name);
  if (existing) return existing;
  const label = { name, color: color ?? DEFAULT_LABEL_COLOR, description: description ?? "" };
  stub.state.repoLabels.set(name, label);
  return label;
}

/** Octokit sends `{ labels: [...] }`; GitHub also takes a bare array and `{ name }` objects. */
function labelNames(body: unknown): string[] | undefined {
  const list = Array.isArray(body) ? body : isRecord(body) ? body.labels : undefined;
  if (!Array.isArray(list)) return undefined;
  const names = list.map((item: unknown) =>
    typeof item === "string" ? item : stringProp(item, "name"),
  );
  return names.every((name): name is string => typeof name === "string" && name !== "")
    ? names
    : undefined;
}

function labelObjects(ctx: Ctx, number: number): Record<string, unknown>[] {
  return (ctx.stub.state.labels.get(number) ?? []).map((name) =>
    labelJson(ctx, defineLabel(ctx.stub, name)),
  );
}

function labelJson(ctx: Ctx, label: StubLabel): Record<string, unknown> {
  return {
    name: label.name,
    color: label.color,
    description: label.description,
    default: false,
    url: `${ctx.stub.url}/repos/${ctx.options.owner}/${ctx.options.repo}/labels/${encodeURIComponent(label.name)}`,
  };
}

// ---------------------------------------------------------------------------------------
// Collaborator permission

/** `permission` is GitHub's legacy coarse level; `role_name` is the actual role. */
const LEGACY_PERMISSION: Record<RepoRole, "admin" | "write" | "read" | "none"> = {
  admin: "admin",
  maintain: "write",
  write: "write",
  triage: "read",
  read: "read",
  none: "none",
};

function getPermission(ctx: Ctx, [login]: readonly string[]): Reply {
  const name = login ?? "";
  const role = ctx.options.permissions?.[name] ?? "none";
  return {
    status: 200,
    body: {
      permission: LEGACY_PERMISSION[role],
      role_name: role,
      user: { login: name, type: "User" },
    },
  };
}

// ---------------------------------------------------------------------------------------
// Pull requests

function listPulls(ctx: Ctx): Reply {
  const query = ctx.url.searchParams;
  const state = query.get("state") ?? "open";
  const head = query.get("head");
  const base = query.get("base");
  const pulls = ctx.stub.state.pulls.filter(
    (p) =>
      (state === "all" || p.state === state) &&
      (!head || matchesHead(ctx, p, head)) &&
      (!base || p.base === base),
  );
  return paginate(
    ctx,
    pulls.map((p) => pullJson(ctx, p)),
  );
}

/** `head` is `owner:branch`; a pull from the stub's repository has the stub owner. */
function matchesHead(ctx: Ctx, pull: StubPull, head: string): boolean {
  const colon = head.indexOf(":");
  if (colon < 0) return pull.head === head;
  const owner = head.slice(0, colon);
  return (
    owner.toLowerCase() === ctx.options.owner.toLowerCase() && pull.head === head.slice(colon + 1)
  );
}

function createPull(ctx: Ctx): Reply {
  const title = stringProp(ctx.body, "title");
  const headRef = stringProp(ctx.body, "head");
  const base = stringProp(ctx.body, "base");
  if (!title || !headRef || !base) {
    return validationFailed([
      {
        resource: "PullRequest",
        code: "missing_field",
        field: !title ? "title" : !headRef ? "head" : "base",
      },
    ]);
  }
  const head = headRef.includes(":") ? headRef.slice(headRef.indexOf(":") + 1) : headRef;
  if (ctx.stub.state.pulls.some((p) => p.state === "open" && p.head === head && p.base === base)) {
    return validationFailed([
      {
        resource: "PullRequest",
        code: "custom",
        message: `A pull request already exists for ${ctx.options.owner}:${head}.`,
      },
    ]);
  }
  const number = nextIssueNumber(ctx);
  const pull: StubPull = {
    number,
    head,
    base,
    title,
    body: stringProp(ctx.body, "body") ?? "",
    state: "open",
    html_url: `${htmlBase(ctx)}/pull/${number}`,
  };
  ctx.stub.state.pulls.push(pull);
  ctx.stub.state.labels.set(number, []);
  return { status: 201, body: pullJson(ctx, pull) };
}

function updatePull(ctx: Ctx, [n]: readonly string[]): Reply {
  const pull = ctx.stub.state.pulls.find((p) => p.number === Number(n));
  if (!pull) return notFound();
  const state = stringProp(ctx.body, "state");
  if (state !== undefined && state !== "open" && state !== "closed") {
    return validationFailed([{ resource: "PullRequest", code: "invalid", field: "state" }]);
  }
  pull.title = stringProp(ctx.body, "title") ?? pull.title;
  pull.body = stringProp(ctx.body, "body") ?? pull.body;
  pull.base = stringProp(ctx.body, "base") ?? pull.base;
  pull.state = state ?? pull.state;
  return { status: 200, body: pullJson(ctx, pull) };
}

function nextIssueNumber(ctx: Ctx): number {
  const numbers = [...ctx.issues.keys(), ...ctx.stub.state.pulls.map((p) => p.number)];
  return Math.max(0, ...numbers) + 1;
}

function pullJson(ctx: Ctx, pull: StubPull): Record<string, unknown> {
  const { owner, repo } = ctx.options;
  const repoJson = { name: repo, full_name: `${owner}/${repo}`, owner: { login: owner } };
  return {
    id: pull.number,
    number: pull.number,
    state: pull.state,
    title: pull.title,
    body: pull.body,
    html_url: pull.html_url,
    user: { login: pull.user ?? ctx.options.botLogin },
    labels: labelObjects(ctx, pull.number),
    draft: false,
    merged: false,
    requested_reviewers: (pull.requestedReviewers ?? []).map((login) => ({ login })),
    head: {
      ref: pull.head,
      label: `${(pull.headRepo ?? `${owner}/${repo}`).split("/")[0]}:${pull.head}`,
      repo: pull.headRepo
        ? {
            name: pull.headRepo.split("/")[1],
            full_name: pull.headRepo,
            owner: { login: pull.headRepo.split("/")[0] },
          }
        : repoJson,
    },
    base: { ref: pull.base, label: `${owner}:${pull.base}`, repo: repoJson },
  };
}

function getPull(ctx: Ctx, [n]: readonly string[]): Reply {
  const pull = ctx.stub.state.pulls.find((p) => p.number === Number(n));
  return pull ? { status: 200, body: pullJson(ctx, pull) } : notFound();
}

function listReviewComments(ctx: Ctx, [n, reviewId]: readonly string[]): Reply {
  if (!ctx.stub.state.pulls.some((p) => p.number === Number(n))) return notFound();
  const comments = ctx.stub.state.reviewComments.filter(
    (c) => c.pull_number === Number(n) && c.review_id === Number(reviewId),
  );
  return paginate(
    ctx,
    comments.map((c) => ({
      id: c.id,
      pull_request_review_id: c.review_id,
      path: c.path,
      line: c.line,
      original_line: c.line,
      body: c.body,
      user: { login: c.user.login, type: "User" },
    })),
  );
}

/** GitHub refuses to request a review from the pull request's author. */
function requestReviewers(ctx: Ctx, [n]: readonly string[]): Reply {
  const pull = ctx.stub.state.pulls.find((p) => p.number === Number(n));
  if (!pull) return notFound();
  const reviewers = isRecord(ctx.body) ? ctx.body.reviewers : undefined;
  if (!Array.isArray(reviewers) || !reviewers.every((r) => typeof r === "string")) {
    return validationFailed([{ resource: "PullRequest", code: "invalid", field: "reviewers" }]);
  }
  const author = pull.user ?? ctx.options.botLogin;
  if (reviewers.includes(author)) {
    return {
      status: 422,
      body: {
        message: "Review cannot be requested from pull request author.",
        documentation_url: DOCS,
      },
    };
  }
  pull.requestedReviewers = [...new Set([...(pull.requestedReviewers ?? []), ...reviewers])];
  return { status: 201, body: pullJson(ctx, pull) };
}

const REACTIONS = new Set(["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]);

function addReaction(ctx: Ctx, [id]: readonly string[]): Reply {
  if (!ctx.stub.state.comments.some((c) => c.id === Number(id))) return notFound();
  const content = stringProp(ctx.body, "content");
  if (!content || !REACTIONS.has(content)) {
    return validationFailed([{ resource: "Reaction", code: "invalid", field: "content" }]);
  }
  ctx.stub.state.reactions.push({ comment_id: Number(id), content });
  return {
    status: 201,
    body: { id: ctx.ids.next++, content, user: { login: ctx.options.botLogin } },
  };
}

function dispatchWorkflow(ctx: Ctx, [workflowId]: readonly string[]): Reply {
  const ref = stringProp(ctx.body, "ref");
  if (!ref)
    return validationFailed([{ resource: "Workflow", code: "missing_field", field: "ref" }]);
  const inputs = isRecord(ctx.body) && isRecord(ctx.body.inputs) ? ctx.body.inputs : {};
  ctx.stub.state.dispatches.push({ workflow_id: workflowId ?? "", ref, inputs });
  return { status: 204 };
}

// ---------------------------------------------------------------------------------------
// Workflow artifacts (served from an artifact stand-in, see GitHubStubOptions.artifacts)

function repoArtifacts(ctx: Ctx): RestArtifact[] {
  return (
    ctx.options.artifacts?.list(ctx.stub.url, `/repos/${ctx.options.owner}/${ctx.options.repo}`) ??
    []
  );
}

/** `name` filters by exact name, as on GitHub; the list is newest first. */
function listArtifacts(ctx: Ctx): Reply {
  const name = ctx.url.searchParams.get("name");
  return artifactPage(
    ctx,
    repoArtifacts(ctx).filter((a) => !name || a.name === name),
  );
}

function listRunArtifacts(ctx: Ctx, [runId]: readonly string[]): Reply {
  const name = ctx.url.searchParams.get("name");
  return artifactPage(
    ctx,
    repoArtifacts(ctx).filter(
      (a) => a.workflow_run.id === Number(runId) && (!name || a.name === name),
    ),
  );
}

function getArtifact(ctx: Ctx, [id]: readonly string[]): Reply {
  const artifact = repoArtifacts(ctx).find((a) => a.id === Number(id));
  return artifact ? { status: 200, body: artifact } : notFound();
}

/** GitHub answers 302 to a short-lived blob URL, or 410 once the artifact expired. */
function downloadArtifact(ctx: Ctx, [id]: readonly string[]): Reply {
  const artifact = repoArtifacts(ctx).find((a) => a.id === Number(id));
  if (!artifact) return notFound();
  const location = ctx.options.artifacts?.downloadUrl(artifact.id);
  if (!location)
    return { status: 410, body: { message: "Artifact has expired", documentation_url: DOCS } };
  return { status: 302, headers: { Location: location } };
}

/** Artifact lists are objects (`total_count`, `artifacts`), paged like every list. */
function artifactPage(ctx: Ctx, artifacts: RestArtifact[]): Reply {
  const page = paginate(ctx, artifacts);
  return { ...page, body: { total_count: artifacts.length, artifacts: page.body } };
}

// ---------------------------------------------------------------------------------------
// Plumbing

/** GitHub's `per_page` (default 30, max 100) / `page` with a Link header Octokit follows. */
function paginate(ctx: Ctx, items: unknown[]): Reply {
  const perPage = clamp(Number(ctx.url.searchParams.get("per_page") ?? 30), 1, 100);
  const page = Math.max(1, Number(ctx.url.searchParams.get("page") ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const links: string[] = [];
  const link = (p: number, rel: string) => {
    const target = new URL(ctx.url);
    target.searchParams.set("per_page", String(perPage));
    target.searchParams.set("page", String(p));
    links.push(`<${target.href}>; rel="${rel}"`);
  };
  if (page > 1) link(page - 1, "prev");
  if (page < last) link(page + 1, "next");
  if (page < last) link(last, "last");
  if (page > 1) link(1, "first");
  return {
    status: 200,
    body: items.slice((page - 1) * perPage, page * perPage),
    headers: links.length > 0 ? { Link: links.join(", ") } : {},
  };
}

function clamp(value: number, min: number, max: number): number {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, Math.trunc(value))) : min;
}

function htmlBase(ctx: Pick<Ctx, "options">): string {
  return `https://github.com/${ctx.options.owner}/${ctx.options.repo}`;
}

function send(res: ServerResponse, reply: Reply): void {
  const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
    ...reply.headers,
  });
  res.end(text);
}

/** An empty body is valid (GET, DELETE) and reads as undefined. */
function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  if (raw.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

function stringProp(value: unknown, name: string): string | undefined {
  if (!isRecord(value)) return undefined;
  const prop = value[name];
  return typeof prop === "string" ? prop : undefined;
}
