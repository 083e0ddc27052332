/**
 * In-memory stand-ins for the seams of runPhaseJob: the Actions cache (copies directories),
 * the GitHub API, the log and summary sinks, and a runPhase that records sessions in the real
 * store the way the runner does, without starting Claude.
 */
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Session } from "@miyabi/core";
import {
  commitPhase,
  createRedactor,
  issueStanding,
  loadPipeline,
  type RunPhaseOptions,
} from "@miyabi/runner";
import {
  type Cache,
  type GitHubApi,
  type IssueComment,
  type Logger,
  type PhaseJobOptions,
  type PhaseOutputs,
  type PullRequest,
  type PullRequestContent,
  parseInputs,
  type Runner,
} from "../src/index.js";
import type { PullInfo, ReactionContent } from "../src/internal/iterate-api.js";
import type { ReviewComment } from "../src/internal/triggers.js";
import { bareOrigin, sh } from "./git.js";

/**
 * The cache as the service keeps it: each entry a real archive made the way @actions/cache
 * makes it (member names relative to the workspace), so restores go through the safe extractor.
 */
export class FakeCache implements Cache {
  readonly entries = new Map<string, string>();
  readonly calls: {
    op: "restore" | "save";
    paths: string[];
    key: string;
    restoreKeys?: string[];
  }[] = [];
  /** What save does instead of saving: refuse with a cause, or throw. */
  saveFault: "refuse" | "throw" | undefined;
  /** Lookups fail, as when the service is down. */
  down = false;

  constructor(
    readonly root: string,
    private readonly workspace: () => string,
  ) {}

  async download(paths: string[], primaryKey: string, restoreKeys: string[], dir: string) {
    this.calls.push({ op: "restore", paths, key: primaryKey, restoreKeys });
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:1");
    const keys = [...this.entries.keys()];
    const key =
      keys.find((k) => k === primaryKey) ??
      [primaryKey, ...restoreKeys]
        .map((prefix) => keys.filter((k) => k.startsWith(prefix)).at(-1))
        .find((k) => k !== undefined);
    if (key === undefined) return undefined;
    const archive = path.join(dir, "cache.tgz");
    await cp(this.entries.get(key) as string, archive);
    return { key, archive, compression: "gzip" as const };
  }

  /** Put a hand-made archive in the cache under `key`. */
  plant(key: string, archive: string) {
    this.entries.set(key, archive);
  }

  async save(paths: string[], key: string) {
    this.calls.push({ op: "save", paths, key });
    if (this.saveFault === "refuse" || this.entries.has(key)) {
      return { ok: false as const, cause: "read ECONNRESET" };
    }
    if (this.saveFault === "throw") throw new Error("Path Validation Error: injected");
    const archive = path.join(this.root, `entry-${this.entries.size}.tgz`);
    // As @actions/cache makes it: names relative to the workspace, `../` kept (-P).
    const workspace = this.workspace();
    const name = path.relative(workspace, path.resolve(workspace, paths[0] as string));
    execFileSync("tar", ["-czPf", archive, "-C", workspace, name]);
    this.entries.set(key, archive);
    return { ok: true as const };
  }
}

interface FakeIssue {
  title: string;
  body: string;
  labels: string[];
}

export class FakeGitHub implements GitHubApi {
  readonly calls: string[] = [];
  readonly comments: (IssueComment & { issue: number })[] = [];
  readonly issues = new Map<number, FakeIssue>();
  readonly permissions = new Map<string, string>([["alice", "admin"]]);
  readonly pulls: (PullRequest & PullRequestContent & { head: string; base: string })[] = [];
  /** Pull requests whose head branch lives in a fork. */
  readonly forks = new Set<number>();
  reviewComments: ReviewComment[] = [];
  failComments = false;
  failPulls = false;
  #nextId = 1;

  async getPermission(login: string) {
    this.calls.push(`permission ${login}`);
    const role = this.permissions.get(login) ?? "none";
    return { role, permission: role === "maintain" ? "write" : role };
  }

  async getIssue(issueNumber: number) {
    this.calls.push(`issue ${issueNumber}`);
    const issue = this.issues.get(issueNumber);
    if (!issue) throw new Error(`Not Found: issue ${issueNumber}`);
    return { number: issueNumber, title: issue.title, body: issue.body, labels: [...issue.labels] };
  }

  async listComments(issueNumber: number) {
    this.calls.push(`list comments ${issueNumber}`);
    return this.comments
      .filter((c) => c.issue === issueNumber)
      .map(({ id, body, author }) => ({ id, body, author }));
  }

  async createComment(issueNumber: number, body: string) {
    this.calls.push(`create comment ${issueNumber}`);
    if (this.failComments) throw new Error("Resource not accessible by integration");
    const comment = { id: this.#nextId++, issue: issueNumber, body, author: "github-actions[bot]" };
    this.comments.push(comment);
    return { id: comment.id, author: comment.author };
  }

  async updateComment(commentId: number, body: string) {
    this.calls.push(`update comment ${commentId}`);
    const comment = this.comments.find((c) => c.id === commentId);
    if (!comment) throw new Error("Not Found");
    comment.body = body;
  }

  async addLabels(issueNumber: number, labels: string[]) {
    this.calls.push(`add ${labels.join(",")}`);
    this.issues.get(issueNumber)?.labels.push(...labels);
  }

  async removeLabel(issueNumber: number, label: string) {
    this.calls.push(`remove ${label}`);
    const issue = this.issues.get(issueNumber);
    if (issue) issue.labels = issue.labels.filter((l) => l !== label);
  }

  async listOpenPulls(branch: string) {
    this.calls.push(`list pulls ${branch}`);
    if (this.failPulls) throw new Error("Resource not accessible by integration");
    return this.pulls.filter((p) => p.head === branch).map(({ number, url }) => ({ number, url }));
  }

  async createPull(pull: PullRequestContent & { head: string; base: string; draft?: boolean }) {
    this.calls.push(`create pull ${pull.head} -> ${pull.base}`);
    const number = 100 + this.pulls.length;
    const created = { ...pull, number, url: `https://github.com/octo/widgets/pull/${number}` };
    this.pulls.push(created);
    return { number, url: created.url };
  }

  async updatePull(pullNumber: number, content: PullRequestContent) {
    this.calls.push(`update pull ${pullNumber}`);
    const pull = this.pulls.find((p) => p.number === pullNumber);
    if (!pull) throw new Error("Not Found");
    Object.assign(pull, content);
    return { number: pull.number, url: pull.url };
  }

  async getPull(pullNumber: number): Promise<PullInfo> {
    this.calls.push(`get pull ${pullNumber}`);
    const pull = this.pulls.find((p) => p.number === pullNumber);
    if (!pull) throw new Error("Not Found");
    const repo = "octo/widgets";
    return {
      number: pull.number,
      state: "open",
      headRef: pull.head,
      headRepo: this.forks.has(pullNumber) ? "mallory/widgets" : repo,
      baseRepo: repo,
      author: "miyabi[bot]",
    };
  }

  async listReviewComments(pullNumber: number, reviewId: number) {
    this.calls.push(`review comments ${pullNumber} ${reviewId}`);
    return this.reviewComments;
  }

  async addReaction(commentId: number, content: ReactionContent) {
    this.calls.push(`react ${commentId} ${content}`);
  }

  async requestReviewers(pullNumber: number, logins: string[]) {
    this.calls.push(`request reviewers ${pullNumber} ${logins.join(",")}`);
  }

  async dispatchWorkflow(workflow: string, ref: string, inputs: Record<string, string>) {
    this.calls.push(`dispatch ${workflow} ${ref} ${JSON.stringify(inputs)}`);
  }
}

export class FakeLog implements Logger {
  readonly lines: string[] = [];

  info(message: string) {
    this.lines.push(message);
  }
  notice(message: string) {
    this.lines.push(`notice: ${message}`);
  }
  warning(message: string) {
    this.lines.push(`warning: ${message}`);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`group: ${name}`);
    try {
      return await fn();
    } finally {
      this.lines.push("endgroup");
    }
  }
}

export type Behaviour = "complete" | "fail" | "throw";

/**
 * runPhase's bookkeeping without Claude: one session per agent, finished as told. A successful
 * agent writes `work/<step>.txt` and, when asked to, commits it as the runner does.
 */
export function fakeRunner(behaviour: () => Behaviour = () => "complete") {
  const calls: RunPhaseOptions[] = [];
  const runner: Runner = {
    loadPipeline,
    issueStanding,
    async runPhase(options) {
      calls.push(options);
      const { store, issue, pipeline } = options;
      const head = await store.issueHead(issue.number);
      const step =
        pipeline.steps.find((s) => s.id === options.step) ??
        (await issueStanding({ store, pipeline, issueNumber: issue.number })).next;
      if (!step) throw new Error("pipeline done");
      const how = behaviour();
      if (how === "throw") throw new Error("runner exploded");
      const context = { issueNumber: issue.number, currentPhase: step.phase };
      const ids = head
        ? await store.fanOut(
            head.id,
            step.agents.map((toAgent) => ({ toAgent, context })),
          )
        : [
            await store.create({
              agentName: step.agents[0] as string,
              purpose: issue.title,
              context,
            }),
          ];
      const sessions: Session[] = [];
      for (const id of ids) {
        options.onProgress?.({
          sessionId: id,
          agent: step.agents[0] as string,
          phase: step.phase,
          kind: "text",
          message: "working\n::warning::not a command",
          turns: 1,
          costUsd: 0.01,
          elapsedMs: 1500,
        });
        const result = {
          agent: step.agents[0] as string,
          phase: step.phase,
          outcome: how === "fail" ? ("failure" as const) : ("success" as const),
          summary: `${step.id} done`,
          claudeSessionId: "11111111-2222-4333-8444-555555555555",
          numTurns: 3,
          totalCostUsd: 0.0125,
          durationMs: 4200,
        };
        if (how === "fail") {
          sessions.push(await store.fail(id, "the agent gave up", result));
          continue;
        }
        await mkdir(path.join(options.repoDir, "work"), { recursive: true });
        await writeFile(path.join(options.repoDir, "work", `${step.id}.txt`), `${step.id}\n`);
        const commit = options.commit
          ? (
              await commitPhase({
                worktree: options.repoDir,
                message: `${step.phase}: ${result.agent} for #${issue.number}\n\nMiyabi session ${id}`,
              })
            ).sha
          : null;
        sessions.push(await store.complete(id, { ...result, commit }));
      }
      const index = pipeline.steps.indexOf(step);
      return {
        step,
        parentSessionId: head?.id ?? null,
        sessions,
        status: how === "fail" ? "failed" : "completed",
        next: how === "fail" ? null : (pipeline.steps[index + 1] ?? null),
      };
    },
  };
  return { runner, calls };
}

export interface World {
  root: string;
  cache: FakeCache;
  github: FakeGitHub;
  /** Summaries written, one per job. */
  summaries: string[];
  /** The workspace of the job being run; a new one per job(). */
  workspace: string;
  /** The bare repository each job's workspace is cloned from. */
  origin: string;
  installs: string[];
  cleanup(): Promise<void>;
}

export async function world(): Promise<World> {
  const root = await mkdtemp(path.join(tmpdir(), "miyabi-action-unit-"));
  const w: World = {
    root,
    workspace: root,
    origin: bareOrigin(root),
    summaries: [],
    installs: [],
    github: new FakeGitHub(),
    cache: new FakeCache(root, () => w.workspace),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  w.github.issues.set(7, { title: "Add a counter", body: "Count things.", labels: ["miyabi"] });
  return w;
}

export interface JobRun {
  options: PhaseJobOptions;
  log: FakeLog;
  /** What the job passed to setOutputs, if it did. */
  readonly outputs: PhaseOutputs | undefined;
}

/** Options for one job in a fresh workspace, with the inputs a workflow would pass. */
export async function job(
  w: World,
  inputs: Record<string, string>,
  overrides: Partial<PhaseJobOptions> = {},
): Promise<JobRun> {
  w.workspace = await mkdtemp(path.join(w.root, "ws-"));
  // A fresh checkout, as each job of a workflow gets.
  sh(w.workspace, "clone", "--quiet", w.origin, ".");
  const log = new FakeLog();
  let outputs: PhaseOutputs | undefined;
  const options: PhaseJobOptions = {
    inputs: parseInputs({
      "github-token": "ghs_token",
      "anthropic-api-key": "sk-ant-unit-secret-key",
      "claude-path": "/opt/claude/bin/claude",
      ...inputs,
    }),
    event: { name: "issues", action: "labeled", label: "miyabi", sender: "alice", issueNumber: 7 },
    context: {
      repository: "octo/widgets",
      serverUrl: "https://github.com",
      runId: 100,
      runAttempt: 1,
    },
    workspace: w.workspace,
    tempDir: await mkdtemp(path.join(w.root, "runner-temp-")),
    redact: createRedactor(["ghs_token", "sk-ant-unit-secret-key", "runtime-token-secret"]),
    env: {
      PATH: "/nonexistent",
      INPUT_X: "secret",
      ACTIONS_RUNTIME_TOKEN: "runtime-token-secret",
      HOME: "/home/x",
    },
    cache: w.cache,
    github: w.github,
    log,
    summary: { write: async (markdown) => void w.summaries.push(markdown) },
    setOutputs: (set) => {
      outputs = set;
    },
    runner: fakeRunner().runner,
    installClaude: async (version) => {
      w.installs.push(version);
      return `/tool-cache/miyabi-claude/${version}/node_modules/.bin/claude`;
    },
    ...overrides,
  };
  return {
    options,
    log,
    get outputs() {
      return outputs;
    },
  };
}
