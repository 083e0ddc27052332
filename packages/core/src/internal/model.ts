import { z } from "zod";
import { OUTCOMES, PHASES, SESSION_STATUSES, STORE_VERSION } from "./constants.js";
import { agentNamePattern } from "./ids.js";

export {
  OUTCOMES,
  PHASES,
  SESSION_STATUSES,
  STORE_FORMAT_VERSION,
  STORE_VERSION,
} from "./constants.js";

export const SessionStatusSchema = z.enum(SESSION_STATUSES);
export const PhaseSchema = z.enum(PHASES);
export const OutcomeSchema = z.enum(OUTCOMES);

export type SessionStatus = z.infer<typeof SessionStatusSchema>;
export type Phase = z.infer<typeof PhaseSchema>;
export type Outcome = z.infer<typeof OutcomeSchema>;

const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "expected a UUID");
// The seed writes chrono's RFC 3339 (nanoseconds, `Z`); other tools may write offsets.
const timestamp = z.iso.datetime({ offset: true });
const count = z.number().int().nonnegative();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected a sha256 hex digest");

/*
 * Disk schemas mirror the seed's serde layout: snake_case keys, enum names as strings.
 * They are loose objects so fields written by newer releases or other tools survive a rewrite.
 * Fields the seed does not know get defaults, so seed-written files load unchanged.
 */

export const DiskUsageSchema = z.looseObject({
  input_tokens: count.default(0),
  output_tokens: count.default(0),
  cache_creation_input_tokens: count.default(0),
  cache_read_input_tokens: count.default(0),
});

export const DiskPermissionDenialSchema = z.looseObject({
  tool: z.string(),
  count: count,
});

export const DiskAgentResultSchema = z.looseObject({
  agent: z.string(),
  phase: PhaseSchema,
  outcome: OutcomeSchema,
  summary: z.string().default(""),
  claude_session_id: z.string().nullable().default(null),
  num_turns: count.nullable().default(null),
  total_cost_usd: z.number().nonnegative().nullable().default(null),
  usage: DiskUsageSchema.nullable().default(null),
  duration_ms: z.number().nonnegative().nullable().default(null),
  exit_code: z.number().int().nullable().default(null),
  pid: z.number().int().nullable().default(null),
  commit: z.string().nullable().default(null),
  finished_at: timestamp,
  permission_denials: z.array(DiskPermissionDenialSchema).default([]),
});

export const DiskSessionContextSchema = z.looseObject({
  issue_number: count.nullable().default(null),
  current_phase: PhaseSchema,
  worktree_path: z.string().nullable().default(null),
  previous_results: z.array(DiskAgentResultSchema).default([]),
});

export const DiskProcessInfoSchema = z.looseObject({
  pid: z.number().int().nullable().default(null),
  runner_pid: z.number().int(),
  hostname: z.string(),
  started_at: timestamp,
  start_ticks: count.nullable().default(null),
  runner_start_ticks: count.nullable().default(null),
});

export const DiskPatchInfoSchema = z.looseObject({
  sha256,
  bytes: count,
});

/** The issue's title and body as the first phase saw them; later phases use this capture. */
export const DiskIssueSnapshotSchema = z.looseObject({
  number: count,
  title: z.string(),
  body: z.string(),
  url: z.string().nullable().default(null),
  captured_at: timestamp,
});

export const DiskSessionSchema = z.looseObject({
  id: uuid,
  agent_name: z.string().regex(agentNamePattern, "invalid agent name"),
  purpose: z.string(),
  context: DiskSessionContextSchema,
  created_at: timestamp,
  status: SessionStatusSchema,
  parent_session: uuid.nullable().default(null),
  child_sessions: z.array(uuid).default([]),
  handoff_to: z.string().nullable().default(null),
  error_message: z.string().nullable().default(null),
  // Extensions (the seed ignores them): all optional so seed files load.
  updated_at: timestamp.nullable().default(null),
  ended_at: timestamp.nullable().default(null),
  result: DiskAgentResultSchema.nullable().default(null),
  process: DiskProcessInfoSchema.nullable().default(null),
  retry_of: uuid.nullable().default(null),
  patch: DiskPatchInfoSchema.nullable().default(null),
});

export const StoreDocumentSchema = z.looseObject({
  sessions: z.array(DiskSessionSchema),
  version: z.literal(STORE_VERSION),
  // Written only when non-empty, so a store without captures keeps the seed's two keys.
  issues: z.array(DiskIssueSnapshotSchema).optional(),
});

export type DiskUsage = z.output<typeof DiskUsageSchema>;
export type DiskAgentResult = z.output<typeof DiskAgentResultSchema>;
export type DiskSessionContext = z.output<typeof DiskSessionContextSchema>;
export type DiskProcessInfo = z.output<typeof DiskProcessInfoSchema>;
export type DiskPatchInfo = z.output<typeof DiskPatchInfoSchema>;
export type DiskIssueSnapshot = z.output<typeof DiskIssueSnapshotSchema>;
export type DiskSession = z.output<typeof DiskSessionSchema>;
export type StoreDocument = z.output<typeof StoreDocumentSchema>;

/* Public, camelCase views. */

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

export interface PermissionDenial {
  tool: string;
  count: number;
}

/** What one agent run produced; saved on its session and handed to the next phase. */
export interface AgentResult {
  agent: string;
  phase: Phase;
  outcome: Outcome;
  summary: string;
  claudeSessionId: string | null;
  numTurns: number | null;
  totalCostUsd: number | null;
  usage: TokenUsage | null;
  durationMs: number | null;
  exitCode: number | null;
  pid: number | null;
  /** The commit the phase produced in its worktree, when it changed files. */
  commit: string | null;
  finishedAt: string;
  /** Tool calls the CLI refused, per tool; non-empty makes an otherwise good run "partial". */
  permissionDenials: PermissionDenial[];
}

export interface SessionContext {
  issueNumber: number | null;
  currentPhase: Phase;
  worktreePath: string | null;
  previousResults: AgentResult[];
}

export interface ProcessInfo {
  /** pid of the agent process (claude), when one was started. */
  pid: number | null;
  /** pid of the process that owns the session and will record its result. */
  runnerPid: number;
  hostname: string;
  startedAt: string;
  /** Start time of `pid` (clock ticks since boot), to tell it from a later process reusing the pid. */
  startTicks: number | null;
  /** Start time of `runnerPid`, likewise. */
  runnerStartTicks: number | null;
}

/** The patch a phase left in the store, with the digest recorded when the store wrote it. */
export interface PatchInfo {
  sha256: string;
  bytes: number;
}

export interface IssueSnapshot {
  number: number;
  title: string;
  body: string;
  url: string | null;
  capturedAt: string;
}

export interface Session {
  id: string;
  agentName: string;
  purpose: string;
  context: SessionContext;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
  status: SessionStatus;
  parentSession: string | null;
  childSessions: string[];
  handoffTo: string | null;
  errorMessage: string | null;
  result: AgentResult | null;
  process: ProcessInfo | null;
  retryOf: string | null;
  patch: PatchInfo | null;
}

/* Inputs accepted by the API: every field a caller may leave out has a default. */

export const TokenUsageInputSchema = z.object({
  inputTokens: count.default(0),
  outputTokens: count.default(0),
  cacheCreationInputTokens: count.default(0),
  cacheReadInputTokens: count.default(0),
});

export const AgentResultInputSchema = z.object({
  agent: z.string().min(1),
  phase: PhaseSchema,
  outcome: OutcomeSchema,
  summary: z.string().default(""),
  claudeSessionId: z.string().nullable().default(null),
  numTurns: count.nullable().default(null),
  totalCostUsd: z.number().nonnegative().nullable().default(null),
  usage: TokenUsageInputSchema.nullable().default(null),
  durationMs: z.number().nonnegative().nullable().default(null),
  exitCode: z.number().int().nullable().default(null),
  pid: z.number().int().nullable().default(null),
  commit: z.string().nullable().default(null),
  finishedAt: timestamp.optional(),
  permissionDenials: z.array(z.object({ tool: z.string().min(1), count })).default([]),
});
export type AgentResultInput = z.input<typeof AgentResultInputSchema>;

export const SessionContextInputSchema = z.object({
  issueNumber: count.nullable().default(null),
  currentPhase: PhaseSchema.default("IssueAnalysis"),
  worktreePath: z.string().nullable().default(null),
  previousResults: z.array(AgentResultInputSchema).optional(),
});
export type SessionContextInput = z.input<typeof SessionContextInputSchema>;

export const ProcessInfoInputSchema = z.object({
  pid: z.number().int().nullable().default(null),
  runnerPid: z
    .number()
    .int()
    .default(() => process.pid),
  hostname: z.string().optional(),
  startedAt: timestamp.optional(),
  startTicks: count.nullable().default(null),
  runnerStartTicks: count.nullable().default(null),
});
export type ProcessInfoInput = z.input<typeof ProcessInfoInputSchema>;

/* Conversions between the two shapes. Disk records keep unknown keys via spread. */

export function usageFromDisk(u: DiskUsage): TokenUsage {
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheCreationInputTokens: u.cache_creation_input_tokens,
    cacheReadInputTokens: u.cache_read_input_tokens,
  };
}

export function resultFromDisk(r: DiskAgentResult): AgentResult {
  return {
    agent: r.agent,
    phase: r.phase,
    outcome: r.outcome,
    summary: r.summary,
    claudeSessionId: r.claude_session_id,
    numTurns: r.num_turns,
    totalCostUsd: r.total_cost_usd,
    usage: r.usage ? usageFromDisk(r.usage) : null,
    durationMs: r.duration_ms,
    exitCode: r.exit_code,
    pid: r.pid,
    commit: r.commit,
    finishedAt: r.finished_at,
    permissionDenials: r.permission_denials.map((d) => ({ tool: d.tool, count: d.count })),
  };
}

export function resultToDisk(r: AgentResult): DiskAgentResult {
  return {
    agent: r.agent,
    phase: r.phase,
    outcome: r.outcome,
    summary: r.summary,
    claude_session_id: r.claudeSessionId,
    num_turns: r.numTurns,
    total_cost_usd: r.totalCostUsd,
    usage: r.usage
      ? {
          input_tokens: r.usage.inputTokens,
          output_tokens: r.usage.outputTokens,
          cache_creation_input_tokens: r.usage.cacheCreationInputTokens,
          cache_read_input_tokens: r.usage.cacheReadInputTokens,
        }
      : null,
    duration_ms: r.durationMs,
    exit_code: r.exitCode,
    pid: r.pid,
    commit: r.commit,
    finished_at: r.finishedAt,
    permission_denials: r.permissionDenials.map((d) => ({ tool: d.tool, count: d.count })),
  };
}

export function contextFromDisk(c: DiskSessionContext): SessionContext {
  return {
    issueNumber: c.issue_number,
    currentPhase: c.current_phase,
    worktreePath: c.worktree_path,
    previousResults: c.previous_results.map(resultFromDisk),
  };
}

export function contextToDisk(c: SessionContext): DiskSessionContext {
  return {
    issue_number: c.issueNumber,
    current_phase: c.currentPhase,
    worktree_path: c.worktreePath,
    previous_results: c.previousResults.map(resultToDisk),
  };
}

export function sessionFromDisk(s: DiskSession): Session {
  return {
    id: s.id,
    agentName: s.agent_name,
    purpose: s.purpose,
    context: contextFromDisk(s.context),
    createdAt: s.created_at,
    updatedAt: s.updated_at ?? s.created_at,
    endedAt: s.ended_at,
    status: s.status,
    parentSession: s.parent_session,
    childSessions: [...s.child_sessions],
    handoffTo: s.handoff_to,
    errorMessage: s.error_message,
    result: s.result ? resultFromDisk(s.result) : null,
    process: s.process
      ? {
          pid: s.process.pid,
          runnerPid: s.process.runner_pid,
          hostname: s.process.hostname,
          startedAt: s.process.started_at,
          startTicks: s.process.start_ticks,
          runnerStartTicks: s.process.runner_start_ticks,
        }
      : null,
    retryOf: s.retry_of,
    patch: s.patch ? { sha256: s.patch.sha256, bytes: s.patch.bytes } : null,
  };
}

export function issueFromDisk(i: DiskIssueSnapshot): IssueSnapshot {
  return {
    number: i.number,
    title: i.title,
    body: i.body,
    url: i.url,
    capturedAt: i.captured_at,
  };
}
