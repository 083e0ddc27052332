import fs from "node:fs";
import { finished } from "node:stream/promises";
import { execa } from "execa";
import { redact } from "./secrets.js";
import {
  LineSplitter,
  MAX_LINE_LENGTH,
  parseStreamLine,
  type ResultLine,
  type StreamEvent,
} from "./stream.js";

export interface ClaudeProcessOptions {
  executable: string;
  args: string[];
  cwd: string;
  /** The whole environment: nothing of this process's is added. */
  env: Record<string, string>;
  timeoutMs: number;
  /** After SIGTERM, how long the process group gets before SIGKILL. */
  killGraceMs: number;
  signal?: AbortSignal;
  /** Raw stream-json lines are appended here as they arrive (secrets masked). */
  logFile: string;
  secrets: readonly string[];
  onEvent?: (event: StreamEvent) => void;
  onSpawn?: (pid: number) => Promise<void>;
}

export interface ClaudeProcessResult {
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  claudeSessionId: string | null;
  result: ResultLine | null;
  /** The last assistant text, for a summary when the result line is missing. */
  lastText: string;
  stderrTail: string;
  timedOut: boolean;
  cancelled: boolean;
  /**
   * Writing the log failed (ENOSPC, EIO...): the run was stopped, since what it does could no
   * longer be recorded.
   */
  logError: Error | null;
  wallMs: number;
}

const STDERR_TAIL = 4096;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // The child leads its own process group (detached), so -pid reaches its children too.
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * Run the Claude Code CLI once and follow its stream-json output to the end. Never throws for
 * what the process does (exit codes, timeouts, cancellation are in the result); only for
 * failing to start it at all.
 */
export async function runClaudeProcess(
  options: ClaudeProcessOptions,
): Promise<ClaudeProcessResult> {
  const started = Date.now();
  const log = fs.createWriteStream(options.logFile, { flags: "a" });
  let logError: Error | null = null;
  const writeLog = (line: string) => {
    if (!logError) log.write(`${redact(line, options.secrets)}\n`);
  };
  const subprocess = execa(options.executable, options.args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    stdin: "ignore",
    buffer: false,
    reject: false,
    detached: true,
    // Execa's own kill only reaches the child; we kill the whole group below.
    cleanup: false,
  });
  const pid = subprocess.pid ?? null;
  const out: ClaudeProcessResult = {
    pid,
    exitCode: null,
    signal: null,
    claudeSessionId: null,
    result: null,
    lastText: "",
    stderrTail: "",
    timedOut: false,
    cancelled: false,
    logError: null,
    wallMs: 0,
  };

  let graceTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  const stop = (reason: "timeout" | "cancel" | "log") => {
    if (pid === null || stopping) return;
    stopping = true;
    if (reason === "timeout") out.timedOut = true;
    else if (reason === "cancel") out.cancelled = true;
    killGroup(pid, "SIGTERM");
    graceTimer = setTimeout(() => killGroup(pid, "SIGKILL"), options.killGraceMs);
  };
  const timer = setTimeout(() => stop("timeout"), options.timeoutMs);
  const onAbort = () => stop("cancel");
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  // Without a listener a full disk would crash the whole runner with an unhandled 'error'.
  log.on("error", (error) => {
    logError ??= error;
    stop("log");
  });

  const stdout = new LineSplitter({
    onSkip: (length) =>
      writeLog(
        JSON.stringify({
          type: "miyabi",
          note: `skipped a stdout line of ${length} characters (longer than the ${MAX_LINE_LENGTH}-character bound)`,
        }),
      ),
  });
  const handleLine = (line: string) => {
    writeLog(line);
    for (const event of parseStreamLine(line) ?? []) {
      if (event.kind === "init") out.claudeSessionId = event.claudeSessionId;
      if (event.kind === "result") out.result = event.line;
      if (event.kind === "text") out.lastText = event.text;
      options.onEvent?.(event);
    }
  };
  subprocess.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    for (const line of stdout.push(chunk)) handleLine(line);
  });
  subprocess.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    out.stderrTail = (out.stderrTail + chunk).slice(-STDERR_TAIL);
    writeLog(JSON.stringify({ type: "stderr", text: chunk }));
  });

  // The CLI's exit does not end its output: a grandchild that left its process group (a
  // daemonised tool) can hold the pipe open for ever. After the exit it gets the grace, then
  // the pipes are cut.
  let cutTimer: NodeJS.Timeout | undefined;
  subprocess.once("exit", () => {
    cutTimer = setTimeout(() => {
      if (pid !== null) killGroup(pid, "SIGKILL");
      subprocess.stdout?.destroy();
      subprocess.stderr?.destroy();
    }, options.killGraceMs);
  });

  try {
    if (pid !== null) await options.onSpawn?.(pid);
    const finished = await subprocess;
    for (const line of stdout.flush()) handleLine(line);
    out.exitCode = finished.exitCode ?? null;
    out.signal = finished.signal ?? null;
    if (finished.failed && finished.exitCode === undefined && !finished.signal) {
      // Could not start at all (ENOENT, EACCES): that is the caller's error to report.
      throw finished;
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
    clearTimeout(cutTimer);
    options.signal?.removeEventListener("abort", onAbort);
    // Leave no stragglers behind (tools the CLI started and did not reap).
    if (pid !== null) killGroup(pid, "SIGKILL");
    log.end();
    await finished(log).catch((error: unknown) => {
      logError ??= error instanceof Error ? error : new Error(String(error));
    });
  }
  out.logError = logError;
  out.wallMs = Date.now() - started;
  return out;
}
