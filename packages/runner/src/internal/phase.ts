import type { AgentResult, Session, SessionStore } from "@miyabi/core";
import { type BudgetStatus, budgetStatus, recordedCostUsd } from "./budget.js";
import { type GateState, gateNext, readGate, verdictProblem } from "./gate.js";
import type { PipelineStep } from "./pipeline.js";
import {
  type PhasePlan,
  PipelineStateError,
  type PlannedAgent,
  planPhase,
  type RunPhaseOptions,
} from "./plan.js";
import { feedbackPrompt, findPromptTemplate, renderPrompt } from "./prompts.js";
import { runSession } from "./session-run.js";
import { VERDICT_INSTRUCTIONS } from "./verdict.js";
import { type CommitResult, sessionCommitter } from "./worktree.js";

export interface PhaseOutcome {
  step: PipelineStep;
  parentSessionId: string | null;
  /** This phase's sessions, as recorded after their runs. */
  sessions: Session[];
  /**
   * `completed`: every agent finished; `partial`: every agent finished, but some had tool calls
   * denied (their sessions are Completed with outcome `partial`); `failed`: an agent failed.
   */
  status: "completed" | "partial" | "failed";
  /**
   * Where the pipeline goes on: the step after this one, or the CodeGeneration step the review
   * gate hands back to; null after a failure, after the last step, or when the gate ran out of
   * rounds.
   */
  next: PipelineStep | null;
  /** A gated step's verdict (when every agent finished). */
  gate?: GateState;
}

/**
 * The results the next phase starts from. After a parallel phase every sibling's result counts,
 * not only the one the handoff continues from.
 */
async function inheritedResults(
  store: SessionStore,
  from: Session,
): Promise<AgentResult[] | undefined> {
  if (!from.parentSession) return undefined;
  const parent = await store.getSession(from.parentSession);
  const siblings = (
    await Promise.all(parent.childSessions.map((id) => store.getSession(id)))
  ).filter((s) => s.status === "Completed" && s.context.currentPhase === from.context.currentPhase);
  if (siblings.length <= 1) return undefined;
  return [
    ...from.context.previousResults,
    ...siblings.flatMap((s) => (s.result ? [s.result] : [])),
  ];
}

/** Record the planned sessions; returns their ids in the order of `plan.agents`. */
async function recordSessions(options: RunPhaseOptions, plan: PhasePlan): Promise<string[]> {
  const { store, issue } = options;
  const { step, start, purpose } = plan;
  if (start.kind === "retry") {
    const ids: string[] = [];
    for (const failed of start.failed) ids.push(await store.retry(failed.id));
    return ids;
  }
  if (start.kind === "handoff") {
    const previousResults = await inheritedResults(store, start.from);
    return store.fanOut(
      start.from.id,
      plan.agents.map((a) => ({
        toAgent: a.agent,
        purpose,
        context: { currentPhase: step.phase, previousResults },
      })),
    );
  }
  const context = {
    issueNumber: issue.number,
    currentPhase: step.phase,
    worktreePath: plan.worktreePath,
    previousResults: start.previousResults,
  };
  const ids: string[] = [];
  for (const a of plan.agents)
    ids.push(await store.create({ agentName: a.agent, purpose, context }));
  return ids;
}

function parentOf(plan: PhasePlan): string | null {
  if (plan.start.kind === "handoff") return plan.start.from.id;
  if (plan.start.kind === "retry") return plan.start.failed[0]?.parentSession ?? null;
  return null;
}

/** How a failed attempt is shown to its retry: why it ended, and where its changes are. */
function attemptNote(failed: Session, result: AgentResult): AgentResult {
  const kept = result.commit
    ? ` Its changes are kept in work-in-progress commit ${result.commit.slice(0, 12)}, already in your working tree: continue from them.`
    : "";
  const said = result.summary ? ` It said: ${result.summary}` : "";
  return {
    ...result,
    summary: `An earlier attempt at this phase did not finish (${failed.errorMessage ?? result.outcome}).${kept}${said}`,
  };
}

/** Run one planned agent in its recorded session. */
async function runAgent(
  options: RunPhaseOptions,
  plan: PhasePlan,
  agent: PlannedAgent,
  sessionId: string,
  commit: (session: Session, wip: string | null) => Promise<CommitResult>,
): Promise<Session> {
  const { store, issue } = options;
  const { step } = plan;
  const session = await store.getSession(sessionId);
  const template =
    step.prompt ??
    (await findPromptTemplate(
      options.trustedDir ?? options.repoDir,
      session.agentName,
      step.phase,
    ));
  const earlier = agent.retryOf?.result ? [attemptNote(agent.retryOf, agent.retryOf.result)] : [];
  const prompt = () =>
    renderPrompt({
      agent: session.agentName,
      phase: step.phase,
      issue,
      previousResults: [...session.context.previousResults, ...earlier],
      template,
      feedback: plan.feedback,
    });
  // After the task (and any template): how a gated step hands its verdict over.
  const gated = (text: string) => (plan.gate ? `${text}\n\n${VERDICT_INSTRUCTIONS}` : text);
  return runSession({
    store,
    sessionId,
    executable: plan.executable,
    // A resumed conversation of this same step already holds the task: the feedback is enough.
    prompt: gated(
      plan.continueFrom === "step" && plan.feedback !== undefined
        ? feedbackPrompt(plan.feedback)
        : prompt(),
    ),
    freshPrompt: () => gated(prompt()),
    check: plan.gate ? verdictProblem : undefined,
    settings: plan.settings,
    cwd: plan.cwd,
    mode: agent.mode,
    resumeFrom: plan.source?.result?.claudeSessionId ?? null,
    onProgress: options.onProgress,
    signal: options.signal,
    commit: options.commit ? (wip) => commit(session, wip) : undefined,
  });
}

/**
 * Run one step of the pipeline for an issue: plan it (see planPhase), record its sessions, run
 * every agent of the step at once, and record their results. Throws PipelineStateError when
 * the pipeline is done and no step was asked for.
 */
export async function runPhase(options: RunPhaseOptions): Promise<PhaseOutcome> {
  const plan = options.plan ?? (await planPhase(options));
  if (plan.done) {
    throw new PipelineStateError(
      `The pipeline for issue #${options.issue.number} is done (last session ${plan.head.id}); name a step to run one again.`,
    );
  }
  const commit = sessionCommitter(plan.cwd, {
    allowProtectedPaths: plan.settings.allowProtectedPaths,
  });
  const ids = await recordSessions(options, plan);
  const sessions = await Promise.all(
    plan.agents.map((agent, i) => runAgent(options, plan, agent, ids[i] as string, commit)),
  );
  const failed = sessions.some((s) => s.status !== "Completed");
  const partial = sessions.some((s) => s.result?.outcome === "partial");
  const status = failed ? "failed" : partial ? "partial" : "completed";
  const steps = options.pipeline.steps;
  const outcome: PhaseOutcome = {
    step: plan.step,
    parentSessionId: parentOf(plan),
    sessions,
    status,
    next: failed ? null : (steps[steps.indexOf(plan.step) + 1] ?? null),
  };
  if (failed || !plan.gate) return outcome;
  const gate = await readGate({
    store: options.store,
    gate: plan.gate,
    sessions,
    issueNumber: options.issue.number,
  });
  // A verdict that passed the run's check cannot be missing unless the log broke meanwhile.
  if (gate.verdict === "missing") return { ...outcome, status: "failed", next: null, gate };
  return { ...outcome, gate, next: gateNext(options.pipeline, plan.step, gate) };
}

export interface RunPipelineOptions extends Omit<RunPhaseOptions, "step" | "plan" | "issueBudget"> {
  /** Start at this step (id or phase) instead of where the issue stands. */
  from?: string;
  /**
   * US dollars the issue may spend: before each phase the recorded cost of its sessions is
   * summed; once it reaches this, no phase starts. Unset: no limit.
   */
  budgetUsd?: number;
}

export interface PipelineRun {
  /** The phases run now, in order. */
  outcomes: PhaseOutcome[];
  /** Every step has run: the last phase completed (now, or before this call). */
  done: boolean;
  /** Set when the run stopped before a phase because the issue's budget is spent. */
  overBudget?: BudgetStatus;
  /** Set when the review gate ran out of rounds: its open findings, for a person. */
  needsHuman?: Extract<GateState, { verdict: "changes" }>;
}

/**
 * Run the pipeline phase by phase until it is done or a phase does not complete: a failed
 * phase stops it, and so does a partial one (denied tool calls deserve a look before more is
 * spent on the next phase; running again goes on from there). A pipeline that is already done
 * is not an error: nothing runs and `done` is true.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineRun> {
  const outcomes: PhaseOutcome[] = [];
  let step: string | undefined = options.from;
  for (;;) {
    const issueBudget = budgetStatus({
      spentUsd: recordedCostUsd(await options.store.issueSessions(options.issue.number)),
      budgetUsd: options.budgetUsd,
    });
    const plan = await planPhase({ ...options, step, issueBudget });
    if (plan.done) {
      return plan.gate
        ? { outcomes, done: false, needsHuman: plan.gate }
        : { outcomes, done: true };
    }
    if (issueBudget.state === "spent") return { outcomes, done: false, overBudget: issueBudget };
    const outcome = await runPhase({ ...options, step, plan, issueBudget });
    outcomes.push(outcome);
    if (outcome.status !== "completed") return { outcomes, done: false };
    if (outcome.gate?.verdict === "changes" && outcome.gate.exhausted) {
      return { outcomes, done: false, needsHuman: outcome.gate };
    }
    if (!outcome.next) return { outcomes, done: true };
    step = outcome.next.id;
  }
}
