import fs from "node:fs/promises";
import path from "node:path";
import { formatCost, formatDuration, type Session, SessionStore } from "@miyabi/core";
import {
  type BudgetStatus,
  budgetStatus,
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
  recordedCostUsd,
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
  TriggerRefusedError,
  UnknownPhaseError,
} from "./errors.js";
import { redactExits } from "./exits.js";
import { type GateHold, gateHold } from "./gate-hold.js";
import type { ActionInputs } from "./inputs.js";
import { promptComments } from "./issue-comments.js";
import {
  DONE_LABEL,
  FAILED_LABEL,
  IssueStatus,
  NEEDS_HUMAN_LABEL,
  OVER_BUDGET_LABEL,
  PARTIAL_LABEL,
  stateLabel,
} from "./issue-status.js";
import { EMPTY_OUTPUTS, goesOn, type PhaseOutputs, phaseOutputs } from "./outputs.js";
import { type Published, prepareWork, publishWork, snapshotTrusted } from "./phase-work.js";
import type { Cache, GitHubApi, Logger, RepoPermission, Runner, Summary } from "./ports.js";
import { checksNote, pushTokenOf } from "./push-token.js";
import { type JobStatus, renderReport } from "./report.js";
import { type RunIdentity, restoreStore, type StorePlaces, saveStore } from "./store-cache.js";
import {
  artifactFallback,
  type KeptArtifact,
  keepStoreArtifact,
  restoredNote,
  type StoreArtifacts,
} from "./store-record.js";
import {
  decideTrigger,
  pipelinePullIssue,
  reviewFeedback,
  type TriggerDecision,
  type TriggerKind,
  type TriggerRequest,
} from "./triggers.js";
import { hasWriteAccess } from "./write-access.js";

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
  /**
   * The whole webhook payload, which decideTrigger reads (comments, reviews, dispatch inputs);
   * when absent, one is made from the fields above (a label event).
   */
  payload?: unknown;
}

export interface RunContext extends RunIdentity {
  /** "owner/repo". */
  repository: string;
  /** GITHUB_SERVER_URL, for links to the run and the token's git extraheader. */
  serverUrl: string;
  /** GITHUB_REPOSITORY_ID: store artifacts are sealed for this repository only. */
  repositoryId?: string;
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
  /** Where the store is also kept, as workflow artifacts; absent: only in the cache. */
  artifacts?: StoreArtifacts;
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

/** The payload decideTrigger reads: the event's own, else one made of the fields read. */
function payloadOf(event: ActionEvent): unknown {
  if (event.payload !== undefined) return event.payload;
  return {
    action: event.action,
    ...(event.sender ? { sender: { login: event.sender } } : {}),
    ...(event.label ? { label: { name: event.label } } : {}),
    ...(event.issueNumber ? { issue: { number: event.issueNumber } } : {}),
  };
}

/** What the asker did, for the refusal's message. */
const ASKED: Record<TriggerKind, (phrase: string) => string> = {
  label: () => "added the label",
  comment: (phrase) => `commented ${phrase}`,
  review: () => "requested changes",
  dispatch: () => "started the workflow",
};

type Trigger =
  | { action: "run"; request: TriggerRequest; issueNumber: number }
  | Exclude<TriggerDecision, { action: "run" }>;

/**
 * What the event asks for, with the issue behind a comment on the pipeline's pull request
 * (the comment's payload does not name the branch) and a review's line comments as feedback.
 */
async function resolveTrigger(o: PhaseJobOptions): Promise<Trigger> {
  const { inputs } = o;
  const decision = decideTrigger(
    { name: o.event.name, payload: payloadOf(o.event) },
    {
      triggerLabels: inputs.triggerLabels,
      triggerPhrase: inputs.triggerPhrase,
      allowedBots: inputs.allowedBots,
      issueNumber: inputs.issueNumber,
      phase: inputs.phase,
    },
  );
  if (decision.action !== "run") return decision;
  const request = { ...decision.request };
  let issueNumber = request.issueNumber;
  if (issueNumber === null) {
    const pull = await o.github.getPull(request.pullNumber ?? 0);
    const target = pipelinePullIssue(pull);
    if (target.action !== "run") return target;
    issueNumber = target.issueNumber;
  }
  if (request.kind === "review" && request.pullNumber !== undefined && request.reviewId) {
    const comments = await o.github.listReviewComments(request.pullNumber, request.reviewId);
    request.feedback = reviewFeedback({ body: request.feedback, comments });
  }
  // A label event names its issue; the issue-number input serves the jobs chained after it.
  if (request.kind === "label") issueNumber = inputs.issueNumber ?? issueNumber;
  return { action: "run", request, issueNumber };
}

/** Say on the comment's thread why nothing ran: the only place the commenter looks. */
async function replyRefusal(o: PhaseJobOptions, thread: number | undefined, reason: string) {
  if (thread === undefined) return;
  await o.github.createComment(thread, reason);
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

async function checkSender(o: PhaseJobOptions, request: TriggerRequest): Promise<void> {
  const login = request.actor;
  if (!login) {
    throw new ActionInputError(
      "The event has no sender, so who started the pipeline cannot be checked.",
    );
  }
  const access = await o.github.getPermission(login);
  if (!hasWriteAccess(access)) {
    const { permission, role } = access;
    throw new SenderNotAllowedError(
      login,
      o.context.repository,
      role || permission,
      ASKED[request.kind](o.inputs.triggerPhrase),
    );
  }
}

/**
 * A login's permission does not change within a job: the sender check and the comment filter
 * share one answer per login instead of asking GitHub each.
 */
function oncePerLogin(ask: GitHubApi["getPermission"]): GitHubApi["getPermission"] {
  const answers = new Map<string, Promise<RepoPermission>>();
  return (login) => {
    let answer = answers.get(login);
    if (!answer) {
      answer = ask(login);
      answers.set(login, answer);
    }
    return answer;
  };
}

/**
 * Run one pipeline phase for the issue the event is about: check who asked, take the
 * checkout's credentials away, restore the issue's session store from the cache (checked),
 * run the phase, send its work on, save the store under a new key, and report (outputs, job
 * summary, progress comment, state label). Throws a MiyabiError saying what to do when the
 * job must fail; the phase's result is reported, with the failure, before that.
 */
export async function runPhaseJob(options: PhaseJobOptions): Promise<PhaseOutputs> {
  const exits = redactExits(options, options.redact);
  const github = { ...exits.github, getPermission: oncePerLogin(exits.github.getPermission) };
  const o: PhaseJobOptions = { ...options, ...exits, github };
  const { log } = o;
  const trigger = await resolveTrigger(o);
  // The thread a comment was made on: the issue, or the pull request it names.
  const thread = o.event.name === "issue_comment" ? o.event.issueNumber : undefined;
  if (trigger.action === "skip") {
    log.notice(trigger.reason);
    o.setOutputs(EMPTY_OUTPUTS);
    return EMPTY_OUTPUTS;
  }
  if (trigger.action === "refuse") {
    log.notice(trigger.reason);
    const outputs: PhaseOutputs = { ...EMPTY_OUTPUTS, status: "refused" };
    o.setOutputs(outputs);
    await replyRefusal(o, thread, trigger.reason);
    // Forks and bots are not the maintainers' doing: a red run for each would be noise.
    if (trigger.code === "FROM_FORK" || trigger.code === "BOT_NOT_ALLOWED") return outputs;
    throw new TriggerRefusedError(trigger.code, trigger.reason);
  }
  const { request, issueNumber } = trigger;
  try {
    await checkSender(o, request);
  } catch (error) {
    await replyRefusal(o, thread, messageOf(error));
    throw error;
  }
  if (request.commentId !== undefined) await o.github.addReaction(request.commentId, "eyes");
  const answer = async (said: string) => {
    if (thread === undefined) return;
    const runUrl = `${o.context.serverUrl}/${o.context.repository}/actions/runs/${o.context.runId}`;
    await o.github.createComment(thread, `@${request.actor} ${said}\n\n[The run](${runUrl})`);
  };
  let outcome: PhaseOutputs;
  try {
    outcome = await runRequested(o, request, issueNumber);
  } catch (error) {
    await answer(`Miyabi's run failed: ${messageOf(error)}`);
    throw error;
  }
  const next = outcome["next-phase"] ? `; next: ${outcome["next-phase"]}` : "";
  await answer(`Miyabi's run ended: ${outcome.status}${next}.`);
  return outcome;
}

async function runRequested(
  o: PhaseJobOptions,
  request: TriggerRequest,
  issueNumber: number,
): Promise<PhaseOutputs> {
  const { inputs, log } = o;
  const credential = credentialOf(inputs);
  const removed = await removeCheckoutCredentials(o.workspace);
  if (removed.keys.length > 0) {
    log.info(
      `Removed the credentials the checkout left in .git/config (${removed.keys.join(", ")}); the action pushes with its push-token (else github-token) input.`,
    );
  }
  const server = (await remoteServer(o.workspace)) ?? o.context.serverUrl;
  const auth = gitAuthEnv(server, pushTokenOf(inputs), o.env);
  // Read from the default branch as checked out, before the work branch replaces it.
  const pipeline = await o.runner.loadPipeline(inputs.pipelineConfig);
  const asked = request.step ?? inputs.phase;
  const requested = asked === undefined ? undefined : requireStep(pipeline, asked);
  const pullRequestStep =
    inputs.pullRequestPhase === undefined
      ? pipeline.steps.at(-1)
      : requireStep(pipeline, inputs.pullRequestPhase);
  const { labels, ...fetched } = await o.github.getIssue(issueNumber);
  // The event's text, as it was when the label was added; the store keeps the first capture.
  // Other events carry the issue's current text (or, on a pull request, the pull request's).
  const eventIssue: IssueData =
    request.kind === "label" && o.event.issue
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
    // A comment, review or dispatch continues from the issue's newest store, as a first phase
    // does; a chained job of the labelled run must name the exact entry its predecessor saved.
    const laterPhase =
      inputs.cacheKey !== undefined ||
      (request.kind === "label" && requested !== undefined && requested !== pipeline.steps[0]);
    const restored = await log.group("Restoring sessions", () =>
      restoreStore({
        ...o,
        places,
        issueNumber,
        laterPhase,
        // A comment, review or dispatch continues work whose cache entry may have been evicted.
        continuing: request.kind !== "label",
        fallback: artifactFallback(o, issueNumber),
      }),
    );
    const restoredAt = Date.now();
    // Instructions come from the default branch as checked out, before the work branch.
    const trustedDir = await snapshotTrusted(o.workspace, path.join(root, "trusted"));
    const store = await SessionStore.open({ dir: places.storeDir });
    let ran: Ran | undefined;
    let spent: BudgetStatus | undefined;
    let hold: GateHold | undefined;
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
      // A step a maintainer names by comment, review or dispatch runs whatever the issue's
      // standing; the labelled run's chained jobs and requests for "the next" consult it.
      const standing =
        requested === undefined || request.kind === "label"
          ? await o.runner.issueStanding({ store, pipeline, issueNumber })
          : undefined;
      hold = standing
        ? gateHold({
            request,
            requested,
            standing,
            issueNumber,
            triggerPhrase: inputs.triggerPhrase,
          })
        : undefined;
      const step = hold ? null : (requested ?? standing?.next ?? null);
      // Summed before each phase: a phase's cost is only known once it ran.
      const budget = budgetStatus({
        spentUsd: recordedCostUsd(await store.issueSessions(issueNumber)),
        budgetUsd: inputs.budgetUsd,
      });
      if (step && budget.state === "spent") {
        spent = budget;
      } else if (step) {
        const captured = await store.captureIssue(eventIssue);
        // The discussion as it is now, read by the action (not stored): data in the prompt.
        const discussion = await promptComments({ ...o, ...inputs, issueNumber });
        issue = { ...captured, url: captured.url ?? eventIssue.url, ...discussion };
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
          issueBudget: budget,
          feedback: request.feedback,
          // Asked by name (a comment naming it, a review for CodeGen): that step changes its
          // own work, so it continues its own conversation.
          continueFrom: request.step === undefined ? "previous" : "step",
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
            draft: inputs.draft,
            reviewer: request.actor || undefined,
          }),
        );
      } else {
        log.notice(
          hold?.message ??
            `Skipped: every phase of "${pipeline.name}" has run for issue #${issueNumber}.`,
        );
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
      if (spent)
        return await reportOverBudget(o, { issueNumber, pipeline, status, spent, restored });
      const outputs: PhaseOutputs = {
        ...EMPTY_OUTPUTS,
        status: hold?.status ?? EMPTY_OUTPUTS.status,
        "cache-key": restored.key ?? "",
        "issue-number": String(issueNumber),
      };
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
    const kept = await keepStoreArtifact(o, { storeDir: saved.copy, issueNumber });
    const notes = [
      ...phase.notes,
      ...(restored.artifact ? [restoredNote(restored.artifact)] : []),
      ...kept.notes,
      ...(published.pushed ? checksNote(inputs) : []),
    ];
    const facts = {
      issueNumber,
      pipeline,
      status,
      ran: phase,
      published,
      saved,
      kept,
      closeError,
      notes,
    };
    return await report(o, facts);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

/** No phase started: the issue's budget is spent. Told everywhere, without failing the job. */
async function reportOverBudget(
  o: PhaseJobOptions,
  f: {
    issueNumber: number;
    pipeline: PipelineDefinition;
    status: IssueStatus;
    spent: BudgetStatus;
    restored: { key: string | undefined };
  },
): Promise<PhaseOutputs> {
  const message = `Spent ${formatCost(f.spent.spentUsd)} of the ${formatCost(f.spent.budgetUsd ?? 0)} budget for issue #${f.issueNumber}, so no phase was started; raise budget-usd to continue.`;
  o.log.notice(message);
  const outputs: PhaseOutputs = {
    ...EMPTY_OUTPUTS,
    status: "over-budget",
    "cache-key": f.restored.key ?? "",
    "issue-number": String(f.issueNumber),
  };
  o.setOutputs(outputs);
  try {
    await o.summary.write(`### Miyabi: over budget\n\n${message}\n`);
  } catch (error) {
    o.log.warning(`Could not write the job summary: ${messageOf(error)}.`);
  }
  await f.status.comment(`**Miyabi** stopped: ${message}`);
  await f.status.setLabel(f.pipeline, OVER_BUDGET_LABEL);
  return outputs;
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
    issueBudget: BudgetStatus;
    feedback: string | undefined;
    continueFrom: "previous" | "step";
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
    maxBudgetUsd: inputs.maxBudgetUsd,
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
        feedback: args.feedback,
        continueFrom: args.continueFrom,
        // The phase's own budget (step < pipeline defaults < input) is capped by what is left.
        issueBudget: args.issueBudget,
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
  kept: KeptArtifact;
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
  const afterPhase = [f.closeError, published.error, saved.error, f.kept.error].filter(
    (e) => e !== undefined,
  );
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
  const gate = ran.outcome?.gate?.verdict === "changes" ? ran.outcome.gate : undefined;
  const status: JobStatus =
    errors.length > 0
      ? "failed"
      : gate?.exhausted
        ? "needs-human"
        : published.nothingToPropose
          ? "nothing to propose"
          : ran.status;
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
    artifact: f.kept.name ? { name: f.kept.name, sealed: f.kept.sealed ?? false } : undefined,
    gate,
  });
  const outputs = phaseOutputs({
    status,
    mine: ran.mine,
    parent: ran.outcome?.parentSessionId ?? ran.mine[0]?.parentSession ?? null,
    next,
    cacheKey: saved.key ?? "",
    pullRequest: published.pullRequest,
    issueNumber: f.issueNumber,
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
        : status === "needs-human"
          ? NEEDS_HUMAN_LABEL
          : next
            ? stateLabel(next)
            : DONE_LABEL;
  await f.status.setLabel(f.pipeline, label);
  for (const extra of errors.slice(1)) o.log.warning(messageOf(extra));
  if (errors.length > 0) throw errors[0];
  return outputs;
}
