// The store's version numbers and enum names live apart from the schemas, so code that must not
// load the schema library (the CLI's one-shot `stats`) can use them.

/** The on-disk format version this release writes and the newest it reads. */
export const STORE_VERSION = 1;

/**
 * The version of the store's whole layout (sessions.json, journal, logs, transcripts, patches,
 * issue snapshots), carried in the journal header. It changes whenever an older release could
 * misread what this one writes, so it belongs in every cache key a store is saved under.
 */
export const STORE_FORMAT_VERSION = 2;

export const SESSION_STATUSES = ["Active", "HandedOff", "Completed", "Failed"] as const;
export const PHASES = [
  "IssueAnalysis",
  "TaskDecomposition",
  "WorktreeCreation",
  "CodeGeneration",
  "Review",
  "Test",
  "PullRequest",
  "CICD",
  "Merge",
] as const;
// "partial": the agent finished, but some of its tool calls were denied (see permissionDenials).
export const OUTCOMES = [
  "success",
  "partial",
  "failure",
  "timeout",
  "cancelled",
  "orphaned",
] as const;
