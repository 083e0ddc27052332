import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { z } from "zod";
import {
  extraFields,
  parseDocumentBytes,
  readDocumentBytes,
  serializeDocument,
} from "./document.js";
import {
  IllegalTransitionError,
  InvalidInputError,
  PatchDigestError,
  SessionNotFoundError,
  StoreClosedError,
  StoreCorruptError,
  StoreNotFoundError,
  UnsafePathError,
} from "./errors.js";
import {
  appendFileNoFollow,
  ensureRealDir,
  isErrno,
  lstatOrNull,
  readFileNoFollow,
  removeDeadWritersTemps,
  writeFileAtomic,
} from "./fs-util.js";
import { assertAgentName, assertSessionId, isClaudeSessionId, newSessionId } from "./ids.js";
import {
  type BaseStamp,
  baseStamp,
  decodeRecords,
  encodeRecord,
  headerLine,
  type JournalRead,
  type JournalRecord,
  parseJournal,
} from "./journal.js";
import { StoreLayout } from "./layout.js";
import { flattenTree, lineageOf, mapTree, type TreeNode, treeOf } from "./lineage.js";
import { FileLock } from "./lock.js";
import { type MergeReport, mergeSessions } from "./merge.js";
import {
  AgentResultInputSchema,
  type DiskAgentResult,
  type DiskIssueSnapshot,
  type DiskSession,
  type DiskSessionContext,
  type IssueSnapshot,
  issueFromDisk,
  PhaseSchema,
  type ProcessInfoInput,
  ProcessInfoInputSchema,
  resultToDisk,
  type Session,
  SessionContextInputSchema,
  type SessionStatus,
  SessionStatusSchema,
  STORE_VERSION,
  type StoreDocument,
  sessionFromDisk,
} from "./model.js";
import {
  parseInput,
  type ResolvedStoreOptions,
  type StoreOptions,
  StoreOptionsSchema,
} from "./options.js";
import { isSameProcess, stopRecordedProcess } from "./processes.js";
import { fileStamp, hasIdentity, identityOf, type Stamp, stampOf } from "./stamp.js";
import { copyStats, type SessionStats, SummaryView } from "./stats.js";
import { countStats, type StoreSummary, statsDelta, summarize } from "./summary.js";
import { SessionTable } from "./table.js";

export type { SessionStats } from "./stats.js";

const purposeSchema = z.string().max(10_000);
const resultSchema = AgentResultInputSchema;
const contextSchema = SessionContextInputSchema;

const CreateInputSchema = z.object({
  agentName: z.string(),
  purpose: purposeSchema,
  context: contextSchema.default({
    issueNumber: null,
    currentPhase: "IssueAnalysis",
    worktreePath: null,
  }),
});
export type CreateSessionInput = z.input<typeof CreateInputSchema>;

const ContextPatchSchema = z.object({
  issueNumber: z.number().int().nonnegative().nullable().optional(),
  currentPhase: PhaseSchema.optional(),
  worktreePath: z.string().nullable().optional(),
  previousResults: z.array(resultSchema).optional(),
});

const HandoffInputSchema = z.object({
  toAgent: z.string(),
  /** Changes to the parent's context; fields left out are inherited. */
  context: ContextPatchSchema.default({}),
  purpose: purposeSchema.optional(),
});
export type HandoffInput = z.input<typeof HandoffInputSchema>;

const RetryInputSchema = z.object({
  purpose: purposeSchema.optional(),
  context: ContextPatchSchema.default({}),
});
export type RetryInput = z.input<typeof RetryInputSchema>;

const ListFilterSchema = z.object({
  status: z.union([SessionStatusSchema, z.array(SessionStatusSchema)]).optional(),
  issueNumber: z.number().int().nonnegative().optional(),
  agentName: z.string().optional(),
  phase: PhaseSchema.optional(),
});
export type ListFilter = z.input<typeof ListFilterSchema>;

const PruneInputSchema = z.object({
  /** Whole lineage trees whose every session was last updated longer ago than this go. */
  olderThanMs: z.number().nonnegative(),
  /** Only trees whose sessions all have one of these statuses; Active ones are never pruned. */
  statuses: z
    .array(SessionStatusSchema)
    .default(["HandedOff", "Completed", "Failed"])
    .transform((list) => list.filter((s) => s !== "Active")),
  dryRun: z.boolean().default(false),
});
export type PruneInput = z.input<typeof PruneInputSchema>;

const IssueInputSchema = z.object({
  number: z.number().int().nonnegative(),
  title: z.string().max(1_000),
  body: z.string().max(1_000_000),
  url: z.string().nullable().default(null),
});
export type IssueInput = z.input<typeof IssueInputSchema>;

export interface PruneReport {
  /** Ids removed (or that would be, with dryRun), roots and their descendants. */
  removed: string[];
  dryRun: boolean;
}

const TERMINAL: ReadonlySet<SessionStatus> = new Set(["Completed", "Failed", "HandedOff"]);

/**
 * The status transitions the store allows. Everything else is an IllegalTransitionError that
 * leaves the store unchanged.
 */
export const TRANSITIONS = {
  complete: { from: ["Active"], to: "Completed" },
  fail: { from: ["Active"], to: "Failed" },
  handoff: { from: ["Active", "Completed"], to: "HandedOff" },
  retry: { from: ["Failed"], to: "Failed" },
  setProcess: { from: ["Active"], to: "Active" },
} as const satisfies Record<string, { from: readonly SessionStatus[]; to: SessionStatus }>;

type Action = keyof typeof TRANSITIONS;

const HINTS: Record<Action, string> = {
  complete: "Only Active sessions can be completed.",
  fail: "Only Active sessions can be failed.",
  handoff:
    "Only Active or Completed sessions can be handed off, once; a Failed one can be retried instead.",
  retry: "Only Failed sessions can be retried, once each (retry the newest attempt).",
  setProcess: "A process can only be recorded on an Active session.",
};

/**
 * A session store in a directory, compatible with the seed's `sessions.json`.
 *
 * Changes are appended to a journal and fsynced before a call returns; `close()` (and the
 * journal growing past `compactAfterBytes`) folds the journal into `sessions.json` atomically.
 * Every call runs under an in-process queue and an inter-process lock, and first catches up with
 * changes other processes made, so several processes can share one store.
 */
export class SessionStore {
  readonly dir: string;
  readonly file: string;
  readonly journalFile: string;
  readonly logsDir: string;
  readonly #paths: StoreLayout;
  readonly #options: ResolvedStoreOptions;
  readonly #lock: FileLock;
  /**
   * What is in memory: every session, or (a store opened lazily) only the journal header's
   * summary with the journal folded in, enough for `getStats`, `create` and reconciliation.
   * Null until the first catch-up.
   */
  #state: State | null = null;
  #stats: { table: SessionTable; version: number; value: SessionStats } | null = null;
  /** The journal, kept open for the store's life; null while there is none. */
  #journal: OpenJournal | null = null;
  /** Where the next record goes: just past the last intact record. */
  #offset = 0;
  #jsonStamp: Stamp | null = null;
  /** Calls queued or running on this instance; reads answer from memory only when idle. */
  #busy = 0;
  /** Top-level fields of sessions.json this release does not know, written back unchanged. */
  #extra: Record<string, unknown> = {};
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(options: ResolvedStoreOptions) {
    this.#options = options;
    this.#paths = new StoreLayout(options.dir);
    this.dir = this.#paths.dir;
    this.file = this.#paths.file;
    this.journalFile = this.#paths.journal;
    this.logsDir = this.#paths.logs;
    this.#lock = new FileLock(this.#paths.lock, {
      timeoutMs: options.lockTimeoutMs,
      staleMs: options.staleLockMs,
    });
  }

  /** Open (and by default create) the store, loading what is already on disk. */
  static async open(options: StoreOptions = {}): Promise<SessionStore> {
    const resolved = parseInput(StoreOptionsSchema, options, "store options");
    const store = new SessionStore(resolved);
    if (resolved.create) {
      await fsp.mkdir(store.dir, { recursive: true });
      await ensureRealDir(store.logsDir);
    } else {
      try {
        await fsp.access(store.dir);
      } catch (error) {
        if (isErrno(error, "ENOENT") || isErrno(error, "ENOTDIR"))
          throw new StoreNotFoundError(store.dir);
        throw error;
      }
    }
    // One turn of the lock for everything opening does: loading, clean-up, reconciliation.
    try {
      await store.#exclusive(async () => {
        if (resolved.create) await removeDeadWritersTemps(store.dir);
        if (resolved.reconcileOrphans) await store.#reconcileLocked();
      }, "summary");
    } catch (error) {
      store.#closeJournal();
      throw error;
    }
    return store;
  }

  /* ---------- reads ---------- */

  async getSession(id: string): Promise<Session> {
    return this.#read(() => sessionFromDisk(this.#require(id)));
  }

  /** Root -> `id`, following parent links. */
  async getLineage(id: string): Promise<Session[]> {
    return this.#read(() => lineageOf(this.#require(id), this.#lookup).map(sessionFromDisk));
  }

  /** `id` and every session handed off from it, as a tree. */
  async getTree(id: string): Promise<TreeNode<Session>> {
    return this.#read(() => mapTree(treeOf(this.#require(id), this.#lookup), sessionFromDisk));
  }

  /** Every session handed off from `id`, directly or not, depth first (without `id`). */
  async getDescendants(id: string): Promise<Session[]> {
    const tree = await this.getTree(id);
    return flattenTree(tree).slice(1);
  }

  async listActive(): Promise<Session[]> {
    return this.list({ status: "Active" });
  }

  async list(filter: ListFilter = {}): Promise<Session[]> {
    const f = parseInput(ListFilterSchema, filter, "list filter");
    const statuses = f.status === undefined ? null : new Set([f.status].flat());
    return this.#read(() => {
      const out: Session[] = [];
      for (const s of this.#table.values()) {
        if (statuses && !statuses.has(s.status)) continue;
        if (f.issueNumber !== undefined && s.context.issue_number !== f.issueNumber) continue;
        if (f.agentName !== undefined && s.agent_name !== f.agentName) continue;
        if (f.phase !== undefined && s.context.current_phase !== f.phase) continue;
        out.push(sessionFromDisk(s));
      }
      return out;
    });
  }

  /** Every session of an issue, oldest first. */
  async issueSessions(issueNumber: number): Promise<Session[]> {
    return this.list({ issueNumber });
  }

  /**
   * The session an issue's pipeline continues from: the newest session of the issue that has not
   * been handed off and was not superseded by a retry. Undefined when the issue has none.
   */
  async issueHead(issueNumber: number): Promise<Session | undefined> {
    const sessions = await this.issueSessions(issueNumber);
    const retried = new Set(sessions.map((s) => s.retryOf).filter((x): x is string => x !== null));
    const heads = sessions.filter((s) => s.childSessions.length === 0 && !retried.has(s.id));
    return heads.at(-1);
  }

  async getStats(): Promise<SessionStats> {
    return this.#read(() => {
      if (this.#state?.kind === "summary") return copyStats(this.#state.summary.stats);
      // Counted once per state of the table; callers get their own copy.
      const table = this.#table;
      if (this.#stats?.table !== table || this.#stats.version !== table.version) {
        this.#stats = { table, version: table.version, value: countStats(table.values()) };
      }
      return copyStats(this.#stats.value);
    }, "summary");
  }

  /** The whole store in its on-disk shape (what `sessions.json` holds after `compact()`). */
  async snapshot(): Promise<StoreDocument> {
    return this.#read(() => ({ sessions: [...this.#table.values()], version: STORE_VERSION }));
  }

  /* ---------- changes ---------- */

  /** Record a new root session; returns its id. Starting an agent process is the runner's job. */
  async create(input: CreateSessionInput): Promise<string> {
    const data = parseInput(CreateInputSchema, input, "session");
    const agentName = assertAgentName(data.agentName);
    return this.#change(() => {
      const now = this.#now();
      const context: DiskSessionContext = {
        issue_number: data.context.issueNumber,
        current_phase: data.context.currentPhase,
        worktree_path: data.context.worktreePath,
        previous_results: (data.context.previousResults ?? []).map((r) => this.#result(r, now)),
      };
      const session = this.#newSession({ agentName, purpose: data.purpose, context, now });
      return { record: { put: [session] }, value: session.id };
    }, "summary");
  }

  /**
   * Hand a session over to another agent in one atomic change: the parent becomes HandedOff
   * with `handoff_to` and `child_sessions` set, and the child is created Active. Returns the
   * child's id. The child's `previous_results` default to the parent's plus the parent's result.
   */
  async handoff(fromId: string, input: HandoffInput): Promise<string> {
    const [id] = await this.fanOut(fromId, [input]);
    return id as string;
  }

  /** Hand a session to several agents that run at once: one child each, one atomic change. */
  async fanOut(fromId: string, inputs: readonly HandoffInput[]): Promise<string[]> {
    assertSessionId(fromId);
    const targets = inputs.map((i) => parseInput(HandoffInputSchema, i, "handoff"));
    if (targets.length === 0)
      throw new InvalidInputError("fanOut needs at least one target agent.");
    for (const t of targets) assertAgentName(t.toAgent);
    return this.#change(() => {
      const parent = this.#require(fromId);
      this.#check(parent, "handoff");
      const now = this.#now();
      const inherited = [
        ...parent.context.previous_results,
        ...(parent.result ? [parent.result] : []),
      ];
      const children = targets.map((t) =>
        this.#newSession({
          agentName: t.toAgent,
          purpose: t.purpose ?? `Handoff from session ${parent.id}`,
          context: this.#patchContext(parent.context, t.context, inherited, now),
          parent: parent.id,
          now,
        }),
      );
      const updated: DiskSession = {
        ...parent,
        status: "HandedOff",
        handoff_to: targets.map((t) => t.toAgent).join(","),
        child_sessions: [...parent.child_sessions, ...children.map((c) => c.id)],
        updated_at: now,
        ended_at: parent.ended_at ?? now,
      };
      return { record: { put: [updated, ...children] }, value: children.map((c) => c.id) };
    });
  }

  /**
   * Run a Failed session's work again as a new session: a sibling under the same parent (which
   * then lists both) or, for a failed root, a new root. Returns the new id.
   */
  async retry(failedId: string, input: RetryInput = {}): Promise<string> {
    assertSessionId(failedId);
    const data = parseInput(RetryInputSchema, input, "retry");
    return this.#change(() => {
      const failed = this.#require(failedId);
      this.#check(failed, "retry");
      for (const s of this.#table.values()) {
        if (s.retry_of === failed.id) {
          throw new IllegalTransitionError(
            failed.id,
            "already retried",
            "retry",
            `Retry ${s.id} instead.`,
          );
        }
      }
      const now = this.#now();
      const session = this.#newSession({
        agentName: failed.agent_name,
        purpose: data.purpose ?? failed.purpose,
        context: this.#patchContext(
          failed.context,
          data.context,
          failed.context.previous_results,
          now,
        ),
        parent: failed.parent_session,
        now,
      });
      session.retry_of = failed.id;
      const put: DiskSession[] = [session];
      const parent = failed.parent_session ? this.#table.get(failed.parent_session) : undefined;
      if (parent) {
        put.unshift({
          ...parent,
          child_sessions: [...parent.child_sessions, session.id],
          updated_at: now,
        });
      }
      return { record: { put }, value: session.id };
    });
  }

  /** Active -> Completed, keeping the agent's result (handed to the next phase). */
  async complete(id: string, result?: z.input<typeof resultSchema>): Promise<Session> {
    assertSessionId(id);
    const parsed = result === undefined ? undefined : parseInput(resultSchema, result, "result");
    return this.#finish(id, "complete", { result: parsed });
  }

  /** Active -> Failed with a reason a person can act on. */
  async fail(id: string, error: string, result?: z.input<typeof resultSchema>): Promise<Session> {
    assertSessionId(id);
    const message = parseInput(z.string().min(1).max(20_000), error, "error message");
    const parsed = result === undefined ? undefined : parseInput(resultSchema, result, "result");
    return this.#finish(id, "fail", { result: parsed, error: message });
  }

  /** Note which process runs an Active session, so a crashed runner can be detected later. */
  async setProcess(id: string, info: ProcessInfoInput): Promise<Session> {
    assertSessionId(id);
    const data = parseInput(ProcessInfoInputSchema, info, "process info");
    return this.#change(() => {
      const session = this.#require(id);
      this.#check(session, "setProcess");
      const now = this.#now();
      const updated: DiskSession = {
        ...session,
        process: {
          pid: data.pid,
          runner_pid: data.runnerPid,
          hostname: data.hostname ?? hostname(),
          started_at: data.startedAt ?? now,
          start_ticks: data.startTicks,
          runner_start_ticks: data.runnerStartTicks,
        },
        updated_at: now,
      };
      return { record: { put: [updated] }, value: sessionFromDisk(updated) };
    });
  }

  /**
   * Fail Active sessions whose owning process ran on this host and is gone without recording a
   * result, so no session stays Active after its process died. The Claude process tree such a
   * session left behind is stopped when it is provably the recorded one (same pid and start
   * time). Returns the ids it failed.
   */
  async reconcileOrphans(): Promise<string[]> {
    return this.#exclusive(() => this.#reconcileLocked(), "summary");
  }

  async #reconcileLocked(): Promise<string[]> {
    const host = hostname();
    const put: DiskSession[] = [];
    const state = this.#state;
    const candidates =
      state?.kind === "summary" ? state.summary.running.values() : this.#table.values();
    for (const s of candidates) {
      const proc = s.process;
      if (s.status !== "Active" || !proc || proc.hostname !== host || s.result) continue;
      if (proc.runner_pid === process.pid && proc.runner_start_ticks === null) continue;
      if (await isSameProcess(proc.runner_pid, proc.runner_start_ticks)) continue;
      // Stopped before the session is recorded Failed: a crash in between leaves it Active,
      // so the next open tries again.
      const stopped =
        proc.pid !== null &&
        proc.start_ticks !== null &&
        (await stopRecordedProcess(proc.pid, proc.start_ticks));
      const now = this.#now();
      put.push({
        ...s,
        status: "Failed",
        error_message: `orphaned: the process that ran this session (pid ${proc.runner_pid}) exited without recording a result${stopped ? `; its Claude process (pid ${proc.pid}) was stopped` : ""}`,
        updated_at: now,
        ended_at: now,
      });
    }
    if (put.length > 0) await this.#commit({ put });
    return put.map((s) => s.id);
  }

  /**
   * Remove whole lineage trees that are finished and older than the cutoff, with every file of
   * theirs: logs, patches, and the transcripts of their Claude sessions no kept session uses.
   */
  async prune(input: PruneInput): Promise<PruneReport> {
    const data = parseInput(PruneInputSchema, input, "prune options");
    const allowed = new Set<SessionStatus>(data.statuses);
    // Listed before anything is deleted: a linked folder is refused with the store unchanged,
    // and only files that exist are removed afterwards.
    const [logs, patches, transcripts] = await Promise.all([
      listRealDir(this.#paths.logs),
      listRealDir(this.#paths.patches),
      listRealDir(this.#paths.transcripts),
    ]);
    const removed = await this.#change(() => {
      const cutoff = this.#now();
      const cutoffMs = Date.parse(cutoff) - data.olderThanMs;
      const del: string[] = [];
      for (const root of this.#roots()) {
        const members = flattenTree(treeOf(root, this.#lookup));
        const prunable = members.every(
          (s) =>
            allowed.has(s.status) &&
            TERMINAL.has(s.status) &&
            Date.parse(s.updated_at ?? s.created_at) < cutoffMs,
        );
        if (prunable) for (const s of members) del.push(s.id);
      }
      const record = data.dryRun || del.length === 0 ? null : { del };
      const gone = new Set(del);
      const kept = new Set<string>();
      const dropped = new Set<string>();
      for (const s of this.#table.values()) {
        for (const id of claudeSessionIds(s)) (gone.has(s.id) ? dropped : kept).add(id);
      }
      const transcripts = [...dropped].filter((id) => !kept.has(id));
      return { record, value: { del, transcripts } };
    });
    if (!data.dryRun) {
      const present = (names: Set<string>, files: string[]) =>
        files.filter((f) => names.has(path.basename(f)));
      const files = [
        ...present(
          logs,
          removed.del.map((id) => this.#paths.log(id)),
        ),
        ...present(
          patches,
          removed.del.map((id) => this.#paths.patch(id)),
        ),
        ...present(
          transcripts,
          removed.transcripts.map((id) => this.#paths.transcript(id)),
        ),
      ];
      for (const file of files) await fsp.rm(file, { force: true });
    }
    return { removed: removed.del, dryRun: data.dryRun };
  }

  /**
   * Fold another store directory of the same work into this one (parallel jobs fanning in):
   * every session of either side survives (see `mergeSessions` for how differing copies are
   * resolved), with its log, patch and the transcripts of its Claude sessions, and the issue
   * snapshots this store does not have yet.
   */
  async mergeFrom(sourceDir: string): Promise<MergeReport> {
    const other = await readStoreDir(sourceDir);
    // Files first: a crash before the sessions are merged leaves only unused files, never a
    // merged-in session whose transcript or patch is missing.
    await this.#copyFilesFrom(new StoreLayout(sourceDir), other);
    return this.#change(() => {
      const { sessions, report } = mergeSessions(this.#table.values(), other.sessions);
      const put = sessions.filter((s) => this.#table.get(s.id) !== s);
      const issues = other.issues.filter((i) => !this.#table.issue(i.number));
      const record = put.length > 0 || issues.length > 0 ? { put, issues } : null;
      return { record, value: report };
    });
  }

  /*
   * Logs and transcripts only grow, so when both stores hold one the longer copy is the newer.
   * A patch is copied only when it matches the digest its own store recorded.
   */
  async #copyFilesFrom(from: StoreLayout, other: { sessions: DiskSession[] }): Promise<void> {
    // Listing each folder once keeps a merge of large stores from probing a file per session.
    const [logs, patches, transcripts] = await Promise.all([
      listRealDir(from.logs),
      listRealDir(from.patches),
      listRealDir(from.transcripts),
    ]);
    const copy = async (src: string, dst: string, dir: string, check?: (b: Buffer) => void) => {
      const data = await readFileNoFollow(src);
      if (data === null) return;
      check?.(data);
      const mine = await lstatOrNull(dst);
      if (mine?.isFile() && mine.size >= data.length) return;
      await ensureRealDir(dir);
      await writeFileAtomic(dst, data);
    };
    const conversations = new Set<string>();
    for (const s of other.sessions) {
      for (const id of claudeSessionIds(s)) conversations.add(id);
      if (logs.has(`${s.id}.log`))
        await copy(from.log(s.id), this.#paths.log(s.id), this.#paths.logs);
      if (patches.has(`${s.id}.patch`)) {
        const patch = s.patch;
        await copy(from.patch(s.id), this.#paths.patch(s.id), this.#paths.patches, (data) => {
          const problem = patchProblem(data, patch);
          if (problem) throw new PatchDigestError(s.id, from.patch(s.id), problem);
        });
      }
    }
    for (const id of conversations) {
      if (transcripts.has(`${id}.jsonl`))
        await copy(from.transcript(id), this.#paths.transcript(id), this.#paths.transcripts);
    }
  }

  /* ---------- logs ---------- */

  /** `logs/{uuid}.log`; the id is validated first so it can never name a path outside the store. */
  logPath(id: string): string {
    return this.#paths.log(id);
  }

  async appendLog(id: string, text: string): Promise<void> {
    const file = this.#paths.log(id);
    await ensureRealDir(this.#paths.logs);
    await appendFileNoFollow(file, text);
  }

  /** The session's log, or "" when nothing was written yet. */
  async readLog(id: string): Promise<string> {
    await this.getSession(id);
    return (await readFileNoFollow(this.#paths.log(id)))?.toString("utf8") ?? "";
  }

  /* ---------- transcripts and patches ---------- */

  /** Keep a copy of a Claude conversation, so a later job (or machine) can resume it. */
  async writeTranscript(claudeSessionId: string, text: string): Promise<void> {
    const file = this.#paths.transcript(claudeSessionId);
    await ensureRealDir(this.#paths.transcripts);
    await writeFileAtomic(file, text);
  }

  /** The stored copy of a Claude conversation, or null when the store has none. */
  async readTranscript(claudeSessionId: string): Promise<string | null> {
    return (
      (await readFileNoFollow(this.#paths.transcript(claudeSessionId)))?.toString("utf8") ?? null
    );
  }

  /**
   * Keep a session's changes as a patch (jobs that do not push carry their work this way) and
   * record its digest on the session, so `readPatch` can tell it from one changed afterwards.
   */
  async writePatch(sessionId: string, text: string): Promise<{ sha256: string; bytes: number }> {
    const file = this.#paths.patch(sessionId);
    const data = Buffer.from(text, "utf8");
    const info = { sha256: sha256Hex(data), bytes: data.length };
    return this.#exclusive(async () => {
      const session = this.#require(sessionId);
      await ensureRealDir(this.#paths.patches);
      await writeFileAtomic(file, data);
      await this.#commit({ put: [{ ...session, patch: info, updated_at: this.#now() }] });
      return info;
    });
  }

  /**
   * A session's patch, verified against the digest the store recorded when it wrote it; null
   * when the session has none. Throws PatchDigestError for anything else.
   */
  async readPatch(sessionId: string): Promise<string | null> {
    const file = this.#paths.patch(sessionId);
    return this.#exclusive(async () => {
      const recorded = this.#require(sessionId).patch;
      const data = await readFileNoFollow(file);
      if (data === null) {
        if (recorded) throw new PatchDigestError(sessionId, file, "is missing");
        return null;
      }
      const problem = patchProblem(data, recorded);
      if (problem) throw new PatchDigestError(sessionId, file, problem);
      return data.toString("utf8");
    });
  }

  /* ---------- issues ---------- */

  /**
   * Keep the issue's title and body as the first phase saw them. The first capture of an issue
   * wins: later calls return it unchanged, so editing the issue between jobs changes nothing.
   */
  async captureIssue(input: IssueInput): Promise<IssueSnapshot> {
    const data = parseInput(IssueInputSchema, input, "issue");
    return this.#change(() => {
      const existing = this.#table.issue(data.number);
      if (existing) return { record: null, value: issueFromDisk(existing) };
      const snapshot: DiskIssueSnapshot = { ...data, captured_at: this.#now() };
      return { record: { issues: [snapshot] }, value: issueFromDisk(snapshot) };
    });
  }

  async issueSnapshot(issueNumber: number): Promise<IssueSnapshot | null> {
    return this.#read(() => {
      const found = this.#table.issue(issueNumber);
      return found ? issueFromDisk(found) : null;
    });
  }

  /* ---------- lifecycle ---------- */

  /** Write the whole state to `sessions.json` and start a fresh journal. */
  async compact(): Promise<void> {
    await this.#exclusive(() => this.#compactLocked());
  }

  /**
   * Stop accepting calls. A small store is compacted first, so `sessions.json` alone holds
   * everything at rest (the file the seed and people read); a large one keeps its journal, which
   * every reader of ours folds in, until it passes `compactAfterBytes` or `compact()` is called.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#exclusive(async () => {
      const journal = this.#journal;
      if (journal && this.#offset > journal.headerBytes) {
        const size = Number(fileStamp(this.file)?.size ?? 0) + this.#offset;
        if (size <= this.#options.compactOnCloseBytes) await this.#compactLocked();
      }
      this.#closeJournal();
      this.#closed = true;
    }, "summary");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /* ---------- internals ---------- */

  /** Every session. Only calls that caught up with `need` "table" (the default) read it. */
  get #table(): SessionTable {
    if (this.#state?.kind === "table") return this.#state.table;
    throw new Error("internal: the session table was read before it was loaded");
  }

  readonly #lookup = (id: string): DiskSession | undefined => this.#table.get(id);

  #now(): string {
    return this.#options.now().toISOString();
  }

  #require(id: string): DiskSession {
    assertSessionId(id);
    const session = this.#table.get(id);
    if (!session) throw new SessionNotFoundError(id, this.file);
    return session;
  }

  #check(session: DiskSession, action: Action): void {
    const rule = TRANSITIONS[action];
    if (!(rule.from as readonly SessionStatus[]).includes(session.status)) {
      throw new IllegalTransitionError(session.id, session.status, action, HINTS[action]);
    }
  }

  *#roots(): Generator<DiskSession> {
    for (const s of this.#table.values()) {
      if (s.parent_session === null || !this.#table.has(s.parent_session)) yield s;
    }
  }

  #result(input: z.output<typeof resultSchema>, now: string): DiskAgentResult {
    return resultToDisk({
      ...input,
      usage: input.usage ?? null,
      finishedAt: input.finishedAt ?? now,
    });
  }

  #patchContext(
    base: DiskSessionContext,
    patch: z.output<typeof ContextPatchSchema>,
    inherited: DiskAgentResult[],
    now: string,
  ): DiskSessionContext {
    return {
      ...base,
      issue_number: patch.issueNumber === undefined ? base.issue_number : patch.issueNumber,
      current_phase: patch.currentPhase ?? base.current_phase,
      worktree_path: patch.worktreePath === undefined ? base.worktree_path : patch.worktreePath,
      previous_results: patch.previousResults
        ? patch.previousResults.map((r) => this.#result(r, now))
        : inherited,
    };
  }

  #newSession(args: {
    agentName: string;
    purpose: string;
    context: DiskSessionContext;
    parent?: string | null;
    now: string;
  }): DiskSession {
    return {
      id: newSessionId(),
      agent_name: args.agentName,
      purpose: args.purpose,
      context: args.context,
      created_at: args.now,
      status: "Active",
      parent_session: args.parent ?? null,
      child_sessions: [],
      handoff_to: null,
      error_message: null,
      updated_at: args.now,
      ended_at: null,
      result: null,
      process: null,
      retry_of: null,
      patch: null,
    };
  }

  async #finish(
    id: string,
    action: "complete" | "fail",
    change: { result: z.output<typeof resultSchema> | undefined; error?: string },
  ): Promise<Session> {
    return this.#change(() => {
      const session = this.#require(id);
      this.#check(session, action);
      const now = this.#now();
      const updated: DiskSession = {
        ...session,
        status: TRANSITIONS[action].to,
        result: change.result ? this.#result(change.result, now) : session.result,
        error_message: change.error ?? session.error_message,
        updated_at: now,
        ended_at: now,
      };
      return { record: { put: [updated] }, value: sessionFromDisk(updated) };
    });
  }

  /** Run a change: `build` validates against the current state and says what to write. */
  async #change<T>(
    build: () => { record: JournalRecord | null; value: T },
    need: Need = "table",
  ): Promise<T> {
    return this.#exclusive(async () => {
      const { record, value } = build();
      if (record) await this.#commit(record);
      return value;
    }, need);
  }

  /**
   * A read. When nothing is queued on this instance and neither file changed since we last
   * caught up (two lstat calls), memory is current: answer without the lock. Otherwise catch up
   * under the lock like any call.
   */
  async #read<T>(fn: () => T, need: Need = "table"): Promise<T> {
    if (this.#busy === 0 && this.#has(need) && !this.#closed && this.#unchanged()) return fn();
    return this.#exclusive(fn, need);
  }

  #has(need: Need): boolean {
    return need === "summary" ? this.#state !== null : this.#state?.kind === "table";
  }

  /**
   * Run `fn` under the lock, caught up with the files. `need` says what `fn` reads: "table",
   * every session; "summary", only what a lazily opened store holds (stats and running
   * sessions), so a large store's sessions.json is not parsed for it.
   */
  async #exclusive<T>(fn: () => T | Promise<T>, need: Need = "table"): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.#closed) throw new StoreClosedError(this.dir);
      const release = await this.#lock.acquire();
      try {
        await this.#sync(need);
        return await fn();
      } finally {
        release();
      }
    };
    this.#busy += 1;
    const result = this.#queue.then(run, run).finally(() => {
      this.#busy -= 1;
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #unchanged(): boolean {
    const json = fileStamp(this.file);
    const journal = fileStamp(this.journalFile);
    return sameStamp(json, this.#jsonStamp) && sameStamp(journal, this.#journal?.stamp ?? null);
  }

  /**
   * Catch up with the files, under the lock: nothing to do when neither changed; replay only
   * the new records when the journal grew; reload when someone compacted, or when `need` asks
   * for every session and only the summary is in memory.
   */
  async #sync(need: Need): Promise<void> {
    const json = fileStamp(this.file);
    const caughtUp =
      this.#state !== null &&
      sameStamp(json, this.#jsonStamp) &&
      this.#catchUpJournal() &&
      this.#has(need);
    if (caughtUp) return;
    const stale = await this.#reload(need);
    // A large sessions.json a lazy open could not skip was just read in full. So that later
    // commands open it lazily instead of paying that every time: our own bytes in a new place
    // (a restored cache, a copy) get a journal header naming the file as it is now; anything
    // else (the seed's file, one edited, a journal an older release wrote) is compacted.
    if (stale && this.#takesOver()) {
      if (stale.restamp) await this.#restampLocked(stale.restamp);
      else await this.#compactLocked();
    }
  }

  /** Replay what was appended to the journal since we last read it; false when that cannot do. */
  #catchUpJournal(): boolean {
    const journal = this.#journal;
    const now = fileStamp(this.journalFile);
    if (!journal || !now) return !journal && !now;
    if (now.ino !== journal.stamp.ino) return false;
    if (sameStamp(now, journal.stamp)) return true;
    if (now.size < BigInt(this.#offset)) return false;
    const data = Buffer.alloc(Number(now.size) - this.#offset);
    readFully(journal.fd, data, this.#offset, this.journalFile);
    const { records, consumed } = decodeRecords(data, this.#offset, this.journalFile);
    // A record an older release wrote has no stats change to fold: the summary is lost.
    for (const r of records) if (!this.#apply(r)) return false;
    this.#offset += consumed;
    journal.stamp = now;
    return true;
  }

  #apply(record: JournalRecord): boolean {
    const state = this.#state;
    if (state?.kind === "table") {
      state.table.apply(record);
      return true;
    }
    return state?.kind === "summary" && state.summary.fold(record);
  }

  /** Whether this store may rewrite sessions.json: large, and in a folder we may write. */
  #takesOver(): boolean {
    const size = Number(fileStamp(this.file)?.size ?? 0);
    if (size <= this.#options.compactOnCloseBytes) return false;
    try {
      fs.accessSync(this.dir, fs.constants.W_OK);
      return true;
    } catch (error) {
      if (isErrno(error, "EACCES") || isErrno(error, "EROFS")) return false;
      throw error;
    }
  }

  /** Load the store from its files; says whether a later lazy open could skip sessions.json. */
  async #reload(need: Need): Promise<LoadedFiles<State>["stale"]> {
    this.#closeJournal();
    this.#state = null;
    // A small store is read whole: close() compacts it after a change, which needs every
    // session, and reading it twice would cost more than skipping it saves.
    const size =
      Number(fileStamp(this.file)?.size ?? 0) + Number(fileStamp(this.journalFile)?.size ?? 0);
    const loaded = await loadStoreFiles(new StoreLayout(this.dir), {
      keepOpen: true,
      lazy: need === "summary" && size > this.#options.compactOnCloseBytes,
    });
    this.#extra = loaded.extra;
    this.#state = loaded.state;
    this.#jsonStamp = loaded.jsonStamp;
    this.#offset = loaded.journal?.end ?? 0;
    this.#journal = loaded.journal
      ? {
          fd: loaded.journal.fd,
          generation: loaded.journal.generation,
          headerBytes: loaded.journal.headerBytes,
          stamp: loaded.journal.stamp,
        }
      : null;
    return loaded.stale;
  }

  #closeJournal(): void {
    if (this.#journal) fs.closeSync(this.#journal.fd);
    this.#journal = null;
  }

  /*
   * One record: cut a torn tail if a crash left one, write at the end of the last intact
   * record, fdatasync, then apply to memory. The journal is already open and the lock is one
   * symlink call, so a change costs little more than the fdatasync itself.
   */
  async #commit(change: JournalRecord): Promise<void> {
    const state = this.#state;
    // A store opened lazily only makes changes to new sessions (create) and running ones
    // (reconciliation), whose state before the change the summary holds.
    const before =
      state?.kind === "summary"
        ? (id: string) => state.summary.running.get(id)
        : (id: string) => this.#table.get(id);
    const record = { ...change, stats: statsDelta(change.put ?? [], change.del ?? [], before) };
    const journal =
      this.#journal ??
      // Without a sessions.json the state is the table alone, so the header can summarize it.
      (await this.#newJournal(
        null,
        this.#jsonStamp === null ? summarize(this.#table.values()) : null,
      ));
    const line = encodeRecord(record);
    if (journal.stamp.size !== BigInt(this.#offset)) fs.ftruncateSync(journal.fd, this.#offset);
    writeFully(journal.fd, line, this.#offset);
    await fdatasync(journal.fd);
    this.#offset += line.length;
    journal.stamp = stampOf(fs.fstatSync(journal.fd, { bigint: true }));
    this.#apply(record);
    if (this.#offset >= this.#options.compactAfterBytes) await this.#compactLocked();
  }

  /**
   * Start a new generation of the journal; `base` stamps the sessions.json just written,
   * `summary` (when known) is the state the journal starts from.
   */
  async #newJournal(
    base: BaseStamp | null,
    summary: StoreSummary | null,
    records: Buffer = Buffer.alloc(0),
  ): Promise<OpenJournal> {
    const generation = randomUUID();
    const header = Buffer.from(headerLine(generation, base, summary), "utf8");
    await writeFileAtomic(this.journalFile, Buffer.concat([header, records]));
    this.#closeJournal();
    const fd = openJournalFd(this.journalFile);
    const journal = {
      fd,
      generation,
      headerBytes: header.length,
      stamp: stampOf(fs.fstatSync(fd, { bigint: true })),
    };
    this.#journal = journal;
    this.#offset = header.length + records.length;
    return journal;
  }

  /*
   * The same journal records under a header that names sessions.json as it is now. The records
   * are copied as they are and the file replaced atomically, so a crash leaves either journal,
   * both describing the same state.
   */
  async #restampLocked(restamp: { base: BaseStamp; summary: StoreSummary }): Promise<void> {
    const journal = this.#journal;
    const json = this.#jsonStamp;
    if (!journal || !json) return;
    const records = Buffer.alloc(this.#offset - journal.headerBytes);
    readFully(journal.fd, records, journal.headerBytes, this.journalFile);
    await this.#newJournal(
      { ...restamp.base, identity: identityOf(json) },
      restamp.summary,
      records,
    );
  }

  /*
   * sessions.json is replaced first and the journal second. A crash between the two leaves the
   * new sessions.json with the old journal, whose records are upserts already contained in it,
   * so replaying them changes nothing (and the old header's stamp no longer matches, so that
   * sessions.json is fully validated on the next open).
   */
  async #compactLocked(): Promise<void> {
    if (this.#state?.kind !== "table") await this.#reload("table");
    const table = this.#table;
    const data = Buffer.from(
      serializeDocument(table.values(), table.issues(), this.#extra),
      "utf8",
    );
    await writeFileAtomic(this.file, data);
    const written = fileStamp(this.file);
    this.#jsonStamp = written;
    const identity = written ? identityOf(written) : undefined;
    await this.#newJournal({ ...baseStamp(data), identity }, summarize(table.values()));
  }
}

interface OpenJournal {
  fd: number;
  generation: string;
  headerBytes: number;
  stamp: Stamp;
}

type Need = "table" | "summary";

/**
 * Whether sessions.json is, untouched, the file the journal's header describes: the one our
 * compaction wrote (same identity), or none when the header was written without one.
 */
function describes(header: JournalRead, json: Stamp | null): boolean {
  if (!header.base) return json === null;
  const recorded = header.base.identity;
  return recorded !== undefined && json !== null && hasIdentity(json, recorded);
}

function sameStamp(a: Stamp | null, b: Stamp | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function openJournalFd(file: string): number {
  try {
    return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
  } catch (error) {
    if (isErrno(error, "ELOOP"))
      throw new UnsafePathError(file, "it is a symbolic link", { cause: error });
    // A store we may only read (a shared or restored copy): reading needs no write access.
    if (isErrno(error, "EACCES") || isErrno(error, "EROFS"))
      return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    throw error;
  }
}

function readFully(fd: number, into: Buffer, position: number, file: string): void {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, into.length - done, position + done);
    // Only a writer ignoring the lock can shrink the journal under us.
    if (n === 0) throw new StoreCorruptError(file, `it ended early at byte ${position + done}`);
    done += n;
  }
}

function writeFully(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length)
    done += fs.writeSync(fd, data, done, data.length - done, position + done);
}

const fdatasync = (fd: number) =>
  new Promise<void>((resolve, reject) =>
    fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())),
  );

/**
 * Read a store directory: the journal, then sessions.json (trusted without a schema pass when
 * the journal header's stamp says our compaction wrote exactly these bytes) with the journal's
 * records replayed over it. With `lazy`, when the header's summary describes sessions.json as
 * it is and every record carries its stats change, sessions.json is not read at all: the state
 * is the summary with the journal folded in. With `keepOpen` the journal's descriptor is
 * returned open, for the store to keep.
 */
async function loadStoreFiles(
  paths: StoreLayout,
  options: { keepOpen: boolean; lazy: false },
): Promise<LoadedFiles<TableState>>;
async function loadStoreFiles(
  paths: StoreLayout,
  options: { keepOpen: boolean; lazy: boolean },
): Promise<LoadedFiles<State>>;
async function loadStoreFiles(
  paths: StoreLayout,
  options: { keepOpen: boolean; lazy: boolean },
): Promise<LoadedFiles<State>> {
  let fd: number | null = null;
  try {
    const jsonStamp = fileStamp(paths.file);
    let journal = null;
    let read: JournalRead | null = null;
    try {
      fd = openJournalFd(paths.journal);
    } catch (error) {
      if (!isErrno(error, "ENOENT")) throw error;
    }
    if (fd !== null) {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw new UnsafePathError(paths.journal, "it is not a regular file");
      const data = Buffer.alloc(Number(st.size));
      readFully(fd, data, 0, paths.journal);
      read = parseJournal(data, paths.journal);
      journal = {
        fd,
        generation: read.generation,
        headerBytes: data.indexOf(0x0a) + 1,
        end: read.end,
        stamp: stampOf(st),
      };
    }
    const keep = <T>(result: T): T => {
      if (!options.keepOpen && fd !== null) {
        fs.closeSync(fd);
        journal = null;
      }
      fd = null;
      return result;
    };
    const summary = read ? summaryOf(read, jsonStamp) : null;
    if (options.lazy && summary) {
      return keep({
        state: { kind: "summary", summary },
        extra: {},
        jsonStamp,
        journal,
        stale: null,
      });
    }
    const bytes = await readDocumentBytes(paths.file);
    const trusted =
      bytes !== null &&
      read?.base != null &&
      read.base.bytes === bytes.length &&
      read.base.crc32 === baseStamp(bytes).crc32;
    const doc = bytes === null ? null : parseDocumentBytes(bytes, paths.file, trusted);
    const table = SessionTable.from(doc?.sessions ?? [], doc?.issues ?? []);
    if (doc && table.size !== doc.sessions.length) {
      const seen = new Set<string>();
      const twice = doc.sessions.find((s) => seen.size === seen.add(s.id).size);
      throw new StoreCorruptError(paths.file, `session ${twice?.id} appears twice`);
    }
    for (const r of read?.records ?? []) table.apply(r);
    return keep({
      state: { kind: "table", table },
      extra: extraFields(doc),
      jsonStamp,
      journal,
      stale:
        bytes === null || summary
          ? null
          : { restamp: trusted && read ? restampOf(read, jsonStamp) : null },
    });
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

type TableState = { kind: "table"; table: SessionTable };
type State = TableState | { kind: "summary"; summary: SummaryView<DiskSession> };

interface LoadedFiles<S extends State> {
  state: S;
  extra: Record<string, unknown>;
  jsonStamp: Stamp | null;
  journal: {
    fd: number;
    generation: string;
    headerBytes: number;
    end: number;
    stamp: Stamp;
  } | null;
  /**
   * Null when a lazy open can skip sessions.json (or there is none). Otherwise: `restamp` when
   * the file is byte for byte the one the header stamps and only its identity changed (copied,
   * restored from a cache), so a header naming it anew is enough; null there when it must be
   * compacted (a file we did not write, a journal an older release wrote).
   */
  stale: { restamp: { base: BaseStamp; summary: StoreSummary } | null } | null;
}

/**
 * The header's summary with every record folded in, when the header describes sessions.json
 * as it is now and every record carries its stats change; otherwise null.
 */
function summaryOf(read: JournalRead, json: Stamp | null): SummaryView<DiskSession> | null {
  if (!read.summary || !describes(read, json)) return null;
  const summary = new SummaryView(read.summary);
  return read.records.every((r) => summary.fold(r)) ? summary : null;
}

/** What a new header needs when only sessions.json's identity keeps `read` from describing it. */
function restampOf(
  read: JournalRead,
  json: Stamp | null,
): { base: BaseStamp; summary: StoreSummary } | null {
  if (!read.base || !read.summary || !json) return null;
  const summary = new SummaryView(read.summary);
  // Records without a stats change (an older release's) cannot be folded: compact instead.
  if (!read.records.every((r) => summary.fold(r))) return null;
  return { base: read.base, summary: read.summary };
}

/** Everything a store directory holds, its journal included, without locking or writing it. */
async function readStoreDir(
  dir: string,
): Promise<{ sessions: DiskSession[]; issues: DiskIssueSnapshot[] }> {
  const paths = new StoreLayout(dir);
  const loaded = await loadStoreFiles(paths, { keepOpen: false, lazy: false });
  const { table } = loaded.state;
  if (loaded.jsonStamp === null && table.size === 0 && fileStamp(paths.journal) === null)
    throw new StoreNotFoundError(paths.dir);
  return { sessions: [...table.values()], issues: [...table.issues()] };
}

/** The names in a store sub-folder; none when it is missing. A link in its place is refused. */
async function listRealDir(dir: string): Promise<Set<string>> {
  const stat = await lstatOrNull(dir);
  if (!stat) return new Set();
  if (stat.isSymbolicLink()) throw new UnsafePathError(dir, "it is a symbolic link");
  if (!stat.isDirectory()) throw new UnsafePathError(dir, "it is not a directory");
  return new Set(await fsp.readdir(dir));
}

/** The Claude conversations a session names (its own run and the results it inherited). */
function claudeSessionIds(s: DiskSession): string[] {
  const ids: string[] = [];
  for (const r of [s.result, ...s.context.previous_results]) {
    const id = r?.claude_session_id;
    // Ids read from a store are data: only a well-formed one may become a file name.
    if (id && isClaudeSessionId(id)) ids.push(id);
  }
  return ids;
}

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Why `data` is not the patch whose digest was recorded, or null when it is. */
function patchProblem(
  data: Buffer,
  recorded: { sha256: string; bytes: number } | null,
): string | null {
  if (!recorded) return "has no digest recorded in the store";
  if (data.length !== recorded.bytes || sha256Hex(data) !== recorded.sha256)
    return "does not match the digest recorded when the store wrote it";
  return null;
}
