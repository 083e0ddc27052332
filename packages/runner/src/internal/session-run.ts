import fs from "node:fs/promises";
import {
  type AgentResultInput,
  isClaudeSessionId,
  type Outcome,
  type PermissionDenial,
  type Phase,
  processStartTicks,
  type Session,
  type SessionStore,
} from "@miyabi/core";
import { type AgentRun, prepareAgentRun } from "./agent.js";
import { type ClaudeProcessResult, runClaudeProcess } from "./claude.js";
import { redact, secretValues } from "./secrets.js";
import type { HandoffMode, ResolvedClaudeSettings } from "./settings.js";
import type { ResultLine, StreamEvent } from "./stream.js";
import { restoreTranscript, saveTranscript } from "./transcripts.js";
import type { CommitResult } from "./worktree.js";

export interface ProgressEvent {
  sessionId: string;
  agent: string;
  phase: Phase;
  kind: "start" | "init" | "turn" | "tool" | "text" | "result" | "note";
  message: string;
  /** Assistant messages seen so far. */
  turns: number;
  costUsd: number | null;
  elapsedMs: number;
}

export interface RunSessionOptions {
  store: SessionStore;
  sessionId: string;
  /** Resolved absolute path of the CLI (see resolveClaude). */
  executable: string;
  prompt: string;
  /** Builds the prompt again for a fresh start when a resume is impossible. */
  freshPrompt?: () => string;
  settings: ResolvedClaudeSettings;
  cwd: string;
  mode: HandoffMode;
  /** The Claude conversation to continue (resume/fork). */
  resumeFrom?: string | null;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  /**
   * Before the run is recorded: commit the agent's changes (sha, or null when nothing changed).
   * `wip` is null after a finished run, else why the run failed (a work-in-progress commit).
   */
  commit?: (wip: string | null) => Promise<CommitResult>;
  /**
   * For a run Claude finished: why it still does not count (a gated step without a verdict),
   * or null. A reason fails the session with it.
   */
  check?: (result: ResultLine | undefined) => string | null;
}

const SUMMARY_LIMIT = 4000;

export function buildClaudeArgs(args: {
  settings: ResolvedClaudeSettings;
  prompt: string;
  resume?: { claudeSessionId: string; fork: boolean };
}): string[] {
  const s = args.settings;
  const argv = ["--print", "--output-format", "stream-json", "--verbose"];
  // `=` keeps variadic options (tools, MCP configs) from swallowing the arguments after them.
  if (s.model) argv.push(`--model=${s.model}`);
  if (s.maxTurns !== undefined) argv.push(`--max-turns=${s.maxTurns}`);
  if (s.allowedTools?.length) argv.push(`--allowedTools=${s.allowedTools.join(",")}`);
  if (s.disallowedTools?.length) argv.push(`--disallowedTools=${s.disallowedTools.join(",")}`);
  argv.push(`--permission-mode=${s.permissionMode}`);
  if (s.appendSystemPrompt) argv.push(`--append-system-prompt=${s.appendSystemPrompt}`);
  if (s.mcpConfig) argv.push(`--mcp-config=${s.mcpConfig}`);
  if (s.maxBudgetUsd !== undefined) argv.push(`--max-budget-usd=${s.maxBudgetUsd}`);
  if (args.resume) {
    argv.push(`--resume=${args.resume.claudeSessionId}`);
    if (args.resume.fork) argv.push("--fork-session");
  }
  argv.push(...s.extraArgs);
  // After `--` the prompt is never read as an option, even if it starts with "-".
  argv.push("--", args.prompt);
  return argv;
}

/** "1 turn", "2 turns". */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Denied calls per tool, in the order the tools were first denied. */
function tallyDenials(tools: readonly string[]): PermissionDenial[] {
  const counts = new Map<string, number>();
  for (const tool of tools) counts.set(tool, (counts.get(tool) ?? 0) + 1);
  return [...counts].map(([tool, count]) => ({ tool, count }));
}

/** "Write (2), Bash (1)". */
function describeDenials(denials: readonly PermissionDenial[]): string {
  return denials.map((d) => `${d.tool} (${d.count})`).join(", ");
}

function deniedNote(denials: readonly PermissionDenial[]): string {
  const total = denials.reduce((sum, d) => sum + d.count, 0);
  return `${plural(total, "tool call")} denied by Claude's permission rules: ${describeDenials(denials)}. The agent finished, but its work may be incomplete.`;
}

/** For messages that go on after quoting another: no "failed.." or "failed.;". */
function withoutFinalStop(text: string): string {
  return text.trim().replace(/[.\s]+$/, "");
}

function errnoOf(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message}` : error.message;
}

interface Verdict {
  outcome: Outcome;
  /** Why the run failed, cause first; null when the agent finished. */
  error: string | null;
}

function judge(
  run: ClaudeProcessResult,
  settings: ResolvedClaudeSettings,
  denials: readonly PermissionDenial[],
  logFile: string,
): Verdict {
  if (run.logError) {
    return {
      outcome: "failure",
      error: `The session log ${logFile} could not be written (${errnoOf(run.logError)}), so the run was stopped; free disk space and retry the session`,
    };
  }
  if (run.cancelled)
    return { outcome: "cancelled", error: "cancelled: the run was stopped before Claude finished" };
  if (run.timedOut) {
    const minutes = Number((settings.timeoutMs / 60_000).toFixed(1));
    return {
      outcome: "timeout",
      error: `timeout: Claude did not finish within ${plural(minutes, "minute")}; its process tree was killed`,
    };
  }
  const r = run.result;
  if (r && !r.is_error && run.exitCode === 0) {
    return { outcome: denials.length > 0 ? "partial" : "success", error: null };
  }
  if (r?.is_error) {
    // `subtype` says "success" even for API errors: only the specific subtypes are trusted.
    const detail = (r.result ?? "").trim() || (r.errors ?? []).map(String).join("; ");
    if (r.subtype === "error_max_turns") {
      const limit =
        settings.maxTurns === undefined ? "" : ` of ${plural(settings.maxTurns, "turn")}`;
      return {
        outcome: "failure",
        error: `Claude reached its turn limit${limit} before finishing; raise the limit (max turns) or narrow the task`,
      };
    }
    if (r.subtype === "error_max_budget_usd") {
      const limit = settings.maxBudgetUsd === undefined ? "" : ` of $${settings.maxBudgetUsd}`;
      return {
        outcome: "failure",
        error: `Claude reached its budget limit${limit} before finishing; raise the budget or narrow the task`,
      };
    }
    if (r.terminal_reason === "api_error" || typeof r.api_error_status === "number") {
      return {
        outcome: "failure",
        error: `The Claude API failed: ${detail || "no detail given"}`,
      };
    }
    return { outcome: "failure", error: `Claude failed: ${detail || "no detail given"}` };
  }
  const stderr = run.stderrTail.trim().split("\n").at(-1) ?? "";
  if (run.signal)
    return {
      outcome: "failure",
      error: `claude was killed by ${run.signal}${stderr ? `: ${stderr}` : ""}`,
    };
  if (run.exitCode !== 0) {
    return {
      outcome: "failure",
      error: `claude exited with code ${run.exitCode}${stderr ? `: ${stderr}` : ""}`,
    };
  }
  return { outcome: "failure", error: "claude exited without reporting a result" };
}

/**
 * Run Claude for an Active session and record how it went: Completed with its result (outcome
 * `success`, or `partial` when tool calls were denied), or Failed with the cause. Whatever goes
 * wrong, even after the agent ran (saving its transcript, committing, a full disk), the session
 * is never left Active: it is Failed with the cause and with the result the agent produced.
 */
export async function runSession(options: RunSessionOptions): Promise<Session> {
  const { store, sessionId } = options;
  const credential = options.settings.credential?.value;
  const secrets = [
    ...secretValues({ ...process.env, ...options.settings.env }),
    ...(credential ? [credential] : []),
  ];
  let ran: AgentResultInput | undefined;
  try {
    const cwd = await fs.realpath(options.cwd);
    const agent = await prepareAgentRun({
      settings: options.settings,
      executable: options.executable,
      cwd,
      storeDir: store.dir,
    });
    try {
      return await runAndRecord(options, cwd, agent, (result) => {
        ran = result;
      });
    } finally {
      await agent.close();
    }
  } catch (error) {
    // Only what we could not record ends up here: a session someone else ended is theirs.
    if ((await store.getSession(sessionId)).status !== "Active") throw error;
    const cause = withoutFinalStop(error instanceof Error ? error.message : String(error));
    const message = ran
      ? `Recording the agent's work failed after Claude finished: ${cause}. The agent's result is kept on this session; fix the cause and retry it`
      : `The run failed before Claude finished: ${cause}`;
    return store.fail(
      sessionId,
      redact(message, secrets),
      ran && {
        ...ran,
        outcome: ran.outcome === "success" || ran.outcome === "partial" ? "failure" : ran.outcome,
      },
    );
  }
}

async function runAndRecord(
  options: RunSessionOptions,
  cwd: string,
  agent: AgentRun,
  onResult: (result: AgentResultInput) => void,
): Promise<Session> {
  const { store, settings } = options;
  const session = await store.getSession(options.sessionId);
  const { secrets, configDir } = agent;
  const logFile = store.logPath(session.id);
  const started = Date.now();
  let turns = 0;
  let costUsd: number | null = null;
  const emit = (kind: ProgressEvent["kind"], message: string) =>
    options.onProgress?.({
      sessionId: session.id,
      agent: session.agentName,
      phase: session.context.currentPhase,
      kind,
      message: redact(message, secrets),
      turns,
      costUsd,
      elapsedMs: Date.now() - started,
    });
  // Once writing the log has failed, the failure is the run's recorded cause; notes then go
  // to the progress only, so a second write error cannot hide the first.
  let logBroken = false;
  const note = async (message: string) => {
    if (!logBroken)
      await store.appendLog(session.id, `${JSON.stringify({ type: "miyabi", note: message })}\n`);
    emit("note", message);
  };

  for (const message of agent.notes) await note(message);
  let prompt = options.prompt;
  let resume: { claudeSessionId: string; fork: boolean } | undefined;
  if (options.resumeFrom && !isClaudeSessionId(options.resumeFrom)) {
    // From a store that may have travelled through a cache: never a path or an argument.
    await note(
      `The recorded Claude session id ${JSON.stringify(options.resumeFrom.slice(0, 80))} is not a UUID; starting a fresh conversation instead of ${options.mode}.`,
    );
    prompt = options.freshPrompt?.() ?? prompt;
  } else if (options.mode !== "fresh" && !options.resumeFrom) {
    await note(`No earlier Claude conversation to ${options.mode}: starting a fresh one.`);
    prompt = options.freshPrompt?.() ?? prompt;
  } else if (options.mode !== "fresh" && options.resumeFrom) {
    const found = await restoreTranscript({
      store,
      configDir,
      cwd,
      claudeSessionId: options.resumeFrom,
    });
    if (found) {
      resume = { claudeSessionId: options.resumeFrom, fork: options.mode === "fork" };
    } else {
      await note(
        `The transcript of Claude session ${options.resumeFrom} is not on this machine or in the store; starting a fresh conversation with the earlier results instead of ${options.mode}.`,
      );
      prompt = options.freshPrompt?.() ?? prompt;
    }
  }

  emit(
    "start",
    `${session.agentName} started (${resume ? (resume.fork ? "fork" : "resume") : "fresh"})`,
  );
  const deniedTools: string[] = [];
  const onEvent = (event: StreamEvent) => {
    if (event.kind === "init") emit("init", `Claude session ${event.claudeSessionId}`);
    else if (event.kind === "text") {
      turns += 1;
      emit("text", event.text.length > 200 ? `${event.text.slice(0, 197)}...` : event.text);
    } else if (event.kind === "tool") emit("tool", `tool: ${event.name}`);
    else if (event.kind === "denied") {
      deniedTools.push(event.tool);
      emit("tool", `tool: ${event.tool} denied${event.reason ? ` (${event.reason})` : ""}`);
    } else if (event.kind === "result") {
      costUsd = event.line.total_cost_usd ?? null;
      turns = event.line.num_turns ?? turns;
      const denied = event.line.permission_denials?.length ?? deniedTools.length;
      const suffix = denied > 0 ? `, ${plural(denied, "tool call")} denied` : "";
      emit(
        "result",
        `${event.line.is_error ? "error" : "done"} after ${plural(turns, "turn")}${suffix}`,
      );
    }
  };
  const run = await runClaudeProcess({
    executable: agent.command,
    args: agent.args(buildClaudeArgs({ settings, prompt, resume })),
    cwd,
    env: agent.env,
    timeoutMs: settings.timeoutMs,
    killGraceMs: settings.killGraceMs,
    signal: options.signal,
    logFile,
    secrets,
    onEvent,
    onSpawn: async (pid) => {
      // Start times tell a reused pid from ours when an orphaned run is reconciled later.
      const [startTicks, runnerStartTicks] = await Promise.all([
        processStartTicks(pid),
        processStartTicks(process.pid),
      ]);
      await store.setProcess(session.id, {
        pid,
        runnerPid: process.pid,
        startTicks,
        runnerStartTicks,
      });
    },
  });
  logBroken = run.logError !== null;
  const r = run.result;
  const claudeSessionId = run.claudeSessionId ?? r?.session_id ?? null;
  // The result line is authoritative; the live lines count when the run ended without one.
  const denials = tallyDenials(r?.permission_denials?.map((d) => d.tool_name) ?? deniedTools);
  const judged = judge(run, settings, denials, logFile);
  const problem = judged.error === null ? (options.check?.(r ?? undefined) ?? null) : null;
  const { outcome, error } =
    problem === null ? judged : { outcome: "failure" as const, error: problem };
  const agentSummary = (r?.result ?? run.lastText).slice(0, SUMMARY_LIMIT);
  const summary =
    outcome === "partial" ? `${agentSummary}\n\n${deniedNote(denials)}`.trim() : agentSummary;
  const result: AgentResultInput = {
    agent: session.agentName,
    phase: session.context.currentPhase,
    outcome,
    summary: redact(summary, secrets),
    claudeSessionId,
    numTurns: r?.num_turns ?? null,
    totalCostUsd: r?.total_cost_usd ?? null,
    usage: r?.usage
      ? {
          inputTokens: r.usage.input_tokens ?? 0,
          outputTokens: r.usage.output_tokens ?? 0,
          cacheCreationInputTokens: r.usage.cache_creation_input_tokens ?? 0,
          cacheReadInputTokens: r.usage.cache_read_input_tokens ?? 0,
        }
      : null,
    durationMs: r?.duration_ms ?? run.wallMs,
    exitCode: run.exitCode,
    pid: run.pid,
    permissionDenials: denials,
  };
  onResult(result);
  if (outcome === "partial") emit("note", deniedNote(denials));

  const reverted = await agent.revertProtected();
  if (reverted.length > 0)
    await note(
      `Reverted the agent's changes to protected paths (instructions and configuration come from the trusted base): ${reverted.join(", ")}`,
    );
  if (claudeSessionId) {
    const saved = await saveTranscript({
      store,
      configDir,
      cwd,
      claudeSessionId,
      secrets,
    });
    if (!saved)
      await note(
        `Claude's transcript for ${claudeSessionId} was not found; a later resume will start fresh.`,
      );
  }

  const leftOut = async (committed: CommitResult) => {
    if (committed.leftOut.length > 0)
      await note(
        `Left out of the commit (protected paths; allow them by name with allowProtectedPaths): ${committed.leftOut.join(", ")}`,
      );
  };
  if (error === null) {
    const committed = await options.commit?.(null);
    if (committed) await leftOut(committed);
    const sha = committed?.sha ?? null;
    if (sha) emit("note", `committed ${sha.slice(0, 12)}`);
    return store.complete(session.id, { ...result, commit: sha });
  }
  const why = redact(error, secrets);
  // What the agent changed was paid for: keep it on the branch, marked as unfinished.
  let wip: string | null = null;
  let reason = why;
  if (options.commit) {
    try {
      const committed = await options.commit(why);
      await leftOut(committed);
      wip = committed.sha;
    } catch (commitError) {
      const cause = withoutFinalStop(
        commitError instanceof Error ? commitError.message : String(commitError),
      );
      reason = `${why}. Keeping the agent's changes as a work-in-progress commit failed too (${cause}); they are still in the worktree`;
    }
    if (wip)
      emit("note", `kept the agent's changes as work-in-progress commit ${wip.slice(0, 12)}`);
  }
  return store.fail(session.id, redact(reason, secrets), { ...result, commit: wip });
}
