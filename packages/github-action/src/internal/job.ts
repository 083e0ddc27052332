import fs from "node:fs/promises";
import path from "node:path";
import { type Session, SessionStore } from "@miyabi/core";
import {
  type ClaudeSettings,
  findOnPath,
  findStep,
  type IssueData,
  issueBranchName,
  type PhaseOutcome,
  type PipelineDefinition,
  type PipelineStep,
  type ProgressEvent,
  type Redactor,
  widenings,
} from "@miyabi/runner";
import type { Credential, Env } from "./claude.js";
import { gitAuthEnv, remoteServer, removeCheckoutCredentials } from "./credentials.js";
import {
  ActionInputError,
  MissingCredentialError,
  messageOf,
  PartialPhaseError,
  PhaseFailedError,
  SenderNotAllowedError,
  UnknownPhaseError,
} from "./errors.js";
import { redactExits } from "./exits.js";
import type { ActionInputs } from "./inputs.js";
import {
  DONE_LABEL,
  FAILED_LABEL,
  IssueStatus,
  PARTIAL_LABEL,
  stateLabel,
} from "./issue-status.js";
import { EMPTY_OUTPUTS, goesOn, type PhaseOutputs, phaseOutputs } from "./outputs.js";
import { type Published, prepareWork, publishWork, snapshotTrusted } from "./phase-work.js";
import type { Cache, GitHubApi, Logger, Runner, Summary } from "./ports.js";
import { formatCost, formatDuration, type JobStatus, renderReport } from "./report.js";
import { type RunIdentity, restoreStore, type StorePlaces, saveStore } from "./store-cache.js";

/** The parts of the triggering event the action looks at. */
export interface ActionEvent {
  /** GITHUB_EVENT_NAME, e.g. "issues". */
  name: string;
  /** `payload.action`, e.g. "labeled". */
  action?: string;
  /** `payload.label.name` of a labeled event. */
  label?: string;
  /** `payload.sender.login`: who caused the event. */
  sender?: string;
  /** `payload.issue.number`. */
  issueNumber?: number;
  /** `payload.issue`'s title, body and url, as they were when the event fired. */
  issue?: { title: string; body: string; url?: string };
  /** `payload.repository.default_branch`: where the pull request goes. */
  defaultBranch?: string;
}

export interface RunContext extends RunIdentity {
  /** "owner/repo". */
  repository: string;
  /** GITHUB_SERVER_URL, for links to the run and the token's git extraheader. */
  serverUrl: string;
}

export interface PhaseJobOptions {
  inputs: ActionInputs;
  event: ActionEvent;
  context: RunContext;
  /** The checked-out repository (GITHUB_WORKSPACE), where the agent works. */
  workspace: string;
  /** RUNNER_TEMP: the store lives here while the job runs, out of the agent's working tree. */
  tempDir: string;
  /** This process's environment: PATH to find `claude`, the base of the agent's environment. */
  env: Env;
  /** Removes every secret of the job from text that leaves it. */
  redact: Redactor;
  cache: Cache;
  github: GitHubApi;
  log: Logger;
  summary: Summary;
  setOutputs(outputs: PhaseOutputs): void;
  runner: Runner;
  /**
   * Install the CLI at `version` (from the Actions cache when it holds it), returning its
   * executable; used when none is given or on PATH.
   */
  installClaude(version: string): Promise<string>;
  /** Aborted when the job is cancelled: the runner stops the agent and records the session. */
  signal?: AbortSignal;
}

export { OUTPUT_NAMES, type PhaseOutputs } from "./outputs.js";

const WRITE_ROLES = new Set(["admin", "maintain", "write"]);

/** Why the event does not start a phase, or undefined when it does. */
function triggerMismatch(event: ActionEvent, labels: readonly string[]): string | undefined {
  const wanted = labels.map((l) => `"${l}"`).join(", ");
  if (event.name !== "issues" || event.action !== "labeled") {
    const got = event.action ? `${event.name} (${event.action})` : event.name;
    return `Skipped: this ${got} event does not start the pipeline; only adding the label ${wanted} to an issue does.`;
  }
  if (!event.label || !labels.includes(event.label)) {
    return `Skipped: the label "${event.label ?? ""}" is not a trigger label (${wanted}).`;
  }
  return undefined;
}

function credentialOf(inputs: ActionInputs): Credential {
  if (inputs.anthropicApiKey && inputs.claudeCodeOauthToken) {
    throw new ActionInputError(
      "Both anthropic-api-key and claude-code-oauth-token are set; pass only one of them.",
    );
  }
  if (inputs.anthropicApiKey) return { name: "ANTHROPIC_API_KEY", value: inputs.anthropicApiKey };
  if (inputs.claudeCodeOauthToken) {
    return { name: "CLAUDE_CODE_OAUTH_TOKEN", value: inputs.claudeCodeOauthToken };
  }
  throw new MissingCredentialError();
}

/** The step a `phase` input names, by step id or Phase name, ignoring case. */
export function requireStep(pipeline: PipelineDefinition, wanted: string): PipelineStep {
  const step = findStep(pipeline, wanted);
  if (step) return step;
  const known = pipeline.steps.map((s) => `${s.id} (${s.phase})`);
  throw new UnknownPhaseError(wanted, pipeline.name, known);
}

/**
 * One log line per progress event. Agent text can hold anything, including `::command::`
 * lines the runner would obey, so it is folded onto the one line and cut short.
 */
export function progressLine(e: ProgressEvent): string {
  const message = e.message.replace(/\s*[\r\n]+\s*/g, " ⏎ ");
  const short = message.length > 400 ? `${message.slice(0, 400)}…` : message;
  const cost = e.costUsd === null ? "" : `, ${formatCost(e.costUsd)}`;
  return `[${formatDuration(e.elapsedMs)}] ${e.agent}/${e.phase} ${e.kind} (turn ${e.turns}${cost}): ${short}`;
}

async function checkSender(o: PhaseJobOptions): Promise<void> {
  const login = o.event.sender;
  if (!login) {
    throw new ActionInputError(
      "The event has no sender, so who started the pipeline cannot be checked.",
    );
  }
  const { permission, role } = await o.github.getPermission(login);
  if (!WRITE_ROLES.has(role) && !WRITE_ROLES.has(permission)) {
    throw new SenderNotAllowedError(login, o.context.repository, role || permission);
  }
}

/**
 * Run one pipeline phase for the issue the event is about: check who asked, take the
 * checkout's credentials away, restore the issue's session store from the cache (checked),
 * run the phase, send its work on, save the store under a new key, and report (outputs, job
 * summary, progress comment, state label). Throws a MiyabiError saying what to do when the
 * job must fail; the phase's result is reported, with the failure, before that.
 */
export async function runPhaseJob(options: PhaseJobOptions): Promise<PhaseOutputs> {
  const o: PhaseJobOptions = { ...options, ...redactExits(options, options.redact) };
  const { inputs, log } = o;
  const skipped = triggerMismatch(o.event, inputs.triggerLabels);
  if (skipped) {
    log.notice(skipped);
    o.setOutputs(EMPTY_OUTPUTS);
    return EMPTY_OUTPUTS;
  }
  const issueNumber = inputs.issueNumber ?? o.event.issueNumber;
  if (issueNumber === undefined) {
    throw new ActionInputError(
      "The event names no issue and the issue-number input is unset; set issue-number.",
    );
  }
  await checkSender(o);
  const credential = credentialOf(inputs);
  const removed = await removeCheckoutCredentials(o.workspace);
  if (removed.keys.length > 0) {
    log.info(
      `Removed the credentials the checkout left in .git/config (${removed.keys.join(", ")}); the action pushes with its github-token input.`,
    );
  }
  const server = (await remoteServer(o.workspace)) ?? o.context.serverUrl;
  const auth = gitAuthEnv(server, inputs.githubToken, o.env);
  // Read from the default branch as checked out, before the work branch replaces it.
  const pipeline = await o.runner.loadPipeline(inputs.pipelineConfig);
  const requested = inputs.phase === undefined ? undefined : requireStep(pipeline, inputs.phase);
  const pullRequestStep =
    inputs.pullRequestPhase === undefined
      ? pipeline.steps.at(-1)
      : requireStep(pipeline, inputs.pullRequestPhase);
  const { labels, ...fetched } = await o.github.getIssue(issueNumber);
  // The event's text, as it was when the label was added; the store keeps the first capture.
  const eventIssue: IssueData = o.event.issue
    ? { number: issueNumber, ...o.event.issue, url: o.event.issue.url ?? fetched.url }
    : fetched;
  const status = new IssueStatus(
    { ...o, issueNumber, repository: o.context.repository, signingKey: credential.value },
    labels,
  );

  const root = await fs.mkdtemp(path.join(o.tempDir, "miyabi-"));
  const places: StorePlaces = {
    workspace: o.workspace,
    storePath: inputs.storePath,
    storeDir: path.join(root, "sessions"),
    scratch: path.join(root, "scratch"),
  };
  try {
    const laterPhase =
      inputs.cacheKey !== undefined || (requested !== undefined && requested !== pipeline.steps[0]);
    const restored = await log.group("Restoring sessions", () =>
      restoreStore({ ...o, places, issueNumber, laterPhase }),
    );
    const restoredAt = Date.now();
    // Instructions come from the default branch as checked out, before the work branch.
    const trustedDir = await snapshotTrusted(o.workspace, path.join(root, "trusted"));
    const store = await SessionStore.open({ dir: places.storeDir });
    let ran: Ran | undefined;
    let issue = eventIssue;
    let published: Published = {};
    let closeError: unknown;
    try {
      for (const dir of restored.parts) {
        const merged = await store.mergeFrom(dir);
        log.info(
          `Merged a parallel job's store: ${merged.added.length} sessions added, ${merged.updated.length} updated, ${merged.conflicts.length} conflicts.`,
        );
      }
      const step =
        requested ?? (await o.runner.issueStanding({ store, pipeline, issueNumber })).next;
      if (step) {
        const captured = await store.captureIssue(eventIssue);
        issue = { ...captured, url: captured.url ?? eventIssue.url };
        const executable = await findClaude(o);
        const work = await log.group(`Work branch ${issueBranchName(issueNumber)}`, () =>
          prepareWork({
            ...o,
            store,
            scratch: path.join(root, "patches"),
            issueNumber,
            push: inputs.push,
            final: step === pullRequestStep,
            auth,
            allowProtectedPaths: inputs.allowProtectedPaths,
            exclude: [path.join(o.workspace, inputs.storePath)],
          }),
        );
        await status.setLabel(pipeline, stateLabel(step));
        ran = await runStep(o, {
          store,
          step,
          pipeline,
          issue,
          executable,
          credential,
          trustedDir,
          // The agent sees neither RUNNER_TEMP (the store, the runner's files) nor the job's
          // command files, wherever the runner keeps them.
          hiddenPaths: hiddenPaths(o, root),
        });
        const phase = ran;
        published = await log.group("Publishing the work", () =>
          publishWork({
            ...o,
            ...phase,
            work,
            // A failed phase's work-in-progress commits travel too; only its pull request waits.
            openPullRequest: goesOn(phase.status),
            issue,
            defaultBranch: o.event.defaultBranch,
          }),
        );
      } else {
        log.notice(`Skipped: every phase of "${pipeline.name}" has run for issue #${issueNumber}.`);
      }
    } finally {
      // A failing close must not skip the save and the report of a phase that ran.
      closeError = await store.close().then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    if (!ran) {
      if (closeError !== undefined) throw closeError;
      const outputs = { ...EMPTY_OUTPUTS, "cache-key": restored.key ?? "" };
      o.setOutputs(outputs);
      return outputs;
    }
    const phase = ran;
    const saved = await log.group("Saving sessions", () =>
      saveStore({
        ...o,
        places,
        issueNumber,
        sessionCount: phase.sessions.length,
        since: restoredAt,
      }),
    );
    const notes = [...phase.notes];
    const facts = {
      issueNumber,
      pipeline,
      status,
      ran: phase,
      published,
      saved,
      closeError,
      notes,
    };
    return await report(o, facts);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

const COMMAND_FILES = [
  "GITHUB_OUTPUT",
  "GITHUB_ENV",
  "GITHUB_PATH",
  "GITHUB_STATE",
  "GITHUB_STEP_SUMMARY",
  "GITHUB_EVENT_PATH",
];

/**
 * RUNNER_TEMP and the directories of the runner's command files (an agent writing GITHUB_ENV
 * would set variables for the workflow's later steps); never the workspace or above it.
 */
function hiddenPaths(o: PhaseJobOptions, root: string): string[] {
  const dirs = [o.tempDir, root, ...COMMAND_FILES.map((name) => o.env[name])]
    .filter((p): p is string => typeof p === "string" && p !== "")
    .map((p) => (p === o.tempDir || p === root ? p : path.dirname(p)))
    .map((p) => path.resolve(p));
  const inside = (dir: string, p: string) => p === dir || p.startsWith(`${dir}${path.sep}`);
  return [...new Set(dirs)].filter((dir) => !inside(dir, path.resolve(o.workspace)));
}

/** The claude to run: the claude-path input, else one on PATH, else the pinned release. */
async function findClaude(o: PhaseJobOptions): Promise<string> {
  const { inputs, log } = o;
  return (
    inputs.claudePath ??
    (await findOnPath("claude", o.env.PATH)) ??
    (await log.group(`Claude Code ${inputs.claudeVersion}`, () =>
      o.installClaude(inputs.claudeVersion),
    ))
  );
}

interface Ran {
  step: PipelineStep;
  outcome: PhaseOutcome | undefined;
  /** The job's status as far as the phase goes (success, partial or failed). */
  status: JobStatus;
  /** What runPhase threw, if it did. */
  error: unknown;
  /** What the summary and comment must flag: widened containment, files left out. */
  notes: string[];
  /** Every session of the issue after the run. */
  sessions: Session[];
  /** The sessions this job ran. */
  mine: Session[];
}

function phaseStatus(outcome: PhaseOutcome | undefined): JobStatus {
  // Read as a string: "partial" arrives with the runner's honest outcomes.
  const status: string | undefined = outcome?.status;
  if (status === "completed") return "success";
  if (status === "partial") return "partial";
  return "failed";
}

async function runStep(
  o: PhaseJobOptions,
  args: {
    store: SessionStore;
    step: PipelineStep;
    pipeline: PipelineDefinition;
    issue: IssueData;
    executable: string;
    credential: Credential;
    trustedDir: string;
    hiddenPaths: string[];
  },
): Promise<Ran> {
  const { store, step, pipeline, issue } = args;
  const { inputs } = o;
  const before = new Set((await store.issueSessions(issue.number)).map((s) => s.id));
  const claude: ClaudeSettings = {
    executable: args.executable,
    // Held by the runner's credential proxy: the claude process gets a stand-in, its tools nothing.
    credential: args.credential,
    ...(o.env.ANTHROPIC_BASE_URL ? { upstreamUrl: o.env.ANTHROPIC_BASE_URL } : {}),
    sandbox: inputs.sandbox,
    hiddenPaths: args.hiddenPaths,
    allowProtectedPaths: inputs.allowProtectedPaths,
    model: inputs.model,
    extraArgs: inputs.claudeArgs,
    maxTurns: inputs.maxTurns,
    timeoutMs: inputs.timeoutMinutes === undefined ? undefined : inputs.timeoutMinutes * 60_000,
    mode: inputs.handoffMode,
  };
  const notes = widenings(claude, step);
  const onProgress = (event: ProgressEvent) => {
    if (event.kind === "note" && event.message.startsWith("Left out of the commit")) {
      notes.push(event.message);
    }
    o.log.info(progressLine(event));
  };
  let outcome: PhaseOutcome | undefined;
  let error: unknown;
  try {
    outcome = await o.log.group(`Phase ${step.id}: ${step.agents.join(", ")}`, () =>
      o.runner.runPhase({
        store,
        issue,
        pipeline,
        step: step.id,
        repoDir: o.workspace,
        trustedDir: args.trustedDir,
        // Each agent's changes become a commit on the work branch, which is what travels.
        commit: true,
        claude,
        onProgress,
        signal: o.signal,
      }),
    );
  } catch (thrown) {
    error = thrown;
  }
  const sessions = await store.issueSessions(issue.number);
  const mine = outcome?.sessions ?? sessions.filter((s) => !before.has(s.id));
  return { step, outcome, status: phaseStatus(outcome), error, notes, sessions, mine };
}

/** "Write ×2, Bash ×1": the tool calls the phase's agents were denied. */
function deniedCalls(sessions: readonly Session[]): string {
  const counts = new Map<string, number>();
  for (const s of sessions) {
    for (const d of s.result?.permissionDenials ?? []) {
      counts.set(d.tool, (counts.get(d.tool) ?? 0) + d.count);
    }
  }
  return [...counts].map(([tool, n]) => `${tool} ×${n}`).join(", ") || "some tool calls";
}

interface ReportFacts {
  issueNumber: number;
  pipeline: PipelineDefinition;
  status: IssueStatus;
  ran: Ran;
  published: Published;
  saved: Awaited<ReturnType<typeof saveStore>>;
  closeError: unknown;
  notes: string[];
}

/**
 * Tell the job's outcome as it is, everywhere: outputs, job summary, progress comment, label.
 * A failure after the phase (close, push, pull request, save) makes the job failed, with its
 * cause first, and says where the work was left.
 */
async function report(o: PhaseJobOptions, f: ReportFacts): Promise<PhaseOutputs> {
  const { ran, published, saved } = f;
  const afterPhase = [f.closeError, published.error, saved.error].filter((e) => e !== undefined);
  const phaseError =
    ran.error ??
    (ran.status === "failed"
      ? new PhaseFailedError(
          ran.step.id,
          ran.mine.find((s) => s.status === "Failed")?.errorMessage ?? "the agent did not finish",
        )
      : undefined);
  const partial =
    ran.status === "partial"
      ? new PartialPhaseError(ran.step.id, deniedCalls(ran.mine))
      : undefined;
  const errors = [phaseError, ...afterPhase].filter((e) => e !== undefined);
  const status: JobStatus =
    errors.length > 0 ? "failed" : published.nothingToPropose ? "nothing to propose" : ran.status;
  // A partial phase stops the pipeline (the job fails, so `needs` holds the next job back),
  // but it is told as partial, not as failed.
  if (partial && errors.length === 0) errors.push(partial);
  const next = goesOn(status) ? (ran.outcome?.next ?? null) : null;
  const markdown = renderReport({
    issueNumber: f.issueNumber,
    step: ran.step.id,
    status,
    detail: errors.length > 0 ? errors.map(messageOf).join("\n\n") : undefined,
    sessions: ran.sessions,
    current: ran.mine.map((s) => s.id),
    next: next?.id ?? null,
    cacheKey: saved.key ?? "",
    runUrl: `${o.context.serverUrl}/${o.context.repository}/actions/runs/${o.context.runId}`,
    pullRequest: published.pullRequest,
    notes: f.notes,
  });
  const outputs = phaseOutputs({
    status,
    mine: ran.mine,
    parent: ran.outcome?.parentSessionId ?? ran.mine[0]?.parentSession ?? null,
    next,
    cacheKey: saved.key ?? "",
    pullRequest: published.pullRequest,
  });
  o.setOutputs(outputs);
  try {
    await o.summary.write(markdown);
  } catch (error) {
    o.log.warning(`Could not write the job summary: ${messageOf(error)}.`);
  }
  await f.status.comment(markdown);
  const label =
    status === "failed"
      ? FAILED_LABEL
      : status === "partial"
        ? PARTIAL_LABEL
        : next
          ? stateLabel(next)
          : DONE_LABEL;
  await f.status.setLabel(f.pipeline, label);
  for (const extra of errors.slice(1)) o.log.warning(messageOf(extra));
  if (errors.length > 0) throw errors[0];
  return outputs;
}
