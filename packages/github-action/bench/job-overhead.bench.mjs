// Action overhead benchmark: `pnpm bench` (after a build). Prints figures; asserts nothing.
//
// 1. Bundle cold start: Node 24 on actions/session-phase/dist/index.js, from spawn to exit, for
//    an event that does nothing costly (an issue opened: a notice, exit 0), next to a bare
//    `node24 -e ""`.
// 2. Per-job overhead: one job of a later phase (test, which forks the review's conversation)
//    on a restored store of 1,000 sessions with their logs and a few transcripts, against
//    testkit's cache service and GitHub stub. The agent is a fake `claude` that answers at once
//    and writes its own start and end times, so the job's wall time less the agent's is what
//    the action itself costs per job. The phases are timed from the `::group::` lines as they
//    stream in.
//
// The job's environment is built here as test/harness.ts builds it: that file is TypeScript,
// and a bench must run on plain `node` with nothing but the installed packages.
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SessionStore } from "@miyabi/core";
import { node24Path } from "@miyabi/node24";
import { startCacheServer, startGitHubStub } from "@miyabi/testkit";
import YAML from "yaml";

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 10);
const JOB_RUNS = Number(process.env.BENCH_JOB_RUNS ?? 5);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const LOG_BYTES = 4096;
const TRANSCRIPTS = 8;
const TRANSCRIPT_BYTES = 64 * 1024;

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const actionDir = path.resolve(packageDir, "../../actions/session-phase");
const bundle = path.join(actionDir, "dist", "index.js");
// The real @actions/cache in a process of its own: it reads process.env and logs on stdout.
const cacheClient = path.join(packageDir, "test", "fixtures", "cache-client.mjs");
const node24 = node24Path();

const OWNER = "octo-org";
const REPO = "widgets";
const ISSUE = 4242;
const GITHUB_TOKEN = "ghs_benchToken0123456789abcdefABCDEF";
const API_KEY = "sk-ant-api03-bench-secret-0123456789abcdef";
// System tools only (tar and zstd for the cache), as on the harness: no node_modules/.bin.
const SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";
const STEPS = [
  { id: "codegen", phase: "CodeGeneration", agent: "CodeGenAgent" },
  { id: "review", phase: "Review", agent: "ReviewAgent" },
  { id: "test", phase: "Test", agent: "TestAgent" },
  { id: "deploy", phase: "PullRequest", agent: "DeployAgent" },
];

const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-action-bench-")));
// On every way out, a failed run included: the workspaces hold thousands of files.
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const scratch = async (prefix) => fs.mkdtemp(path.join(root, `${prefix}-`));
const now = () => performance.timeOrigin + performance.now();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => Math.round(x);

/* ---------- the runner's side of a job ---------- */

const meta = YAML.parse(await fs.readFile(path.join(actionDir, "action.yml"), "utf8"));
// action.yml's defaults with `${{ github.token }}` evaluated, as the runner fills them in.
const defaults = Object.fromEntries(
  Object.entries(meta.inputs)
    .filter(([, spec]) => spec.default !== undefined)
    .map(([name, spec]) => [
      name,
      String(spec.default).replace(/\$\{\{\s*github\.token\s*\}\}/, GITHUB_TOKEN),
    ]),
);

function issuePayload(action) {
  const sender = { login: "alice", id: 1001, type: "User" };
  const label = { id: 77, name: "miyabi", color: "ededed", default: false };
  return {
    action,
    issue: { number: ISSUE, title: "Add a widget counter", state: "open", user: sender },
    label,
    repository: { name: REPO, full_name: `${OWNER}/${REPO}`, owner: { login: OWNER } },
    sender,
  };
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "bench@example.invalid",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "bench@example.invalid",
};
const git = (cwd, ...args) => execFileSync("git", args, { cwd, env: GIT_ENV, stdio: "ignore" });
let origin;

/** A bare repository with one commit on main, standing in for the repository jobs check out. */
async function bareOrigin() {
  const root = await scratch("origin");
  const seed = path.join(root, "seed");
  origin = path.join(root, "origin.git");
  git(root, "init", "--quiet", "--bare", "--initial-branch=main", origin);
  git(root, "init", "--quiet", "--initial-branch=main", seed);
  await fs.writeFile(path.join(seed, "README.md"), "# bench\n");
  git(seed, "add", "README.md");
  git(seed, "commit", "--quiet", "-m", "initial");
  git(seed, "push", "--quiet", origin, "main");
}

/**
 * A fresh runner directory, workspace (a clone of origin, as actions/checkout leaves it) and
 * HOME, and the environment the runner gives a step.
 */
async function jobEnv({ payload, apiUrl, cacheEnv, inputs, runId, env }) {
  const runnerDir = await scratch("runner");
  const workspace = await scratch("workspace");
  if (!origin) await bareOrigin();
  git(workspace, "clone", "--quiet", origin, ".");
  // Where the fake agent notes its times: the one place a jailed agent can write, kept out of
  // the phase's commit.
  await fs.appendFile(path.join(workspace, ".git", "info", "exclude"), `/${AGENT_TIMES}\n`);
  const home = await scratch("home");
  const files = Object.fromEntries(
    ["output", "step_summary", "state", "env", "path"].map((name) => [
      `GITHUB_${name.toUpperCase()}`,
      path.join(runnerDir, name),
    ]),
  );
  files.GITHUB_EVENT_PATH = path.join(runnerDir, "event.json");
  for (const file of Object.values(files)) await fs.writeFile(file, "");
  await fs.writeFile(files.GITHUB_EVENT_PATH, JSON.stringify(payload, null, 2));
  const toolCache = path.join(runnerDir, "tool-cache");
  const temp = path.join(runnerDir, "temp");
  await fs.mkdir(toolCache);
  await fs.mkdir(temp);
  const vars = {
    PATH: SYSTEM_PATH,
    HOME: home,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_ACTION: "__run_session-phase",
    GITHUB_ACTION_PATH: actionDir,
    GITHUB_ACTOR: "alice",
    GITHUB_EVENT_NAME: "issues",
    GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
    GITHUB_REPOSITORY_OWNER: OWNER,
    GITHUB_RUN_ID: String(runId),
    GITHUB_RUN_NUMBER: "12",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_JOB: "test",
    GITHUB_WORKFLOW: "Miyabi pipeline",
    GITHUB_REF: "refs/heads/main",
    GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
    GITHUB_WORKSPACE: workspace,
    GITHUB_API_URL: apiUrl,
    GITHUB_GRAPHQL_URL: `${apiUrl}/graphql`,
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_TOOL_CACHE: toolCache,
    ...files,
    ...cacheEnv,
    // Each job its own temp directory, after the cache env's shared one.
    RUNNER_TEMP: temp,
    ...env,
  };
  for (const [name, value] of Object.entries({ ...defaults, ...inputs })) {
    vars[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] = value;
  }
  return { env: vars, workspace, outputFile: files.GITHUB_OUTPUT };
}

/**
 * Spawn and wait for exit; stdout lines reach `onLine` with the time they arrived (ms since
 * the epoch, comparable to the fake agent's `date` stamps).
 */
function timedSpawn(file, args, { cwd, env, onLine }) {
  return new Promise((resolve, reject) => {
    const started = now();
    const child = spawn(file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let rest = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      const at = now();
      stdout += chunk;
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) onLine?.(line, at);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, started, ended: now(), stdout, stderr }));
  });
}

/* ---------- a store of 1,000 sessions ---------- */

function agentResult(step, claudeSessionId, i) {
  return {
    agent: step.agent,
    phase: step.phase,
    outcome: "success",
    // A few hundred characters, as agents' closing summaries tend to be.
    summary: `${step.phase} done for change ${i}: updated src/widgets/counter.ts and its tests; `
      .repeat(5)
      .trim(),
    claudeSessionId,
    numTurns: 12,
    totalCostUsd: 0.4821,
    usage: {
      inputTokens: 18_000,
      outputTokens: 2_400,
      cacheCreationInputTokens: 9_000,
      cacheReadInputTokens: 120_000,
    },
    durationMs: 184_000,
    exitCode: 0,
    pid: 4000 + i,
  };
}

/** About LOG_BYTES of stream-json, the shape the runner appends to logs/<id>.log. */
function logText(claudeSessionId) {
  const lines = [
    JSON.stringify({ type: "system", subtype: "init", session_id: claudeSessionId, tools: [] }),
  ];
  let size = lines[0].length;
  for (let turn = 0; size < LOG_BYTES - 300; turn++) {
    const line = JSON.stringify({
      type: "assistant",
      message: {
        id: `msg_${randomUUID()}`,
        content: [{ type: "text", text: `Turn ${turn}: reading src/widgets/counter.ts` }],
      },
    });
    lines.push(line);
    size += line.length + 1;
  }
  lines.push(
    JSON.stringify({ type: "result", subtype: "success", is_error: false, num_turns: 12 }),
  );
  return `${lines.join("\n")}\n`;
}

function transcriptText(claudeSessionId) {
  const lines = [];
  let size = 0;
  for (let i = 0; size < TRANSCRIPT_BYTES; i++) {
    const line = JSON.stringify({
      type: i % 2 ? "assistant" : "user",
      sessionId: claudeSessionId,
      uuid: randomUUID(),
      message: { role: i % 2 ? "assistant" : "user", content: `Message ${i} about the widgets.` },
    });
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Chains of handed-off phases through the store's own API. The job's issue stops after a
 * Completed review (whose conversation the test phase forks); the other issues fill up to
 * SESSIONS in chains of four, the last Completed.
 */
async function buildStore(dir) {
  const store = await SessionStore.open({ dir });
  const claudeIds = [];
  let issueIndex = 0;
  const chain = async (issue, length) => {
    let id;
    for (let i = 0; i < length; i++) {
      const step = STEPS[i];
      const purpose = `${step.phase} for #${issue}: Add a widget counter`;
      id =
        i === 0
          ? await store.create({
              agentName: step.agent,
              purpose,
              context: { issueNumber: issue, currentPhase: step.phase, worktreePath: "." },
            })
          : await store.handoff(id, {
              toAgent: step.agent,
              purpose,
              context: { currentPhase: step.phase },
            });
      const claudeSessionId = randomUUID();
      await store.complete(id, agentResult(step, claudeSessionId, issueIndex));
      await fs.writeFile(store.logPath(id), logText(claudeSessionId));
      claudeIds.push(claudeSessionId);
    }
    issueIndex += 1;
  };
  await chain(ISSUE, 2);
  const jobParent = claudeIds.at(-1);
  for (let made = 2, issue = 1; made < SESSIONS; issue++) {
    const length = Math.min(4, SESSIONS - made);
    await chain(issue, length);
    made += length;
  }
  await store.close();
  // The conversation the test phase forks, and a few more the cache carries along.
  const transcripts = [jobParent, ...claudeIds.slice(-(TRANSCRIPTS - 1))];
  await fs.mkdir(path.join(dir, "transcripts"));
  for (const id of transcripts) {
    await fs.writeFile(path.join(dir, "transcripts", `${id}.jsonl`), transcriptText(id));
  }
}

async function dirBytes(dir) {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  let total = 0;
  for (const e of entries) {
    if (e.isFile()) total += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}

/* ---------- the fake agent ---------- */

// Writes a transcript where Claude Code keeps one (so the runner copies it into the store as
// it would), prints an init and a successful result line, and appends "start end" in ms to
// .bench-agent-times in its working directory. Plain sh: a Node start would be Claude's time,
// not the action's.
const AGENT_TIMES = ".bench-agent-times";
const FAKE_CLAUDE = `#!/bin/sh
start=$(date +%s%N)
id=$(cat /proc/sys/kernel/random/uuid)
dir="\${CLAUDE_CONFIG_DIR:-$HOME/.claude}/projects/$(pwd -P | sed 's/[^a-zA-Z0-9]/-/g')"
mkdir -p "$dir"
printf '{"type":"user","sessionId":"%s","message":{"role":"user","content":"bench"}}\\n' "$id" > "$dir/$id.jsonl"
printf '{"type":"system","subtype":"init","session_id":"%s","model":"claude-bench","tools":[]}\\n' "$id"
printf '{"type":"result","subtype":"success","is_error":false,"result":"Nothing to do.","session_id":"%s","num_turns":1,"total_cost_usd":0,"duration_ms":1}\\n' "$id"
end=$(date +%s%N)
echo "$start $end" >> "${AGENT_TIMES}"
`;

/* ---------- 1. bundle cold start ---------- */

const cache = await startCacheServer();
const github = await startGitHubStub({ owner: OWNER, repo: REPO });

async function coldRun(args, payload) {
  const { env, workspace } = await jobEnv({
    payload,
    apiUrl: github.url,
    cacheEnv: cache.env(),
    inputs: { "anthropic-api-key": API_KEY },
    runId: 7_000_000,
  });
  const run = await timedSpawn(node24, args, { cwd: workspace, env });
  if (run.code !== 0) throw new Error(`node24 ${args.join(" ")} exited ${run.code}\n${run.stderr}`);
  return run.ended - run.started;
}

const opened = issuePayload("opened");
// Once untimed each: the first start reads the binary and the 4 MB bundle from disk.
await coldRun(["-e", ""], opened);
await coldRun([bundle], opened);
const bare = [];
const cold = [];
for (let i = 0; i < COLD_RUNS; i++) {
  bare.push(await coldRun(["-e", ""], opened));
  cold.push(await coldRun([bundle], opened));
}

console.log(`\nBundle cold start (Node 24, ${COLD_RUNS} runs, medians, ms)`);
console.table([
  {
    'node24 -e ""': ms(median(bare)),
    "bundle, non-trigger event": ms(median(cold)),
    "bundle over bare node": ms(median(cold) - median(bare)),
  },
]);
console.log(`bundle cold start: ${ms(median(cold))} ms (target <= 150 ms)`);
// The root bench summary (scripts/bench-summary.mjs) collects every bench's figures here.
if (process.env.BENCH_JSON) {
  const figures = { bench: "bundle", bare: median(bare), bundle: median(cold) };
  await fs.appendFile(process.env.BENCH_JSON, `${JSON.stringify(figures)}\n`);
}
// BENCH_JOB_RUNS=0: the cold start alone (the root bench summary's row).
if (JOB_RUNS === 0) process.exit(0);

/* ---------- 2. one job on a store of 1,000 sessions ---------- */

const seedWorkspace = await scratch("seed");
const storeDir = path.join(seedWorkspace, ".ai", "sessions");
let t = now();
await buildStore(storeDir);
const buildMs = now() - t;
const storeBytes = await dirBytes(storeDir);

const SEED_KEY = `miyabi-sessions-issue-${ISSUE}-${SESSIONS}-6999999-1-review`;
t = now();
const seeded = await timedSpawn(
  process.execPath,
  [cacheClient, JSON.stringify({ op: "save", paths: [".ai/sessions"], key: SEED_KEY })],
  {
    cwd: seedWorkspace,
    env: { PATH: SYSTEM_PATH, HOME: await scratch("home"), ...cache.env() },
  },
);
const seedMs = now() - t;
if (!seeded.stdout.includes('"outcome":"returned","value":1')) {
  throw new Error(`seeding the cache failed:\n${seeded.stdout}\n${seeded.stderr}`);
}
const archiveBytes = cache.entries()[0]?.size ?? 0;

const fakeDir = await scratch("fake");
const fakeClaude = path.join(fakeDir, "claude");
await fs.writeFile(fakeClaude, FAKE_CLAUDE, { mode: 0o755 });

/** When each group's `::group::` and `::endgroup::` lines arrived, by the group's name. */
function groupTimes() {
  const groups = new Map();
  let open;
  return {
    groups,
    onLine(line, at) {
      if (line.startsWith("::group::")) {
        open = line.slice("::group::".length);
        groups.set(open, { start: at, end: at });
      } else if (line === "::endgroup::" && open) {
        groups.get(open).end = at;
        open = undefined;
      }
    },
  };
}

async function jobRun(i) {
  // A fresh stub each run, so every run moves the same labels and edits the same comment: the
  // issue as the review job left it, labelled for the test phase, its progress comment posted.
  const stub = await startGitHubStub({
    owner: OWNER,
    repo: REPO,
    permissions: { alice: "admin" },
    issues: [
      {
        number: ISSUE,
        title: "Add a widget counter",
        body: "Count them.",
        labels: ["miyabi", "miyabi:test"],
      },
    ],
    comments: [
      { issue_number: ISSUE, body: `<!-- miyabi-sessions:issue-${ISSUE} -->\nPhase review done.` },
    ],
  });
  const { env, workspace, outputFile } = await jobEnv({
    payload: issuePayload("labeled"),
    apiUrl: stub.url,
    cacheEnv: cache.env(),
    // A new run id per run: the key the job saves under is new each time (entries are immutable).
    runId: 7_100_000 + i,
    inputs: {
      "anthropic-api-key": API_KEY,
      phase: "test",
      "cache-key": SEED_KEY,
      "claude-path": fakeClaude,
      // The results-service URL is the cache stand-in's, which serves no artifacts.
      "artifact-retention-days": "0",
    },
  });
  const times = path.join(workspace, AGENT_TIMES);
  const { groups, onLine } = groupTimes();
  const run = await timedSpawn(node24, [bundle], { cwd: workspace, env, onLine });
  await stub.close();
  const outputs = await fs.readFile(outputFile, "utf8");
  if (run.code !== 0 || !/^status<<(.+)\n(completed|success)\n\1$/m.test(outputs)) {
    throw new Error(`the job failed (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  const [agentStart, agentEnd] = (await fs.readFile(times, "utf8"))
    .trim()
    .split(" ")
    .map((ns) => Number(BigInt(ns) / 1000n) / 1000);
  const restore = groups.get("Restoring sessions");
  const save = groups.get("Saving sessions");
  const agent = agentEnd - agentStart;
  const total = run.ended - run.started;
  return {
    "start-up": restore.start - run.started,
    restore: restore.end - restore.start,
    "pre-agent": agentStart - restore.end,
    agent,
    "post-agent": save.start - agentEnd,
    save: save.end - save.start,
    report: run.ended - save.end,
    total,
    overhead: total - agent,
  };
}

await jobRun(-1);
const jobs = [];
for (let i = 0; i < JOB_RUNS; i++) jobs.push(await jobRun(i));

await github.close();
await cache.close();

/* ---------- report ---------- */

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
console.log(
  `\nStore: ${SESSIONS} sessions, ${mb(storeBytes)} MB on disk, ${mb(archiveBytes)} MB archived ` +
    `(built in ${ms(buildMs)} ms, seeded into the cache in ${ms(seedMs)} ms)`,
);
console.log(
  `\nOne test-phase job, fake agent (${JOB_RUNS} runs, ms; medians per column, which need not add up)`,
);
const columns = Object.keys(jobs[0]);
const medianRow = Object.fromEntries(columns.map((c) => [c, median(jobs.map((j) => j[c]))]));
console.table(
  Object.fromEntries(
    [...jobs.map((j, i) => [`run ${i + 1}`, j]), ["median", medianRow]].map(([name, row]) => [
      name,
      Object.fromEntries(Object.entries(row).map(([c, v]) => [c, ms(v)])),
    ]),
  ),
);
console.log(
  "start-up: spawn to the restore group (Node, bundle, inputs, permission and issue calls); " +
    "restore: download and untar (a file per session log); " +
    "pre-/post-agent: store open, labels, handoff, transcripts, store close; " +
    "report: summary, comment, labels, exit.",
);
console.log(
  `action overhead per job (${SESSIONS / 1000}k sessions): ${ms(medianRow.overhead)} ms (target < 2000 ms)`,
);
