export { splitArgs } from "./internal/args.js";
export {
  type Credential,
  claudeCacheKey,
  type InstallClaudeOptions,
  installClaude,
} from "./internal/claude.js";
export { gitAuthEnv, removeCheckoutCredentials } from "./internal/credentials.js";
export {
  ActionInputError,
  CacheRestoreError,
  CacheSaveError,
  CheckoutCredentialsError,
  ClaudeInstallError,
  MissingCacheKeyError,
  MissingCredentialError,
  PartialPhaseError,
  PhaseFailedError,
  ProtectedPatchError,
  PullRequestError,
  PushRejectedError,
  SenderNotAllowedError,
  SessionsNotRestoredError,
  StoreArtifactError,
  type StoreArtifactErrorCode,
  StorePathError,
  TriggerRefusedError,
  UnknownPhaseError,
  UnsafeArchiveError,
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
  MAX_COMMENT_CHARS,
  type PromptComments,
  promptComments,
} from "./internal/issue-comments.js";
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
  DownloadedEntry,
  GitHubApi,
  IssueComment,
  Logger,
  PullRequest,
  PullRequestContent,
  RepoPermission,
  Runner,
  SaveResult,
  Summary,
} from "./internal/ports.js";
export { patchPaths, refusedPath } from "./internal/protected-paths.js";
export { pullRequestBody, upsertPullRequest } from "./internal/pull-request.js";
export { checksNote, pushesWithWorkflowToken, pushTokenOf } from "./internal/push-token.js";
export {
  commentMarker,
  type JobStatus,
  type PhaseReport,
  renderReport,
} from "./internal/report.js";
export {
  DEFAULT_LIMITS,
  type ExtractLimits,
  extractStore,
  type Layout,
  memberTarget,
  STORE_LAYOUT,
} from "./internal/safe-extract.js";
export {
  type ArtifactApi,
  type ArtifactTransfer,
  DEFAULT_STORE_ARTIFACT_RETENTION_DAYS,
  type RepoArtifact,
} from "./internal/store-artifact.js";
export {
  issueKeyPrefix,
  type RunIdentity,
  saveKey,
  storePathIn,
} from "./internal/store-cache.js";
export type { KeptArtifact, StoreArtifacts } from "./internal/store-record.js";
