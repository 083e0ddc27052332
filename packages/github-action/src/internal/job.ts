import fs from "node:fs/promises";
import path from "node:path";
import { type Session, SessionStore } from "@miyabi/core";
import {
  findOnPath,
  findStep,
  type IssueData,
  issueBranchName,
  type PhaseOutcome,
  type PipelineDefinition,
  type PipelineStep,
  type ProgressEvent,
  type Redactor,
} from "@miyabi/runner";
import { type Credential, claudeEnv, type Env } from "./claude.js";
import { gitAuthEnv, removeCheckoutCredentials } from "./credentials.js";
import {
  ActionInputError,
  MissingCredentialError,
  messageOf,
  PhaseFailedError,
  SenderNotAllowedError,
  UnknownPhaseError,
} from "./errors.js";
import { redactExits } from "./exits.js";
import type { ActionInputs } from "./inputs.js";
import { DONE_LABEL, FAILED_LABEL, IssueStatus, stateLabel } from "./issue-status.js";
import { EMPTY_OUTPUTS, goesOn, type PhaseOutputs, phaseOutputs } from "./outputs.js";
import { type Published, prepareWork, publishWork, type Work } from "./phase-work.js";
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
  const auth = gitAuthEnv(o.context.serverUrl, inputs.githubToken, o.env);
  // Read from the default branch as checked out, before the work branch replaces it.
  const pipeline = await o.runner.loadPipeline(inputs.pipelineConfig);
  const requested = inputs.phase === undefined ? undefined : requireStep(pipeline, inputs.phase);
  const pullRequestStep =
    inputs.pullRequestPhase === undefined
      ? pipeline.steps.at(-1)
      : requireStep(pipeline, inputs.pullRequestPhase);
  const { labels, ...fetched } = await o.github.getIssue(issueNumber);
  const issue: IssueData = o.event.issue
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
    const store = await SessionStore.open({ dir: places.storeDir });
    let ran: Ran | undefined;
    let work: Work | undefined;
    let closeError: unknown;
    try {
      for (const dir of restored.parts) {
        const merged = await store.mergeFrom(dir);
        log.info(
          `Merged a parallel job's store: ${merged.added.length} sessions added, ${merged.updated.length} updated, ${merged.conflicts.length} conflicts.`,
        );
      }
      const step = requested ?? o.runner.nextStep(pipeline, await store.issueHead(issueNumber));
      if (step) {
        const executable = await findClaude(o);
        work = await log.group(`Work branch ${issueBranchName(issueNumber)}`, () =>
          prepareWork({
            ...o,
            store,
            storeDir: places.storeDir,
            issueNumber,
            push: inputs.push,
            final: step === pullRequestStep,
            auth,
            allowProtectedPaths: inputs.allowProtectedPaths,
            exclude: [path.join(o.workspace, inputs.storePath)],
          }),
        );
        await status.setLabel(pipeline, stateLabel(step));
        ran = await runStep(o, { store, step, pipeline, issue, executable, credential });
      } else {
        log.notice(`Skipped: every phase of "${pipeline.name}" has run for issue #${issueNumber}.`);
      }
    } finally {
      // A failing close must not skip the push, the save and the report of a phase that ran.
      closeError = await store.close().then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    if (!ran || !work) {
      if (closeError !== undefined) throw closeError;
      const outputs = { ...EMPTY_OUTPUTS, "cache-key": restored.key ?? "" };
      o.setOutputs(outputs);
      return outputs;
    }
    const phase = ran;
    const published = await log.group("Publishing the work", () =>
      publishWork({
        ...o,
        ...phase,
        work: work as Work,
        // A failed phase's work-in-progress commits travel too; only its pull request waits.
        openPullRequest: goesOn(phase.status),
        issue,
        defaultBranch: o.event.defaultBranch,
      }),
    );
    const saved = await log.group("Saving sessions", () =>
      saveStore({ ...o, places, issueNumber, sessionCount: phase.sessions.length }),
    );
    const notes = [...agentNotes(inputs)];
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

/** What the summary and comment must flag about how the agents ran. */
function agentNotes(inputs: ActionInputs): string[] {
  return inputs.sandbox === "off"
    ? [
        "The agents ran without the sandbox (sandbox: off): their tools could read this job's files, processes and environment.",
      ]
    : [];
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
  },
): Promise<Ran> {
  const { store, step, pipeline, issue } = args;
  const { inputs } = o;
  const before = new Set((await store.issueSessions(issue.number)).map((s) => s.id));
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
        // Each agent's changes become a commit on the work branch, which is what travels.
        commit: true,
        claude: {
          executable: args.executable,
          // The whole environment, not added to this process's: see claudeEnv.
          env: claudeEnv(o.env, args.credential),
          model: inputs.model,
          extraArgs: inputs.claudeArgs,
          maxTurns: inputs.maxTurns,
          timeoutMs:
            inputs.timeoutMinutes === undefined ? undefined : inputs.timeoutMinutes * 60_000,
          mode: inputs.handoffMode,
        },
        onProgress: (event) => o.log.info(progressLine(event)),
        signal: o.signal,
      }),
    );
  } catch (thrown) {
    error = thrown;
  }
  const sessions = await store.issueSessions(issue.number);
  const mine = outcome?.sessions ?? sessions.filter((s) => !before.has(s.id));
  return { step, outcome, status: phaseStatus(outcome), error, sessions, mine };
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
  const errors = [phaseError, ...afterPhase].filter((e) => e !== undefined);
  const status: JobStatus =
    errors.length > 0 ? "failed" : published.nothingToPropose ? "nothing to propose" : ran.status;
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
  const label = status === "failed" ? FAILED_LABEL : next ? stateLabel(next) : DONE_LABEL;
  await f.status.setLabel(f.pipeline, label);
  for (const extra of errors.slice(1)) o.log.warning(messageOf(extra));
  if (errors.length > 0) throw errors[0];
  return outputs;
}
