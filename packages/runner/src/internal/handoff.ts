import path from "node:path";
import type { Phase, Session, SessionStore } from "@miyabi/core";
import { checkSandbox } from "./agent.js";
import { HandoffError } from "./errors.js";
import { resolveClaude } from "./executable.js";
import { requireDirectory } from "./plan.js";
import { renderPrompt } from "./prompts.js";
import { type ProgressEvent, runSession } from "./session-run.js";
import { type ClaudeSettings, type HandoffMode, mergeSettings } from "./settings.js";
import { sessionCommitter } from "./worktree.js";

export interface HandoffRunOptions {
  store: SessionStore;
  /** The session to hand off (Active or Completed). */
  from: string;
  toAgent: string;
  purpose?: string;
  /** The new session's phase; default: the parent's. */
  phase?: Phase;
  /** fresh, or continue the parent's Claude conversation (resume) or a copy of it (fork). */
  mode: HandoffMode;
  claude: ClaudeSettings;
  /** Where the agent works; default: the parent's worktree_path, relative to `baseDir`. */
  cwd?: string;
  /** What a relative worktree_path is relative to; default: this process's directory. */
  baseDir?: string;
  /** Default: the new session's phase template with its purpose as the task. */
  prompt?: string;
  /** Commit the agent's changes in `cwd` (a WIP commit when it fails). */
  commit?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

/**
 * Hand a session over to another agent and run it. Everything the run needs (the CLI, the
 * directory, the conversation to continue) is checked before the handoff is recorded, so a
 * refusal leaves the store as it was; whatever fails after that fails the new session with the
 * cause (never leaving it Active), and `retry` runs it again.
 */
export async function handoffAndRun(options: HandoffRunOptions): Promise<Session> {
  const { store } = options;
  const parent = await store.getSession(options.from);
  if (parent.status !== "Active" && parent.status !== "Completed") {
    throw new HandoffError(
      `Session ${parent.id} is ${parent.status}; only Active or Completed sessions can be handed off${parent.status === "Failed" ? " (retry a Failed one instead)" : ""}.`,
    );
  }
  const settings = mergeSettings({ settings: options.claude });
  const executable = await resolveClaude(
    settings.executable,
    settings.env.PATH ?? process.env.PATH,
  );
  await checkSandbox(settings);
  const cwd =
    options.cwd ??
    path.resolve(options.baseDir ?? process.cwd(), parent.context.worktreePath ?? ".");
  await requireDirectory(cwd);
  const resumeFrom = parent.result?.claudeSessionId ?? null;
  if (options.mode !== "fresh") {
    const stored = resumeFrom ? await store.readTranscript(resumeFrom) : null;
    if (stored === null) {
      throw new HandoffError(
        `Session ${parent.id} has no Claude conversation in the store to ${options.mode}${resumeFrom ? ` (transcript of ${resumeFrom} missing)` : ""}; hand off with --mode fresh instead.`,
      );
    }
  }

  const childId = await store.handoff(parent.id, {
    toAgent: options.toAgent,
    purpose: options.purpose,
    context: options.phase ? { currentPhase: options.phase } : {},
  });
  const child = await store.getSession(childId);
  const prompt =
    options.prompt ??
    renderPrompt({
      agent: child.agentName,
      phase: child.context.currentPhase,
      issue: { number: child.context.issueNumber ?? 0, title: child.purpose, body: "" },
      previousResults: child.context.previousResults,
    });
  const commit = sessionCommitter(cwd, { allowProtectedPaths: settings.allowProtectedPaths });
  return runSession({
    store,
    sessionId: childId,
    executable,
    prompt,
    settings,
    cwd,
    mode: options.mode,
    resumeFrom,
    onProgress: options.onProgress,
    signal: options.signal,
    commit: options.commit ? (wip) => commit(child, wip) : undefined,
  });
}
