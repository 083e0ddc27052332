export { checkSandbox } from "./internal/agent.js";
export {
  type BudgetState,
  type BudgetStatus,
  BudgetUsdSchema,
  budgetStatus,
  phaseBudgetUsd,
  recordedCostUsd,
} from "./internal/budget.js";
export {
  ClaudeNotFoundError,
  GateVerdictError,
  HandoffError,
  PipelineConfigError,
  SandboxUnavailableError,
  WorktreeError,
} from "./internal/errors.js";
export { findOnPath, resolveClaude } from "./internal/executable.js";
export {
  findingsFeedback,
  GATE_PURPOSE_PREFIX,
  type Gate,
  GateSchema,
  type GateState,
  gateRounds,
  gateTarget,
} from "./internal/gate.js";
export { type GitOptions, type GitResult, git, tryGit } from "./internal/git.js";
export { type HandoffRunOptions, handoffAndRun } from "./internal/handoff.js";
export {
  type PhaseOutcome,
  type PipelineRun,
  type RunPipelineOptions,
  runPhase,
  runPipeline,
} from "./internal/phase.js";
export {
  DEFAULT_PIPELINE,
  findStep,
  loadPipeline,
  type PipelineDefaults,
  type PipelineDefinition,
  type PipelineInput,
  PipelineSchema,
  type PipelineStep,
  stepOf,
  TEST_COMMANDS,
} from "./internal/pipeline.js";
export {
  type IssueStanding,
  issueStanding,
  type PhasePlan,
  type PhaseStart,
  type PipelineDone,
  PipelineStateError,
  type PlannedAgent,
  planPhase,
  type RunPhaseOptions,
} from "./internal/plan.js";
export {
  type IssueCommentData,
  type IssueData,
  issueBlock,
  type PromptInput,
  renderPrompt,
} from "./internal/prompts.js";
export { isProtectedPath, PROTECTED_PATHS } from "./internal/protected.js";
export { probeSandbox, type SandboxProbe } from "./internal/sandbox.js";
export { sanitizeUserText } from "./internal/sanitize.js";
export {
  createRedactor,
  REDACTED,
  type Redactor,
  redact,
  secretValues,
} from "./internal/secrets.js";
export {
  buildClaudeArgs,
  type ProgressEvent,
  type RunSessionOptions,
  runSession,
} from "./internal/session-run.js";
export {
  type ClaudeSettings,
  ClaudeSettingsSchema,
  HANDOFF_MODES,
  type HandoffMode,
  resolveSettings,
} from "./internal/settings.js";
export { abortOnProcessSignals } from "./internal/signals.js";
export { parseStreamLine, type ResultLine, type StreamEvent } from "./internal/stream.js";
export {
  claudeProjectDirName,
  claudeTranscriptPath,
} from "./internal/transcripts.js";
export {
  type Finding,
  parseVerdict,
  VERDICT_INSTRUCTIONS,
  VERDICT_JSON_SCHEMA,
  VERDICT_SCHEMA,
  type Verdict,
  type VerdictParse,
  verdictArgs,
  verdictFromLog,
} from "./internal/verdict.js";
export { widenings } from "./internal/widenings.js";
export {
  type CommitPhaseOptions,
  type CommitResult,
  commitPhase,
  DEFAULT_AUTHOR,
  type EnsureIssueWorktreeOptions,
  ensureIssueWorktree,
  type IssueWorktree,
  IssueWorktreeError,
  type IssueWorktreeInfo,
  identityEnv,
  issueBranchName,
  listIssueWorktrees,
  phaseCommitMessage,
  pruneWorktrees,
  type RemoveIssueWorktreeOptions,
  removeIssueWorktree,
  sessionCommitter,
  type WorktreeProblem,
} from "./internal/worktree.js";
