import path from "node:path";
import { type AgentResult, MiyabiError, type Session, type SessionStore } from "@miyabi/core";
import { checkSandbox } from "./agent.js";
import { resolveClaude } from "./executable.js";
import { findStep, nextStep, type PipelineDefinition, type PipelineStep } from "./pipeline.js";
import { findPromptTemplate, type IssueData, renderPrompt } from "./prompts.js";
import { type ProgressEvent, runSession } from "./session-run.js";
import {
  type ClaudeSettings,
  type HandoffMode,
  type ResolvedClaudeSettings,
  resolveSettings,
} from "./settings.js";
import { commitPhase, phaseCommitMessage } from "./worktree.js";

export interface RunPhaseOptions {
  store: SessionStore;
  issue: IssueData;
  pipeline: PipelineDefinition;
  /** Step id or phase name; default: the step after the issue's head session. */
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
  /** Commit what each successful agent changed in the worktree and record the commit. */
  commit?: boolean;
  claude: ClaudeSettings;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface PhaseOutcome {
  step: PipelineStep;
  parentSessionId: string | null;
  /** This phase's sessions, as recorded after their runs. */
  sessions: Session[];
  status: "completed" | "failed";
  next: PipelineStep | null;
}

export class PipelineStateError extends MiyabiError {
  constructor(message: string) {
    super("PIPELINE_STATE", message);
  }
}

function chooseStep(options: RunPhaseOptions, head: Session | undefined): PipelineStep {
  if (options.step !== undefined) {
    const step = findStep(options.pipeline, options.step);
    if (!step) {
      const known = options.pipeline.steps.map((s) => s.id).join(", ");
      throw new PipelineStateError(
        `No step "${options.step}" in pipeline ${options.pipeline.name}; its steps are ${known}.`,
      );
    }
    return step;
  }
  const step = nextStep(options.pipeline, head);
  if (!step) {
    throw new PipelineStateError(
      `The pipeline for issue #${options.issue.number} is done (last session ${head?.id}); name a step to run one again.`,
    );
  }
  return step;
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

/** Record this phase's sessions: new roots, a handoff (or fan-out) from the head, or a retry. */
async function startSessions(
  options: RunPhaseOptions,
  step: PipelineStep,
  head: Session | undefined,
  worktreePath: string,
): Promise<{ parent: Session | null; ids: string[] }> {
  const { store, issue } = options;
  const context = { issueNumber: issue.number, currentPhase: step.phase, worktreePath };
  const purpose = `${step.phase} for #${issue.number}: ${issue.title}`.slice(0, 300);
  if (!head) {
    const ids = [];
    for (const agent of step.agents)
      ids.push(await store.create({ agentName: agent, purpose, context }));
    return { parent: null, ids };
  }
  if (head.status === "Active") {
    throw new PipelineStateError(
      `Session ${head.id} (${head.agentName}) of issue #${issue.number} is still Active; wait for it, or fail it with \`miyabi-sessions fail ${head.id} --error ...\`.`,
    );
  }
  if (head.status === "Failed") {
    const parent = head.parentSession ? await store.getSession(head.parentSession) : null;
    return { parent, ids: [await store.retry(head.id)] };
  }
  const previousResults = await inheritedResults(store, head);
  const ids = await store.fanOut(
    head.id,
    step.agents.map((agent) => ({
      toAgent: agent,
      purpose,
      context: { currentPhase: step.phase, previousResults },
    })),
  );
  return { parent: head, ids };
}

function stepSettings(
  options: RunPhaseOptions,
  base: ResolvedClaudeSettings,
  step: PipelineStep,
): ResolvedClaudeSettings {
  return {
    ...base,
    model: base.model ?? step.model,
    maxTurns: base.maxTurns ?? step.maxTurns,
    timeoutMs:
      options.claude.timeoutMs ??
      (step.timeoutMinutes ? step.timeoutMinutes * 60_000 : base.timeoutMs),
    allowedTools: base.allowedTools ?? step.allowedTools,
    disallowedTools: base.disallowedTools ?? step.disallowedTools,
    appendSystemPrompt: base.appendSystemPrompt ?? step.appendSystemPrompt,
  };
}

/**
 * Run one step of the pipeline for an issue: find where the issue stands, hand off (or start,
 * or retry), run every agent of the step at once, and record their results.
 */
export async function runPhase(options: RunPhaseOptions): Promise<PhaseOutcome> {
  const settings = resolveSettings(options.claude);
  // Before any session changes: a missing CLI must cost nothing.
  const executable = await resolveClaude(
    settings.executable,
    settings.env.PATH ?? process.env.PATH,
  );
  await checkSandbox(settings);
  const { store, issue } = options;
  const head = await store.issueHead(issue.number);
  const step = chooseStep(options, head);
  const stepped = stepSettings(options, settings, step);
  const mode: HandoffMode = stepped.mode ?? step.mode;
  const cwd = path.resolve(options.repoDir, options.worktree ?? ".");
  // Agents of one step share the worktree; their commits must not race for git's index lock.
  let commits: Promise<unknown> = Promise.resolve();
  const commit = (session: Session) => {
    const next = commits.then(() =>
      commitPhase({
        worktree: cwd,
        message: phaseCommitMessage(session),
        allowProtectedPaths: stepped.allowProtectedPaths,
      }),
    );
    commits = next.catch(() => undefined);
    return next;
  };
  const { parent, ids } = await startSessions(
    options,
    step,
    head,
    options.worktree ?? options.repoDir,
  );
  const resumeFrom = parent?.result?.claudeSessionId ?? null;

  const sessions = await Promise.all(
    ids.map(async (id) => {
      const session = await store.getSession(id);
      const template =
        step.prompt ??
        (await findPromptTemplate(
          options.trustedDir ?? options.repoDir,
          session.agentName,
          step.phase,
        ));
      const prompt = () =>
        renderPrompt({
          agent: session.agentName,
          phase: step.phase,
          issue,
          previousResults: session.context.previousResults,
          template,
        });
      return runSession({
        store,
        sessionId: id,
        executable,
        prompt: prompt(),
        freshPrompt: prompt,
        settings: stepped,
        cwd,
        mode,
        resumeFrom,
        onProgress: options.onProgress,
        signal: options.signal,
        commit: options.commit ? () => commit(session) : undefined,
      });
    }),
  );
  const failed = sessions.some((s) => s.status !== "Completed");
  const index = options.pipeline.steps.indexOf(step);
  return {
    step,
    parentSessionId: parent?.id ?? null,
    sessions,
    status: failed ? "failed" : "completed",
    next: failed ? null : (options.pipeline.steps[index + 1] ?? null),
  };
}

export interface RunPipelineOptions extends Omit<RunPhaseOptions, "step"> {
  /** Start at this step (id or phase) instead of where the issue stands. */
  from?: string;
}

/** Run the pipeline phase by phase until it is done or a phase fails. */
export async function runPipeline(options: RunPipelineOptions): Promise<PhaseOutcome[]> {
  const outcomes: PhaseOutcome[] = [];
  let step: string | undefined = options.from;
  for (;;) {
    const outcome = await runPhase({ ...options, step });
    outcomes.push(outcome);
    if (outcome.status === "failed" || !outcome.next) return outcomes;
    step = outcome.next.id;
  }
}
