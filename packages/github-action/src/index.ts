export { splitArgs } from "./internal/args.js";
export {
  type Credential,
  claudeCacheKey,
  claudeEnv,
  type InstallClaudeOptions,
  installClaude,
} from "./internal/claude.js";
export {
  ActionInputError,
  CacheSaveError,
  ClaudeInstallError,
  MissingCredentialError,
  PhaseFailedError,
  PullRequestError,
  PushRejectedError,
  SenderNotAllowedError,
  SessionsNotRestoredError,
  UnknownPhaseError,
  WorkBranchError,
} from "./internal/errors.js";
export {
  type ActionInputs,
  ActionInputsSchema,
  INPUT_NAMES,
  type InputName,
  PINNED_CLAUDE_VERSION,
  parseInputs,
} from "./internal/inputs.js";
export {
  type ActionEvent,
  OUTPUT_NAMES,
  type PhaseJobOptions,
  type PhaseOutputs,
  progressLine,
  type RunContext,
  requireStep,
  runPhaseJob,
} from "./internal/job.js";
export type {
  Cache,
  GitHubApi,
  IssueComment,
  Logger,
  PullRequest,
  PullRequestContent,
  RepoPermission,
  Runner,
  Summary,
} from "./internal/ports.js";
export { pullRequestBody, upsertPullRequest } from "./internal/pull-request.js";
export {
  commentMarker,
  type JobStatus,
  lineageGraph,
  type PhaseReport,
  phaseTable,
  renderReport,
} from "./internal/report.js";
export { issueKeyPrefix, type RunIdentity, saveKey } from "./internal/store-cache.js";
