import fs from "node:fs/promises";
import path from "node:path";
import type { Phase, Session, SessionStore } from "@miyabi/core";
import {
  abortOnProcessSignals,
  type ClaudeSettings,
  checkSandbox,
  ensureIssueWorktree,
  type HandoffMode,
  handoffAndRun,
  loadPipeline,
  type PipelineRun,
  renderPrompt,
  resolveClaude,
  resolveSettings,
  runPipeline,
  runSession,
  sanitizeUserText,
  sessionCommitter,
} from "@miyabi/runner";
import type { PipelineFlags, RunFlags } from "./agent-commands.js";
import type { ClaudeFlags } from "./claude-options.js";
import { type CommandContext, withStore } from "./context.js";
import { paintStatus } from "./format.js";
import { progressPrinter } from "./progress.js";
import { elapsed, plural } from "./text.js";

export function claudeSettings(flags: ClaudeFlags): ClaudeSettings {
  return {
    executable: flags.claude,
    model: flags.model,
    maxTurns: flags.maxTurns,
    timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 60_000,
    allowedTools: flags.allowedTools
      ?.split(",")
      .map((t) => t.trim())
      .filter(Boolean),
    permissionMode: flags.permissionMode as ClaudeSettings["permissionMode"],
    sandbox: flags.sandbox as ClaudeSettings["sandbox"],
  };
}

/** The pipeline stopped before a phase because the issue's budget is spent. */
const OVER_BUDGET_EXIT = 3;
/** The review gate ran out of rounds: a person decides (README, exit codes). */
const NEEDS_HUMAN_EXIT = 4;

/** Shell convention for a process ended by a signal: 128 + its number (130 for Ctrl-C). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Ctrl-C or SIGTERM during a run: the runner stops the agent's process tree and records the
 * session; the command then exits as a process killed by that signal would (130, 143).
 */
function interruption(ctx: CommandContext) {
  const interrupt = abortOnProcessSignals();
  const seen = (signal: keyof typeof SIGNAL_EXIT) => () => {
    ctx.exitCode = SIGNAL_EXIT[signal];
  };
  const onInt = seen("SIGINT");
  const onTerm = seen("SIGTERM");
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  return {
    signal: interrupt.signal,
    dispose: () => {
      interrupt.dispose();
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}

function printer(ctx: CommandContext) {
  return progressPrinter({
    write: ctx.io.errWrite,
    tty: ctx.io.errTty,
    columns: ctx.io.columns,
    quiet: ctx.globals().quiet,
  });
}

/** Run Claude for an Active session with live progress; returns the recorded session. */
async function runRecorded(
  ctx: CommandContext,
  store: SessionStore,
  args: {
    session: Session;
    prompt?: string;
    flags: ClaudeFlags;
    mode: HandoffMode;
    resumeFrom: string | null;
    /** Where Claude runs when it is not the recorded worktree path itself (a relative one). */
    cwd?: string;
    /** Commit the agent's changes in `cwd` after a successful run. */
    commit?: boolean;
  },
): Promise<Session> {
  const settings = resolveSettings(claudeSettings(args.flags));
  const executable = await resolveClaude(settings.executable);
  const { session } = args;
  const issue = { number: session.context.issueNumber ?? 0, title: session.purpose, body: "" };
  const fresh = () =>
    renderPrompt({
      agent: session.agentName,
      phase: session.context.currentPhase,
      issue,
      previousResults: session.context.previousResults,
    });
  const progress = printer(ctx);
  const interrupt = interruption(ctx);
  const cwd = args.cwd ?? session.context.worktreePath ?? process.cwd();
  const commitSession = sessionCommitter(cwd);
  try {
    return await runSession({
      store,
      sessionId: session.id,
      executable,
      prompt: args.prompt ?? fresh(),
      freshPrompt: fresh,
      settings,
      cwd,
      mode: args.mode,
      resumeFrom: args.resumeFrom,
      onProgress: progress.onProgress,
      signal: interrupt.signal,
      commit: args.commit ? (wip) => commitSession(session, wip) : undefined,
    });
  } finally {
    interrupt.dispose();
    progress.done();
  }
}

function outcomeLine(s: Session, color: boolean): string {
  const r = s.result;
  const figures = r
    ? ` (${plural(r.numTurns ?? 0, "turn")}, $${(r.totalCostUsd ?? 0).toFixed(4)}, ${elapsed(r.durationMs ?? 0)})`
    : "";
  // A finished agent whose tool calls were refused did not do all it was asked.
  const denied =
    r && r.permissionDenials.length > 0
      ? `, partial: denied ${r.permissionDenials.map((d) => `${d.tool} ×${d.count}`).join(", ")}`
      : "";
  const why = s.status === "Failed" ? `: ${s.errorMessage}` : "";
  return `${s.agentName} ${paintStatus(s.status, color)} ${s.id}${figures}${denied}${why}`;
}

function failed(ctx: CommandContext): void {
  // A signal's exit code (130, 143) says more than a plain failure.
  if (ctx.exitCode === 0) ctx.exitCode = 1;
}

export async function runCommand(ctx: CommandContext, o: RunFlags): Promise<void> {
  // Before the session is recorded: what makes the run impossible costs nothing.
  await resolveClaude(o.claude);
  await checkSandbox(resolveSettings(claudeSettings(o)));
  const repoDir = o.repo ?? process.cwd();
  const wt =
    o.issueWorktree && o.issue !== undefined
      ? await ensureIssueWorktree({ repoDir, issueNumber: o.issue })
      : undefined;
  const worktree = o.worktree ?? process.cwd();
  if (!wt) await fs.mkdir(worktree, { recursive: true });
  const session = await withStore(ctx, { create: true, repo: o.repo }, async (store) => {
    const id = await store.create({
      agentName: o.agent,
      purpose: o.purpose,
      context: {
        issueNumber: o.issue ?? null,
        currentPhase: o.phase,
        worktreePath: wt?.relativePath ?? worktree,
      },
    });
    return runRecorded(ctx, store, {
      session: await store.getSession(id),
      prompt: o.prompt,
      flags: o,
      mode: "fresh",
      resumeFrom: null,
      cwd: wt?.path,
      commit: wt !== undefined,
    });
  });
  ctx.print(session, () => outcomeLine(session, ctx.io.color));
  if (session.status !== "Completed") failed(ctx);
  else if (wt) ctx.hint(nextSteps(wt.branch, repoDir, session.context.issueNumber ?? 0));
}

/** What to do with the branch once the agents are done: push it and open the pull request. */
export function nextSteps(branch: string, repoDir: string, issue: number): string {
  const repo = path.relative(process.cwd(), repoDir) || ".";
  const git = repo === "." ? "git" : `git -C ${repo}`;
  return [
    "",
    `What next: the work is on branch ${branch}. Look at it, push it and open the pull request:`,
    `  ${git} log --stat ${branch}`,
    `  ${git} push -u origin ${branch}`,
    `  gh pr create --head ${branch} --fill --body "Closes #${issue}"`,
  ].join("\n");
}

export async function pipelineCommand(ctx: CommandContext, o: PipelineFlags): Promise<void> {
  const pipeline = await loadPipeline(o.config);
  await resolveClaude(o.claude);
  const repoDir = o.repo ?? process.cwd();
  // The issue's own worktree and branch: phases commit there, the main checkout stays clean.
  const wt = o.worktree
    ? await ensureIssueWorktree({
        repoDir,
        issueNumber: o.issue,
        allowDirty: o.allowDirty ?? false,
      })
    : undefined;
  if (wt) {
    ctx.hint(`Worktree ${wt.relativePath} on branch ${wt.branch}${wt.created ? " (new)" : ""}`);
  }
  const body = o.bodyFile ? await fs.readFile(o.bodyFile, "utf8") : o.body;
  const progress = printer(ctx);
  const interrupt = interruption(ctx);
  const { outcomes, done, overBudget, needsHuman }: PipelineRun = await withStore(
    ctx,
    { create: true, repo: o.repo },
    async (store) => {
      try {
        return await runPipeline({
          store,
          issue: { number: o.issue, title: o.title || `Issue #${o.issue}`, body },
          pipeline,
          from: o.from,
          // Sessions record the worktree relative to the repository's top, like the seed's.
          repoDir: wt ? path.resolve(wt.path, path.relative(wt.relativePath, ".")) : repoDir,
          worktree: wt?.relativePath,
          commit: wt !== undefined,
          claude: { ...claudeSettings(o), maxBudgetUsd: o.maxBudgetUsd },
          budgetUsd: o.budgetUsd,
          onProgress: progress.onProgress,
          signal: interrupt.signal,
        });
      } finally {
        interrupt.dispose();
        progress.done();
      }
    },
  );
  ctx.print(outcomes, () =>
    outcomes.length === 0 && done
      ? `Issue #${o.issue}: every step of pipeline ${pipeline.name} has run; nothing to do (name a step with --from to run it again).`
      : outcomes
          .map(
            (out) =>
              `${out.step.id}: ${out.sessions.map((s) => outcomeLine(s, ctx.io.color)).join("; ")}`,
          )
          .join("\n"),
  );
  if (outcomes.some((out) => out.status === "failed")) failed(ctx);
  else if (overBudget) {
    ctx.hint(
      `Spent $${overBudget.spentUsd.toFixed(4)} of the $${(overBudget.budgetUsd ?? 0).toFixed(4)} budget for issue #${o.issue}, so no phase was started; raise --budget-usd to continue.`,
    );
    ctx.exitCode = OVER_BUDGET_EXIT;
  } else if (needsHuman) {
    // Agent-written: one line per finding, control characters out.
    const findings = needsHuman.findings.map((f) => {
      const where = f.file ? `${f.file}${f.line === undefined ? "" : `:${f.line}`}: ` : "";
      return `  - ${sanitizeUserText(where + f.message).replace(/\s+/g, " ")}`;
    });
    ctx.hint(
      [
        `The review gate still asks for changes after ${needsHuman.maxRounds} round(s); a person must decide. Open findings:`,
        ...findings,
        "Fix them and run the review step again (--from review), or raise the step's gate.maxRounds.",
      ].join("\n"),
    );
    ctx.exitCode = NEEDS_HUMAN_EXIT;
  } else if (wt) ctx.hint(nextSteps(wt.branch, repoDir, o.issue));
}

/**
 * `handoff --run`: hand off and run Claude for the new session, continuing from the parent as
 * asked. Nothing is recorded when the run cannot start (missing CLI, directory or conversation).
 */
export async function runHandoff(
  ctx: CommandContext,
  store: SessionStore,
  args: {
    parentId: string;
    toAgent: string;
    purpose?: string;
    phase?: Phase;
    mode: HandoffMode;
    flags: ClaudeFlags;
  },
): Promise<Session> {
  const progress = printer(ctx);
  const interrupt = interruption(ctx);
  try {
    return await handoffAndRun({
      store,
      from: args.parentId,
      toAgent: args.toAgent,
      purpose: args.purpose,
      phase: args.phase,
      mode: args.mode,
      claude: claudeSettings(args.flags),
      onProgress: progress.onProgress,
      signal: interrupt.signal,
    });
  } finally {
    interrupt.dispose();
    progress.done();
  }
}
