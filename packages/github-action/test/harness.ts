/**
 * Runs the committed action bundle the way the GitHub Actions runner runs a `node24` action:
 * a Node 24 process on actions/session-phase/dist/index.js in the job's workspace, inputs as
 * `INPUT_<NAME>` variables (action.yml defaults filled in as the runner does), file commands
 * (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_STATE, GITHUB_ENV, GITHUB_PATH), the event
 * payload in GITHUB_EVENT_PATH, and a fresh workspace and HOME per job unless given.
 * @actions/github reads GITHUB_API_URL once, as its module loads (Octokit's default baseUrl),
 * so the stub's URL has to be in the environment the process starts with.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Session, SessionStore } from "@miyabi/core";
import { node24Path } from "@miyabi/node24";
import {
  type CacheFaults,
  type CacheServer,
  claudeBinPath,
  type GitHubStub,
  type GitHubStubOptions,
  type ModelServer,
  modelServerEnv,
  type RecordedRequest,
  type RepoRole,
  type ScriptedTurn,
  type StubIssue,
  startCacheServer,
  startGitHubStub,
  startModelServer,
} from "@miyabi/testkit";
import { expect, type TestContext } from "vitest";
import YAML from "yaml";
import { bareOrigin, sh } from "./git.js";
import type { Turn } from "./turns.js";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const ACTION_DIR = path.join(REPO_ROOT, "actions", "session-phase");
export const BUNDLE = path.join(ACTION_DIR, "dist", "index.js");

export const OWNER = "octo-org";
export const REPO = "widgets";
export const GITHUB_TOKEN = "ghs_harnessToken0123456789abcdefABCDEF";
/** The issue a rig's GitHub stub holds and its jobs' events name. */
export const ISSUE = 7;

export interface IssueEventOptions {
  issueNumber: number;
  title?: string;
  body?: string;
  label?: string;
  sender?: string;
  action?: string;
}

/** An `issues` webhook payload as GitHub sends it (the fields anyone reads, and a few more). */
export function issueEvent(options: IssueEventOptions): Record<string, unknown> {
  const label = options.label ?? "miyabi";
  const sender = { login: options.sender ?? "alice", id: 1001, type: "User" };
  return {
    action: options.action ?? "labeled",
    issue: {
      number: options.issueNumber,
      id: 9_000_000 + options.issueNumber,
      title: options.title ?? "Add a widget counter",
      body: options.body ?? "Count the widgets.",
      state: "open",
      html_url: `https://github.com/${OWNER}/${REPO}/issues/${options.issueNumber}`,
      user: sender,
      labels: [{ id: 77, name: label, color: "ededed", default: false }],
    },
    label: { id: 77, name: label, color: "ededed", default: false },
    repository: {
      id: 4242,
      name: REPO,
      full_name: `${OWNER}/${REPO}`,
      private: true,
      owner: { login: OWNER, id: 500, type: "Organization" },
      default_branch: "main",
    },
    organization: { login: OWNER, id: 500 },
    sender,
  };
}

export interface ActionJob {
  /** Input values by action.yml name; unset inputs get action.yml's defaults. */
  inputs?: Record<string, string>;
  eventName?: string;
  payload?: Record<string, unknown>;
  /** GITHUB_API_URL: the GitHub stub's url. */
  apiUrl: string;
  /** Cache service variables: a cache server's env() or unreachableCacheEnv() with RUNNER_TEMP. */
  cacheEnv: Record<string, string>;
  /** More variables (model server, etc.); they win over the defaults. */
  env?: Record<string, string>;
  /** GITHUB_JOB, the job id. */
  job?: string;
  runId?: number;
  runAttempt?: number;
  /**
   * Reuse a workspace (a runner that keeps its work directory); default a fresh clone of
   * `origin`, as actions/checkout makes on a fresh runner.
   */
  workspace?: string;
  /** The repository the job checks out: a bare repository's path. */
  origin: string;
  timeoutMs?: number;
}

export interface ActionResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  workspace: string;
  home: string;
}

interface ActionYml {
  inputs: Record<string, { default?: string }>;
}

let defaultsPromise: Promise<Record<string, string>> | undefined;

/** action.yml's input defaults with `${{ github.token }}` evaluated, as the runner does. */
function inputDefaults(): Promise<Record<string, string>> {
  defaultsPromise ??= readFile(path.join(ACTION_DIR, "action.yml"), "utf8").then((text) => {
    const meta = YAML.parse(text) as ActionYml;
    const out: Record<string, string> = {};
    for (const [name, spec] of Object.entries(meta.inputs)) {
      if (spec.default === undefined) continue;
      out[name] = String(spec.default).replace(/\$\{\{\s*github\.token\s*\}\}/, GITHUB_TOKEN);
    }
    return out;
  });
  return defaultsPromise;
}

/** The runner's rule: upper case, spaces to underscores, dashes kept. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

/**
 * Parse a GITHUB_OUTPUT file: `name<<DELIMITER` heredocs, as @actions/core writes them, and
 * plain `name=value` lines.
 */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const delimiter = heredoc[2];
      const value: string[] = [];
      while (++i < lines.length && lines[i] !== delimiter) value.push(lines[i] as string);
      out[heredoc[1] as string] = value.join("\n");
    } else if (line.includes("=")) {
      out[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
    }
  }
  return out;
}

let scratch: string | undefined;

/** A new directory under one temp root per test process. */
export async function freshDir(prefix: string): Promise<string> {
  scratch ??= await mkdtemp(path.join(tmpdir(), "miyabi-action-e2e-"));
  return mkdtemp(path.join(scratch, `${prefix}-`));
}

/** A fresh clone of `origin` in a new workspace. */
export async function checkout(origin: string): Promise<string> {
  const workspace = await freshDir("workspace");
  sh(workspace, "clone", "--quiet", origin, ".");
  return workspace;
}

export async function runAction(job: ActionJob): Promise<ActionResult> {
  const runnerDir = await freshDir("runner");
  const workspace = job.workspace ?? (await checkout(job.origin));
  const home = await freshDir("home");
  const files = {
    GITHUB_OUTPUT: path.join(runnerDir, "output"),
    GITHUB_STEP_SUMMARY: path.join(runnerDir, "step_summary"),
    GITHUB_STATE: path.join(runnerDir, "state"),
    GITHUB_ENV: path.join(runnerDir, "env"),
    GITHUB_PATH: path.join(runnerDir, "path"),
    GITHUB_EVENT_PATH: path.join(runnerDir, "event.json"),
  };
  for (const file of Object.values(files)) await writeFile(file, "");
  await writeFile(files.GITHUB_EVENT_PATH, JSON.stringify(job.payload ?? {}, null, 2));
  const toolCache = path.join(runnerDir, "tool-cache");
  await mkdir(toolCache);

  // No store artifacts unless a test asks (and starts an artifact service stand-in): the
  // results service URL points at the cache server, which serves no artifacts.
  const inputs = { ...(await inputDefaults()), "artifact-retention-days": "0", ...job.inputs };
  const env: Record<string, string> = {
    // System tools only (tar and zstd for the cache): no `claude` or node_modules/.bin leaks in.
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_ACTION: "__run_session-phase",
    GITHUB_ACTION_PATH: ACTION_DIR,
    GITHUB_ACTOR: "alice",
    GITHUB_EVENT_NAME: job.eventName ?? "issues",
    GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
    GITHUB_REPOSITORY_OWNER: OWNER,
    GITHUB_RUN_ID: String(job.runId ?? 7_000_001),
    GITHUB_RUN_NUMBER: "12",
    GITHUB_RUN_ATTEMPT: String(job.runAttempt ?? 1),
    GITHUB_JOB: job.job ?? "codegen",
    GITHUB_WORKFLOW: "Miyabi pipeline",
    GITHUB_REF: "refs/heads/main",
    GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
    GITHUB_WORKSPACE: workspace,
    GITHUB_API_URL: job.apiUrl,
    GITHUB_GRAPHQL_URL: `${job.apiUrl}/graphql`,
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_TOOL_CACHE: toolCache,
    RUNNER_TEMP: path.join(runnerDir, "temp"),
    ...files,
    ...job.cacheEnv,
    ...job.env,
  };
  for (const [name, value] of Object.entries(inputs)) env[inputVariable(name)] = value;
  await mkdir(env.RUNNER_TEMP as string, { recursive: true });

  const { code, signal, stdout, stderr } = await spawnNode(
    [BUNDLE],
    workspace,
    env,
    job.timeoutMs ?? 120_000,
  );
  return {
    code,
    signal,
    stdout,
    stderr,
    outputs: parseOutputFile(await readFile(files.GITHUB_OUTPUT, "utf8")),
    summary: await readFile(files.GITHUB_STEP_SUMMARY, "utf8"),
    workspace,
    home,
  };
}

function spawnNode(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node24Path(), args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The `::error::` lines of a run's stdout, unescaped as the runner shows them. */
export function errorAnnotations(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("::error::"))
    .map((line) =>
      line
        .slice("::error::".length)
        .replace(/%0A/g, "\n")
        .replace(/%0D/g, "\r")
        .replace(/%25/g, "%"),
    );
}

/** Remove every directory freshDir made in this process. */
export async function removeScratch(): Promise<void> {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/**
 * Whether a model request offers the StructuredOutput tool: the run is a gated step's (the
 * default pipeline's Review), which must end with a verdict.
 */
export function asksForVerdict(req: RecordedRequest): boolean {
  const tools = (req.body as { tools?: { name?: string }[] } | undefined)?.tools ?? [];
  return tools.some((t) => t.name === "StructuredOutput");
}

/** The issue's sessions in the store a job left in its workspace (the default store-path). */
export async function workspaceSessions(workspace: string, issue: number): Promise<Session[]> {
  const store = await SessionStore.open({ dir: path.join(workspace, ".ai", "sessions") });
  try {
    return await store.issueSessions(issue);
  } finally {
    await store.close();
  }
}

export interface RigOptions {
  /** Every job's anthropic-api-key input. */
  apiKey: string;
  /** Issue #ISSUE as the GitHub stub holds it; default "Add a widget counter", no labels. */
  issue?: Partial<Omit<StubIssue, "number">>;
  /** Role per login on the stub; default alice is an admin. */
  permissions?: Record<string, RepoRole>;
  /** Comments the stub starts with. */
  comments?: GitHubStubOptions["comments"];
  /** The workflow artifacts the stub lists (`startArtifactServer().rest`). */
  artifacts?: GitHubStubOptions["artifacts"];
  cacheFaults?: CacheFaults;
  /**
   * What the rig's model server answers: by default each job's `turns` in order, then
   * "Done."; a function answers every job's requests alike.
   */
  script?: (req: RecordedRequest) => ScriptedTurn | Promise<ScriptedTurn>;
  /**
   * False for jobs that stop before a phase runs: no claude-path input and no model server in
   * their environment, so nothing is set up that the path under test does not read.
   */
  claude?: boolean;
  /** The bare repository jobs clone; default a new one with one commit on main. */
  origin?: string;
}

/** One job on a rig: runAction's fields (apiUrl and origin are the rig's), and the agent's part. */
export interface RigJob extends Partial<Omit<ActionJob, "apiUrl" | "origin">> {
  /** The agent's turns, played in order by the rig's default script. */
  turns?: Turn[];
  /** Restore the store the last job that saved one saved (its key as the cache-key input). */
  chain?: boolean;
  /** Run Claude Code against this server instead of the rig's. */
  model?: ModelServer;
}

export interface Rig {
  cache: CacheServer;
  github: GitHubStub;
  model: ModelServer;
  /** The bare repository every job clones, as origin. */
  origin: string;
  /** The cache-key output of the last job that had one; "" before. */
  readonly previousKey: string;
  /** Run the action as one job: a fresh clone of origin unless `workspace` is given. */
  job(options?: RigJob): Promise<ActionResult>;
}

/**
 * The stand-ins one end-to-end test runs its jobs against: the cache service, the GitHub stub
 * holding issue #ISSUE, a scripted model server and a bare origin, closed when the test ends.
 */
export async function startRig(t: TestContext, options: RigOptions): Promise<Rig> {
  const cache = await startCacheServer(options.cacheFaults ? { faults: options.cacheFaults } : {});
  const github = await startGitHubStub({
    owner: OWNER,
    repo: REPO,
    permissions: options.permissions ?? { alice: "admin" },
    issues: [
      {
        number: ISSUE,
        title: "Add a widget counter",
        body: "Count them.",
        labels: [],
        ...options.issue,
      },
    ],
    ...(options.comments ? { comments: options.comments } : {}),
    ...(options.artifacts ? { artifacts: options.artifacts } : {}),
  });
  // The job whose turns the model is playing: jobs that script turns run one at a time.
  let current: { turns: Turn[]; next: number; workspace: string } | undefined;
  const model = await startModelServer({
    script:
      options.script ??
      (async () => {
        const job = current;
        const turn = job?.turns[job.next++];
        return turn && job ? turn(job.workspace) : { text: "Done." };
      }),
  });
  t.onTestFinished(async () => {
    await Promise.all([cache.close(), github.close(), model.close()]);
  });
  const origin = options.origin ?? bareOrigin(await freshDir("origin"));
  let previousKey = "";
  return {
    cache,
    github,
    model,
    origin,
    get previousKey() {
      return previousKey;
    },
    async job({ turns = [], chain = false, model: server = model, ...o } = {}) {
      const workspace = o.workspace ?? (await checkout(origin));
      current = { turns, next: 0, workspace };
      const claude = options.claude ?? true;
      const { ANTHROPIC_API_KEY: _dummy, ...modelEnv } = claude
        ? modelServerEnv(server, { home: await freshDir("claude-home") })
        : {};
      const result = await runAction({
        apiUrl: github.url,
        cacheEnv: cache.env(),
        origin,
        payload: issueEvent({ issueNumber: ISSUE }),
        ...o,
        workspace,
        env: { ...modelEnv, ...o.env },
        inputs: {
          "anthropic-api-key": options.apiKey,
          ...(claude ? { "claude-path": claudeBinPath() } : {}),
          ...(chain && previousKey ? { "cache-key": previousKey } : {}),
          ...o.inputs,
        },
      });
      if (result.outputs["cache-key"]) previousKey = result.outputs["cache-key"];
      return result;
    },
  };
}

/** A job that must have exited 0; its output in the failure message. */
export function expectOk(result: ActionResult, name: string): void {
  expect(result.code, `${name}\n${result.stdout}\n${result.stderr}`).toBe(0);
}

/** Every request body the model server was sent for turns, one string each. */
export function turnBodies(requests: readonly { kind: string; body: unknown }[]): string[] {
  return requests.filter((q) => q.kind === "turn").map((q) => JSON.stringify(q.body));
}

/** Every file under `dir`, its text joined, to look for what must not be there. */
export async function treeText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  return (await Promise.all(files.map((f) => readFile(f, "utf8")))).join("\n");
}
