export { ClaudeNotFoundError, PipelineConfigError, WorktreeError } from "./internal/errors.js";
export { findOnPath, resolveClaude } from "./internal/executable.js";
export { type GitOptions, type GitResult, git, tryGit } from "./internal/git.js";
export {
  type PhaseOutcome,
  PipelineStateError,
  type RunPhaseOptions,
  type RunPipelineOptions,
  runPhase,
  runPipeline,
} from "./internal/phase.js";
export {
  DEFAULT_PIPELINE,
  findStep,
  loadPipeline,
  nextStep,
  type PipelineDefinition,
  type PipelineInput,
  PipelineSchema,
  type PipelineStep,
  stepOf,
} from "./internal/pipeline.js";
export { type IssueData, issueBlock, type PromptInput, renderPrompt } from "./internal/prompts.js";
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
  claudeConfigDir,
  claudeProjectDirName,
  claudeTranscriptPath,
  storedTranscriptPath,
} from "./internal/transcripts.js";
export {
  type CommitPhaseOptions,
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
  type WorktreeProblem,
} from "./internal/worktree.js";
