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
} from "@miyabi/runner";
import { type Credential, claudeEnv, type Env } from "./claude.js";
import {
  ActionInputError,
  CacheSaveError,
  MissingCredentialError,
  messageOf,
  PhaseFailedError,
  PullRequestError,
  SenderNotAllowedError,
  SessionsNotRestoredError,
  UnknownPhaseError,
  WorkBranchError,
} from "./errors.js";
import type { ActionInputs } from "./inputs.js";
import type { Cache, GitHubApi, Logger, PullRequest, Runner, Summary } from "./ports.js";
import { upsertPullRequest } from "./pull-request.js";
import {
  commentMarker,
  formatCost,
  formatDuration,
  type JobStatus,
  type PhaseReport,
  renderReport,
} from "./report.js";
import { exists, issueKeyPrefix, type RunIdentity, restoreParts, saveKey } from "./store-cache.js";
import {
  applyPatches,
  checkoutWorkBranch,
  excludeFromCommits,
  headCommit,
  pushWorkBranch,
  remoteDefaultBranch,
  writePatch,
} from "./work-branch.js";

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
  /** `payload.repository.default_branch`: where the pull request goes. */
  defaultBranch?: string;
}

export interface RunContext extends RunIdentity {
  /** "owner/repo". */
  repository: string;
  /** GITHUB_SERVER_URL, for links to the run. */
  serverUrl: string;
}

export interface PhaseOutputs {
  "session-id": string;
  "parent-session-id": string;
  "claude-session-id": string;
  status: JobStatus;
  "next-phase": string;
  "next-agent": string;
  "cache-key": string;
  "cost-usd": string;
  turns: string;
  summary: string;
  "pull-request-url": string;
  "pull-request-number": string;
}

export interface PhaseJobOptions {
  inputs: ActionInputs;
  event: ActionEvent;
  context: RunContext;
  /** The checked-out repository (GITHUB_WORKSPACE), where the agent works and the store lives. */
  workspace: string;
  /** This process's environment: PATH to find `claude`, the base of the agent's environment. */
  env: Env;
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

const WRITE_ROLES = new Set(["admin", "maintain", "write"]);
const DONE_LABEL = "miyabi:done";
const FAILED_LABEL = "miyabi:failed";

const stateLabel = (step: PipelineStep) => `miyabi:${step.id}`;

const EMPTY_OUTPUTS: PhaseOutputs = {
  "session-id": "",
  "parent-session-id": "",
  "claude-session-id": "",
  status: "skipped",
  "next-phase": "",
  "next-agent": "",
  "cache-key": "",
  "cost-usd": "",
  turns: "",
  summary: "",
  "pull-request-url": "",
  "pull-request-number": "",
};

/** The output names, in action.yml's order. */
export const OUTPUT_NAMES = Object.keys(EMPTY_OUTPUTS) as (keyof PhaseOutputs)[];

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

/** Reporting must not lose a phase that ran: a failed comment or label is a warning. */
const NEEDS_ISSUES_WRITE = "(the github-token needs issues: write)";

async function bestEffort(log: Logger, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    log.warning(`Could not ${what}: ${messageOf(error)}.`);
  }
}

/** Remove the issue's other state labels of this pipeline and add `target`. */
async function moveStateLabel(
  o: PhaseJobOptions,
  issueNumber: number,
  labels: Set<string>,
  pipeline: PipelineDefinition,
  target: string,
): Promise<void> {
  const states = new Set([...pipeline.steps.map(stateLabel), DONE_LABEL, FAILED_LABEL]);
  await bestEffort(o.log, `set the label ${target} ${NEEDS_ISSUES_WRITE}`, async () => {
    for (const label of [...labels]) {
      if (label === target || !states.has(label)) continue;
      await o.github.removeLabel(issueNumber, label);
      labels.delete(label);
    }
    if (!labels.has(target)) {
      await o.github.addLabels(issueNumber, [target]);
      labels.add(target);
    }
  });
}

/** Edit the issue's progress comment, found by its marker, or post it the first time. */
async function upsertComment(o: PhaseJobOptions, issueNumber: number, body: string): Promise<void> {
  await bestEffort(o.log, `update the progress comment ${NEEDS_ISSUES_WRITE}`, async () => {
    const marker = commentMarker(issueNumber);
    const text = `${marker}\n${body}`;
    const existing = (await o.github.listComments(issueNumber)).find((c) =>
      c.body.startsWith(marker),
    );
    if (existing) await o.github.updateComment(existing.id, text);
    else await o.github.createComment(issueNumber, text);
  });
}

function sum(values: (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => typeof v === "number");
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

function outputsOf(
  status: JobStatus,
  mine: readonly Session[],
  parent: string | null,
  next: PipelineStep | null,
  cacheKey: string,
): Omit<PhaseOutputs, "pull-request-url" | "pull-request-number"> {
  const cost = sum(mine.map((s) => s.result?.totalCostUsd));
  const turns = sum(mine.map((s) => s.result?.numTurns));
  return {
    "session-id": mine.map((s) => s.id).join(" "),
    "parent-session-id": parent ?? "",
    "claude-session-id": mine
      .map((s) => s.result?.claudeSessionId ?? "")
      .join(" ")
      .trim(),
    status,
    "next-phase": status === "completed" && next ? next.id : "",
    "next-agent": status === "completed" && next ? next.agents.join(",") : "",
    "cache-key": cacheKey,
    "cost-usd": cost === null ? "" : String(Number(cost.toFixed(6))),
    turns: turns === null ? "" : String(turns),
    summary: mine
      .map((s) => s.result?.summary ?? "")
      .filter((text) => text !== "")
      .join("\n\n"),
  };
}

interface Restored {
  /** The key the store came from, if any. */
  key: string | undefined;
  /** Directories of parallel jobs' stores to fold in. */
  parts: string[];
}

async function restoreStore(
  o: PhaseJobOptions,
  issueNumber: number,
  storeDir: string,
  scratch: string,
  laterPhase: boolean,
): Promise<Restored> {
  const { storePath, cacheKey, cacheKeyPrefix, mergeCacheKeys } = o.inputs;
  const prefix = issueKeyPrefix(cacheKeyPrefix, issueNumber);
  const primary = cacheKey ?? prefix;
  const restoreKeys = primary === prefix ? [] : [prefix];
  const key = await o.cache.restore([storePath], primary, restoreKeys);
  if (!key && laterPhase) {
    throw new SessionsNotRestoredError("The previous phase's sessions", [primary, ...restoreKeys]);
  }
  if (key && cacheKey && key !== cacheKey) {
    o.log.warning(
      `The cache has no entry "${cacheKey}"; continuing from the newest store of issue #${issueNumber}, "${key}".`,
    );
  }
  o.log.info(
    key ? `Restored ${storePath} from "${key}".` : `No sessions yet: starting a new store.`,
  );
  if (mergeCacheKeys.length === 0) return { key, parts: [] };
  await fs.mkdir(scratch, { recursive: true });
  return { key, parts: await restoreParts(o.cache, storePath, storeDir, mergeCacheKeys, scratch) };
}

/**
 * Run one pipeline phase for the issue the event is about: check who asked, restore the
 * issue's session store from the cache, run the phase, save the store under a new key, and
 * report (outputs, job summary, progress comment, state label). Throws a MiyabiError saying
 * what to do when the job must fail; the phase's result is reported before that.
 */
export async function runPhaseJob(o: PhaseJobOptions): Promise<PhaseOutputs> {
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
  const pipeline = await o.runner.loadPipeline(inputs.pipelineConfig);
  const requested = inputs.phase === undefined ? undefined : requireStep(pipeline, inputs.phase);
  const pullRequestStep =
    inputs.pullRequestPhase === undefined
      ? pipeline.steps.at(-1)
      : requireStep(pipeline, inputs.pullRequestPhase);
  const { labels, ...issue } = await o.github.getIssue(issueNumber);

  const storeDir = path.resolve(o.workspace, inputs.storePath);
  const scratch = `${storeDir}.merge-${o.context.runId}-${o.context.runAttempt}`;
  const laterPhase =
    inputs.cacheKey !== undefined || (requested !== undefined && requested !== pipeline.steps[0]);
  try {
    const restored = await log.group("Restoring sessions", () =>
      restoreStore(o, issueNumber, storeDir, scratch, laterPhase),
    );
    const store = await SessionStore.open({ dir: storeDir });
    let ran: Ran | undefined;
    let work: Work | undefined;
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
        const executable =
          inputs.claudePath ??
          (await findOnPath("claude", o.env.PATH)) ??
          (await log.group(`Claude Code ${inputs.claudeVersion}`, () =>
            o.installClaude(inputs.claudeVersion),
          ));
        const labelSet = new Set(labels);
        work = await log.group(`Work branch ${issueBranchName(issueNumber)}`, () =>
          prepareWork(o, { store, storeDir, issueNumber, final: step === pullRequestStep }),
        );
        ran = await runStep(o, { store, step, pipeline, issue, executable, credential, labelSet });
      } else {
        log.notice(`Skipped: every phase of "${pipeline.name}" has run for issue #${issueNumber}.`);
      }
    } finally {
      await store.close();
    }
    if (ran && work) {
      const args = { ran, work, issue };
      const published = await log.group("Publishing the work", () => publishWork(o, args));
      return await finish(o, issueNumber, pipeline, ran, published);
    }
    const outputs = { ...EMPTY_OUTPUTS, "cache-key": restored.key ?? "" };
    o.setOutputs(outputs);
    return outputs;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

interface Work {
  branch: string;
  /** Push this job's commits: always, or with push: false only in the pull request phase. */
  push: boolean;
  /** The pull request phase: open or update the pull request after pushing. */
  final: boolean;
  /** HEAD before the phase ran: where this job's patch starts when it does not push. */
  base: string;
  /** Where jobs that do not push leave their patches, inside the store so they travel with it. */
  patchDir: string;
}

/** One patch per job that did not push, named after its first session. */
const patchFile = (patchDir: string, session: Session) =>
  path.join(patchDir, `${session.id}.patch`);

/**
 * Put the checkout on the issue's branch with the earlier phases' work in it: from origin, or
 * with push: false by applying the patches the earlier jobs left in the store.
 */
async function prepareWork(
  o: PhaseJobOptions,
  args: { store: SessionStore; storeDir: string; issueNumber: number; final: boolean },
): Promise<Work> {
  const { workspace, inputs } = o;
  const branch = issueBranchName(args.issueNumber);
  const patchDir = path.join(args.storeDir, "patches");
  await excludeFromCommits({ workspace, dirs: [args.storeDir] });
  await checkoutWorkBranch({ workspace, branch, remote: inputs.push });
  if (!inputs.push) {
    const sessions = await args.store.issueSessions(args.issueNumber);
    const candidates = sessions.map((s) => patchFile(patchDir, s));
    const files: string[] = [];
    for (const file of candidates) if (await exists(file)) files.push(file);
    await applyPatches({ workspace, files });
    o.log.info(`Applied ${files.length} earlier phases' patches from the session store.`);
  }
  o.log.info(`Working on ${branch}.`);
  return {
    branch,
    push: inputs.push || args.final,
    final: args.final,
    base: await headCommit(workspace),
    patchDir,
  };
}

interface Published {
  pullRequest?: PullRequest;
  /** Why the work did not travel; reported with the phase's result, then thrown. */
  error?: unknown;
}

/**
 * Send a completed phase's commits on: push them (and open the pull request in its phase), or
 * with push: false leave them as a patch in the store. A failed phase's changes stay here.
 */
async function publishWork(
  o: PhaseJobOptions,
  { ran, work, issue }: { ran: Ran; work: Work; issue: IssueData },
): Promise<Published> {
  const { workspace, log } = o;
  const first = ran.mine[0];
  if (ran.outcome?.status !== "completed" || !first) {
    log.info("The phase did not complete: its changes are not pushed.");
    return {};
  }
  try {
    if (!work.push) {
      const file = patchFile(work.patchDir, first);
      const wrote = await writePatch({ workspace, base: work.base, file });
      log.info(
        wrote
          ? `Saved the phase's commits as ${path.relative(workspace, file)}, for the next job.`
          : "The phase changed no files.",
      );
      return {};
    }
    await pushWorkBranch({ workspace, branch: work.branch, log });
    if (!work.final) return {};
    const base = o.event.defaultBranch ?? (await remoteDefaultBranch(workspace));
    if (!base) {
      throw new WorkBranchError(
        "push",
        "Neither the event nor origin names the default branch, so the pull request has no base.",
      );
    }
    const pullRequest = await upsertPullRequest({
      github: o.github,
      issue,
      branch: work.branch,
      base,
      sessions: ran.sessions,
      current: ran.mine.map((s) => s.id),
    }).catch((error: unknown) => {
      throw new PullRequestError(work.branch, messageOf(error), { cause: error });
    });
    log.info(`Pull request #${pullRequest.number}: ${pullRequest.url}`);
    return { pullRequest };
  } catch (error) {
    return { error };
  }
}

interface Ran {
  step: PipelineStep;
  outcome: PhaseOutcome | undefined;
  /** What runPhase threw, if it did. */
  error: unknown;
  /** Every session of the issue after the run. */
  sessions: Session[];
  /** The sessions this job ran. */
  mine: Session[];
  labels: Set<string>;
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
    labelSet: Set<string>;
  },
): Promise<Ran> {
  const { store, step, pipeline, issue } = args;
  const { inputs } = o;
  await moveStateLabel(o, issue.number, args.labelSet, pipeline, stateLabel(step));
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
  return { step, outcome, error, sessions, mine, labels: args.labelSet };
}

async function finish(
  o: PhaseJobOptions,
  issueNumber: number,
  pipeline: PipelineDefinition,
  ran: Ran,
  published: Published,
): Promise<PhaseOutputs> {
  const { inputs, log } = o;
  const key = saveKey(inputs.cacheKeyPrefix, issueNumber, ran.sessions.length, o.context);
  const saveError = await log.group("Saving sessions", () => saveStore(o, key));
  const status: JobStatus = ran.outcome?.status ?? "failed";
  const next = status === "completed" ? (ran.outcome?.next ?? null) : null;
  const failure =
    ran.error === undefined
      ? ran.mine.find((s) => s.status === "Failed")?.errorMessage
      : messageOf(ran.error);
  const report: PhaseReport = {
    issueNumber,
    step: ran.step.id,
    status,
    detail: status === "failed" ? (failure ?? "the agent did not finish") : undefined,
    sessions: ran.sessions,
    current: ran.mine.map((s) => s.id),
    next: next?.id ?? null,
    cacheKey: saveError ? "" : key,
    runUrl: `${o.context.serverUrl}/${o.context.repository}/actions/runs/${o.context.runId}`,
    pullRequest: published.pullRequest,
  };
  const outputs = {
    ...outputsOf(
      status,
      ran.mine,
      ran.outcome?.parentSessionId ?? ran.mine[0]?.parentSession ?? null,
      next,
      report.cacheKey,
    ),
    "pull-request-url": published.pullRequest?.url ?? "",
    "pull-request-number": published.pullRequest ? String(published.pullRequest.number) : "",
  };
  o.setOutputs(outputs);
  const markdown = renderReport(report);
  await bestEffort(log, "write the job summary", () => o.summary.write(markdown));
  await upsertComment(o, issueNumber, markdown);
  // A partial phase stops the pipeline until someone has looked at the denied calls.
  const target =
    status === "failed" || status === "partial"
      ? FAILED_LABEL
      : next
        ? stateLabel(next)
        : DONE_LABEL;
  await moveStateLabel(o, issueNumber, ran.labels, pipeline, target);

  const errors = [
    ran.error,
    published.error,
    saveError,
    status === "failed" && ran.error === undefined
      ? new PhaseFailedError(ran.step.id, report.detail ?? "")
      : undefined,
  ].filter((e) => e !== undefined);
  for (const extra of errors.slice(1)) log.warning(messageOf(extra));
  if (errors.length > 0) throw errors[0];
  return outputs;
}

/** Save the closed store; a refusal is returned (to report first), not thrown. */
async function saveStore(o: PhaseJobOptions, key: string): Promise<CacheSaveError | undefined> {
  try {
    const id = await o.cache.save([o.inputs.storePath], key);
    if (id !== -1) {
      o.log.info(`Saved ${o.inputs.storePath} as "${key}".`);
      return undefined;
    }
    return new CacheSaveError(
      key,
      "the cache service did not take it (the message above says why: the key may be taken, the service unreachable or failing)",
    );
  } catch (error) {
    return new CacheSaveError(key, messageOf(error), { cause: error });
  }
}
