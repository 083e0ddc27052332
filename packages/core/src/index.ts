export { parseDocument } from "./internal/document.js";
export {
  type CoreErrorCode,
  IllegalTransitionError,
  InvalidAgentNameError,
  InvalidIdError,
  InvalidInputError,
  LineageCycleError,
  LockTimeoutError,
  MiyabiError,
  PatchDigestError,
  SessionNotFoundError,
  StoreClosedError,
  StoreCorruptError,
  StoreNotFoundError,
  UnsafePathError,
  UnsupportedVersionError,
} from "./internal/errors.js";
export { isClaudeSessionId, isSessionId } from "./internal/ids.js";
export type { TreeNode } from "./internal/lineage.js";
export type { MergeConflict, MergeReport } from "./internal/merge.js";
export {
  type AgentResult,
  type AgentResultInput,
  type DiskSession,
  type IssueSnapshot,
  OUTCOMES,
  type Outcome,
  type PatchInfo,
  type PermissionDenial,
  PHASES,
  type Phase,
  PhaseSchema,
  type ProcessInfo,
  type ProcessInfoInput,
  SESSION_STATUSES,
  type Session,
  type SessionContext,
  type SessionContextInput,
  type SessionStatus,
  STORE_FORMAT_VERSION,
  type StoreDocument,
  type TokenUsage,
} from "./internal/model.js";
export { parseInput, type StoreOptions } from "./internal/options.js";
export { processStartTicks } from "./internal/processes.js";
export {
  fencedText,
  formatCost,
  formatDuration,
  type IssueReportInput,
  lineageGraph,
  phaseTable,
  renderIssueReport,
  sessionsMarkdown,
} from "./internal/report.js";
export {
  type CreateSessionInput,
  type HandoffInput,
  type IssueInput,
  type ListFilter,
  type PruneInput,
  type PruneReport,
  type RetryInput,
  type SessionStats,
  SessionStore,
} from "./internal/store.js";
