import fs from "node:fs/promises";
import type { AgentResultInput, Outcome, Phase, Session, SessionStore } from "@miyabi/core";
import { type AgentRun, prepareAgentRun } from "./agent.js";
import { type ClaudeProcessResult, runClaudeProcess } from "./claude.js";
import { redact } from "./secrets.js";
import type { HandoffMode, ResolvedClaudeSettings } from "./settings.js";
import type { StreamEvent } from "./stream.js";
import { isClaudeSessionId, restoreTranscript, saveTranscript } from "./transcripts.js";
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
  /** After a successful run, before it is recorded: commit the agent's changes. */
  commit?: () => Promise<CommitResult>;
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

function judge(
  run: ClaudeProcessResult,
  settings: ResolvedClaudeSettings,
): { outcome: Outcome; error: string | null } {
  if (run.cancelled)
    return { outcome: "cancelled", error: "cancelled: the run was stopped before Claude finished" };
  if (run.timedOut) {
    const minutes = (settings.timeoutMs / 60_000).toFixed(1);
    return {
      outcome: "timeout",
      error: `timeout: Claude did not finish within ${minutes} min; its process tree was killed`,
    };
  }
  const r = run.result;
  if (r && !r.is_error && run.exitCode === 0) return { outcome: "success", error: null };
  if (r?.is_error) {
    const detail = (r.result ?? "").trim() || r.subtype;
    return { outcome: "failure", error: `Claude reported an error (${r.subtype}): ${detail}` };
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
 * Run Claude for an Active session and record how it went: Completed with its result, or
 * Failed with a reason. The session is never left Active once the process is gone.
 */
export async function runSession(options: RunSessionOptions): Promise<Session> {
  const { store, settings } = options;
  const session = await store.getSession(options.sessionId);
  const cwd = await fs.realpath(options.cwd);
  const agent = await prepareAgentRun({
    settings,
    executable: options.executable,
    cwd,
    storeDir: store.dir,
  });
  try {
    return await runPrepared(options, session, cwd, agent);
  } finally {
    await agent.close();
  }
}

async function runPrepared(
  options: RunSessionOptions,
  session: Session,
  cwd: string,
  agent: AgentRun,
): Promise<Session> {
  const { store, settings } = options;
  const { secrets, configDir } = agent;
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
  const note = async (message: string) => {
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
  } else if (options.mode !== "fresh" && options.resumeFrom) {
    const found = await restoreTranscript({
      storeDir: store.dir,
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
  const onEvent = (event: StreamEvent) => {
    if (event.kind === "init") emit("init", `Claude session ${event.claudeSessionId}`);
    else if (event.kind === "text") {
      turns += 1;
      emit("text", event.text.length > 200 ? `${event.text.slice(0, 197)}...` : event.text);
    } else if (event.kind === "tool") emit("tool", `tool: ${event.name}`);
    else if (event.kind === "result") {
      costUsd = event.line.total_cost_usd ?? null;
      turns = event.line.num_turns ?? turns;
      emit("result", `${event.line.is_error ? "error" : "done"} after ${turns} turns`);
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
    logFile: store.logPath(session.id),
    secrets,
    onEvent,
    onSpawn: async (pid) => {
      await store.setProcess(session.id, { pid, runnerPid: process.pid });
    },
  });
  const claudeSessionId = run.claudeSessionId ?? run.result?.session_id ?? null;
  if (claudeSessionId) {
    const saved = await saveTranscript({
      storeDir: store.dir,
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

  const reverted = await agent.revertProtected();
  if (reverted.length > 0)
    await note(
      `Reverted the agent's changes to protected paths (instructions and configuration come from the trusted base): ${reverted.join(", ")}`,
    );

  const { outcome, error } = judge(run, settings);
  const r = run.result;
  const result: AgentResultInput = {
    agent: session.agentName,
    phase: session.context.currentPhase,
    outcome,
    summary: redact((r?.result ?? run.lastText).slice(0, SUMMARY_LIMIT), secrets),
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
  };
  if (error === null) {
    const committed = await options.commit?.();
    const sha = committed?.sha;
    if (committed?.leftOut.length)
      await note(
        `Left out of the commit (protected paths; allow them by name with allowProtectedPaths): ${committed.leftOut.join(", ")}`,
      );
    if (sha) emit("note", `committed ${sha.slice(0, 12)}`);
    return store.complete(session.id, { ...result, commit: sha ?? null });
  }
  return store.fail(session.id, redact(error, secrets), result);
}
