import fs from "node:fs/promises";
import path from "node:path";
import { type AgentResult, MiyabiError, type Session, type SessionStore } from "@miyabi/core";
import { checkSandbox } from "./agent.js";
import { type BudgetStatus, phaseBudgetUsd } from "./budget.js";
import { GateVerdictError, WorktreeError } from "./errors.js";
import { resolveClaude } from "./executable.js";
import {
  findingsFeedback,
  type Gate,
  type GateState,
  gateNext,
  gatePurpose,
  readGate,
} from "./gate.js";
import { findStep, type PipelineDefinition, type PipelineStep, stepOf } from "./pipeline.js";
import type { IssueData } from "./prompts.js";
import type { ProgressEvent } from "./session-run.js";
import {
  type ClaudeSettings,
  type HandoffMode,
  mergeSettings,
  type ResolvedClaudeSettings,
} from "./settings.js";
import { verdictArgs } from "./verdict.js";

export interface RunPhaseOptions {
  store: SessionStore;
  issue: IssueData;
  pipeline: PipelineDefinition;
  /** Step id or phase name; default: where the issue stands (see planPhase). */
  step?: string;
  /** The repository: agents work here unless `worktree` is set. */
  repoDir: string;
  /**
   * Where prompt templates (`.miyabi/prompts`) are read: a checkout of the trusted base (the
   * default branch), never the tree agents write. Default: `repoDir`.
   */
  trustedDir?: string;
  /**
   * Directory the agents work in, absolute or relative to `repoDir`; recorded as the sessions'
   * worktree_path as given. Default: `repoDir`.
   */
  worktree?: string;
  /**
   * Commit what each agent changed in the worktree and record the commit: a phase commit when
   * the agent finished, a work-in-progress commit when it failed, timed out or was stopped.
   */
  commit?: boolean;
  /** Where the issue's budget stands: the phase's own budget is capped by what is left. */
  issueBudget?: BudgetStatus;
  /** Maintainer or reviewer feedback: added to each agent's prompt as a data block. */
  feedback?: string;
  /**
   * Whose conversation the agents continue: `previous` (default) the step before this one's,
   * as the step's handoff mode says; `step` this step's own newest finished session's, resumed
   * (forked per agent when the step has several), whatever the mode — for asking a step that
   * ran to change its work. Without such a session the agents start fresh.
   */
  continueFrom?: "previous" | "step";
  /** Inputs and flags: they win over the pipeline's defaults, which win over the step's. */
  claude: ClaudeSettings;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  /** A plan made earlier with planPhase for these same options; made here when absent. */
  plan?: PhasePlan;
}

export class PipelineStateError extends MiyabiError {
  constructor(message: string) {
    super("PIPELINE_STATE", message);
  }
}

/** How the phase's sessions are recorded. */
export type PhaseStart =
  /** New root sessions: the issue's first phase, or a step asked for after another step failed. */
  | { kind: "new"; previousResults: AgentResult[] }
  /** Children of the finished session the issue stands at (one per agent). */
  | { kind: "handoff"; from: Session }
  /** Retries of this step's failed sessions; the step's finished agents are not run again. */
  | { kind: "retry"; failed: Session[] };

export interface PlannedAgent {
  agent: string;
  /** fresh, resume or fork; several agents of a `resume` step each fork instead. */
  mode: HandoffMode;
  /** The failed session this run retries. */
  retryOf: Session | null;
}

export interface PhasePlan {
  done: false;
  step: PipelineStep;
  /** The session the issue stands at, if any. */
  head: Session | null;
  start: PhaseStart;
  /**
   * The session whose Claude conversation `resume` and `fork` continue: the newest finished
   * session of the step before this one (of this step, with `continueFrom: "step"`). Null when no agent continues one, or there is none.
   */
  source: Session | null;
  agents: PlannedAgent[];
  executable: string;
  /** Merged once: step < pipeline defaults < inputs and flags (a gate's verdict args added). */
  settings: ResolvedClaudeSettings;
  /** Feedback for every agent: the caller's, or on a review-gate round the gate's findings. */
  feedback: string | undefined;
  /** `step`: the agents continue this step's own conversation and get only the feedback. */
  continueFrom: "previous" | "step";
  /** What the new sessions record as their purpose (a gate round names itself here). */
  purpose: string;
  /** The step's review gate: its agents end with a verdict. */
  gate: Gate | undefined;
  /** Absolute directory the agents run in. */
  cwd: string;
  /** What the sessions record as worktree_path. */
  worktreePath: string;
}

/**
 * Nothing to run unless a step is asked for: every step of the pipeline has run, or the review
 * gate ran out of rounds (`gate`: its open findings, for a person).
 */
export interface PipelineDone {
  done: true;
  head: Session;
  gate?: Extract<GateState, { verdict: "changes" }>;
}

/**
 * The sessions of the step the issue stands at: `head` and its siblings from the same handoff
 * that are still ends of their lines (not handed off, not retried).
 */
async function standingGroup(store: SessionStore, head: Session): Promise<Session[]> {
  const issue = head.context.issueNumber;
  const sessions = issue === null ? [head] : await store.issueSessions(issue);
  const retried = new Set(sessions.map((s) => s.retryOf));
  return sessions.filter(
    (s) =>
      s.parentSession === head.parentSession &&
      s.context.currentPhase === head.context.currentPhase &&
      s.childSessions.length === 0 &&
      !retried.has(s.id),
  );
}

export interface IssueStanding {
  /** The newest session the issue continues from; null when it has none. */
  head: Session | null;
  /** Its step's sessions that still count (see standingGroup); empty without a head. */
  group: Session[];
  /**
   * The step that runs next unless another is asked for; null when the pipeline is done or
   * its review gate ran out of rounds.
   */
  next: PipelineStep | null;
  /** The verdict when the issue stands at a gated step whose agents all finished. */
  gate?: GateState;
}

/**
 * Where an issue stands in a pipeline: nothing yet (the first step runs), a step with a failed
 * or stopped agent (that step runs again, only for those agents), or a finished step (the one
 * after it runs; none after the last).
 */
export async function issueStanding(args: {
  store: SessionStore;
  pipeline: PipelineDefinition;
  issueNumber: number;
}): Promise<IssueStanding> {
  const { store, pipeline, issueNumber } = args;
  const head = (await store.issueHead(issueNumber)) ?? null;
  if (!head) return { head, group: [], next: pipeline.steps[0] ?? null };
  const group = await standingGroup(store, head);
  const active = group.find((s) => s.status === "Active");
  if (active) {
    throw new PipelineStateError(
      `Session ${active.id} (${active.agentName}) of issue #${issueNumber} is still Active; wait for it, or fail it with \`miyabi-sessions fail ${active.id} --error ...\`.`,
    );
  }
  const failed = group.find((s) => s.status === "Failed");
  const current = stepOf(pipeline, failed ?? head);
  if (!current) {
    const known = pipeline.steps.map((s) => s.id).join(", ");
    throw new PipelineStateError(
      `Issue #${issueNumber} stands at session ${head.id} (${head.agentName}, ${head.context.currentPhase}), which is no step of pipeline ${pipeline.name}; name one of its steps (${known}) to go on.`,
    );
  }
  if (failed) return { head, group, next: current };
  if (current.gate) {
    const gate = await readGate({ store, gate: current.gate, sessions: group, issueNumber });
    return { head, group, gate, next: gateNext(pipeline, current, gate) };
  }
  return { head, group, next: pipeline.steps[pipeline.steps.indexOf(current) + 1] ?? null };
}

function requireStep(pipeline: PipelineDefinition, name: string): PipelineStep {
  const step = findStep(pipeline, name);
  if (step) return step;
  const known = pipeline.steps.map((s) => s.id).join(", ");
  throw new PipelineStateError(
    `No step "${name}" in pipeline ${pipeline.name}; its steps are ${known}.`,
  );
}

/** The newest session of `step` that finished with a conversation to continue. */
async function conversationOf(
  store: SessionStore,
  pipeline: PipelineDefinition,
  issueNumber: number,
  step: PipelineStep,
): Promise<Session | null> {
  const sessions = await store.issueSessions(issueNumber);
  const finished = sessions.filter(
    (s) =>
      (s.status === "Completed" || s.status === "HandedOff") &&
      s.result?.claudeSessionId &&
      stepOf(pipeline, s) === step,
  );
  return finished.at(-1) ?? null;
}

export async function requireDirectory(dir: string): Promise<void> {
  let isDir = false;
  try {
    isDir = (await fs.stat(dir)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (!isDir) {
    throw new WorktreeError(
      `The agents' working directory ${dir} does not exist; create it (or the issue's worktree) first, or point the run at another directory.`,
    );
  }
}

/**
 * Decide everything about one phase before anything is recorded: which step runs, how its
 * sessions start (new, handoff or retry), whose conversation each agent continues and how, the
 * executable, the merged settings and the directory. Throws (and records nothing) when the
 * phase cannot run: a missing CLI or directory, an Active session, an unknown step.
 *
 * Semantics: without `step`, the issue's standing decides (see issueStanding). A step that is
 * asked for runs as a handoff from the finished session the issue stands at; asked for after a
 * failure it retries the failed agents when it is their step, and otherwise starts anew (new
 * root sessions carrying the earlier results), leaving the failed sessions as they are: a
 * failed session is only ever retried by its own step, with its own tools and prompt.
 * `resume`/`fork` continue the conversation of the step before this one in the pipeline, not
 * whatever session ran last.
 */
export async function planPhase(
  options: Omit<RunPhaseOptions, "plan">,
): Promise<PhasePlan | PipelineDone> {
  const { store, pipeline, issue } = options;
  const standing = await issueStanding({ store, pipeline, issueNumber: issue.number });
  const { head, group } = standing;
  const step = options.step === undefined ? standing.next : requireStep(pipeline, options.step);
  const gate = standing.gate;
  if (!step) {
    if (gate?.verdict === "missing") throw new GateVerdictError(gate.sessionId, gate.reason);
    return { done: true, head: head as Session, ...(gate?.verdict === "changes" ? { gate } : {}) };
  }
  const merged = mergeSettings({ step, defaults: pipeline.defaults, settings: options.claude });
  const budgeted = options.issueBudget
    ? { ...merged, maxBudgetUsd: phaseBudgetUsd(merged.maxBudgetUsd, options.issueBudget) }
    : merged;
  // After the user's arguments: the verdict is the gate's, whatever they add.
  const settings = step.gate
    ? { ...budgeted, extraArgs: [...budgeted.extraArgs, ...verdictArgs()] }
    : budgeted;
  // A gate round: CodeGen, after the gated step it hands back to asked for changes, unless the
  // caller brings feedback of their own (a maintainer's comment or review wins).
  // (With changes and rounds left, the standing's next step is the one the gate hands back to.)
  const round =
    gate?.verdict === "changes" &&
    !gate.exhausted &&
    options.feedback === undefined &&
    step === standing.next
      ? gate
      : undefined;
  const feedback = round ? findingsFeedback(round.findings) : options.feedback;
  const continueFrom = round ? "step" : (options.continueFrom ?? "previous");
  const purpose = round
    ? gatePurpose(round.rounds + 1, round.findings.length)
    : `${step.phase} for #${issue.number}: ${issue.title}`.slice(0, 300);
  // Before any session changes: a missing CLI or directory must cost nothing.
  const executable = await resolveClaude(
    settings.executable,
    settings.env.PATH ?? process.env.PATH,
  );
  await checkSandbox(settings);
  const cwd = path.resolve(options.repoDir, options.worktree ?? ".");
  await requireDirectory(cwd);

  const failed = group.filter((s) => s.status === "Failed");
  let start: PhaseStart;
  let agents: { agent: string; retryOf: Session | null }[];
  if (!head) {
    start = { kind: "new", previousResults: [] };
    agents = step.agents.map((agent) => ({ agent, retryOf: null }));
  } else if (failed.length > 0 && failed.every((s) => stepOf(pipeline, s) === step)) {
    start = { kind: "retry", failed };
    agents = failed.map((s) => ({ agent: s.agentName, retryOf: s }));
  } else if (failed.length > 0) {
    const [first] = failed as [Session];
    start = { kind: "new", previousResults: first.context.previousResults };
    agents = step.agents.map((agent) => ({ agent, retryOf: null }));
  } else {
    start = { kind: "handoff", from: head };
    agents = step.agents.map((agent) => ({ agent, retryOf: null }));
  }

  const ownConversation = continueFrom === "step";
  const wanted: HandoffMode = ownConversation ? "resume" : (settings.mode ?? step.mode);
  // Two `--resume`s of one Claude session would interleave writes to one transcript.
  const mode: HandoffMode = wanted === "resume" && step.agents.length > 1 ? "fork" : wanted;
  const index = pipeline.steps.indexOf(step);
  const before = index > 0 ? pipeline.steps[index - 1] : undefined;
  const from = ownConversation ? step : before;
  const source =
    mode === "fresh" || !from ? null : await conversationOf(store, pipeline, issue.number, from);

  return {
    done: false,
    step,
    head,
    start,
    source,
    agents: agents.map((a) => ({ ...a, mode })),
    executable,
    settings,
    feedback,
    continueFrom,
    purpose,
    gate: step.gate,
    cwd,
    worktreePath: options.worktree ?? options.repoDir,
  };
}
