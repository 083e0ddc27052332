export { parseDocument, readDocumentFile, serializeDocument } from "./internal/document.js";
export {
  IllegalTransitionError,
  InvalidAgentNameError,
  InvalidIdError,
  InvalidInputError,
  LineageCycleError,
  LockTimeoutError,
  MiyabiError,
  SessionNotFoundError,
  StoreClosedError,
  StoreCorruptError,
  UnsupportedVersionError,
} from "./internal/errors.js";
export { assertAgentName, assertSessionId, isSessionId, newSessionId } from "./internal/ids.js";
export { flattenTree, type TreeNode } from "./internal/lineage.js";
export { type MergeConflict, type MergeReport, mergeSessions } from "./internal/merge.js";
export {
  type AgentResult,
  type AgentResultInput,
  AgentResultInputSchema,
  type DiskAgentResult,
  DiskAgentResultSchema,
  type DiskSession,
  DiskSessionSchema,
  OUTCOMES,
  type Outcome,
  PHASES,
  type Phase,
  PhaseSchema,
  type ProcessInfo,
  type ProcessInfoInput,
  resultFromDisk,
  SESSION_STATUSES,
  type Session,
  type SessionContext,
  type SessionContextInput,
  type SessionStatus,
  SessionStatusSchema,
  STORE_VERSION,
  type StoreDocument,
  StoreDocumentSchema,
  sessionFromDisk,
  type TokenUsage,
} from "./internal/model.js";
export { parseInput, type StoreOptions, StoreOptionsSchema } from "./internal/options.js";
export {
  type CreateSessionInput,
  type HandoffInput,
  type ListFilter,
  type PruneInput,
  type PruneReport,
  type RetryInput,
  type SessionStats,
  SessionStore,
  StoreNotFoundError,
  TRANSITIONS,
} from "./internal/store.js";
