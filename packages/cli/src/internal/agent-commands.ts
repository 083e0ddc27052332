import fs from "node:fs/promises";
import path from "node:path";
import { InvalidInputError, type Phase, type Session, SessionStore } from "@miyabi/core";
import {
  abortOnProcessSignals,
  type ClaudeSettings,
  ensureIssueWorktree,
  HANDOFF_MODES,
  type HandoffMode,
  handoffAndRun,
  loadPipeline,
  renderPrompt,
  resolveClaude,
  resolveSettings,
  runPipeline,
  runSession,
  sessionCommitter,
} from "@miyabi/runner";
import { type Command, Option } from "commander";
import { type CommandContext, intArg, phaseOption, withStore } from "./context.js";
import { paintStatus } from "./format.js";
import { progressPrinter } from "./progress.js";

export interface ClaudeFlags {
  claude?: string;
  model?: string;
  maxTurns?: number;
  timeout?: number;
  allowedTools?: string;
  permissionMode?: string;
}

/** Options shared by every command that starts Claude. */
export function addClaudeOptions(cmd: Command): Command {
  return cmd
    .option("--claude <path>", "Claude Code CLI to run (default: claude on PATH)")
    .option("--model <model>", "model for the agent")
    .option("--max-turns <n>", "stop the agent after this many turns", intArg("--max-turns", 1))
    .option(
      "--timeout <minutes>",
      "kill the agent's process tree after this long",
      intArg("--timeout", 1),
    )
    .option(
      "--allowed-tools <list>",
      "comma-separated tools the agent may use, e.g. Read,Write,Edit",
    )
    .addOption(
      new Option("--permission-mode <mode>", "Claude permission mode").choices([
        "acceptEdits",
        "auto",
        "bypassPermissions",
        "manual",
        "dontAsk",
        "plan",
      ]),
    );
}

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
  };
}

/** Run Claude for an Active session with live progress; returns the recorded session. */
export async function runRecorded(
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
  const printer = progressPrinter({
    write: (t) => process.stderr.write(t),
    tty: process.stderr.isTTY === true,
  });
  const interrupt = abortOnProcessSignals();
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
      onProgress: printer.onProgress,
      signal: interrupt.signal,
      commit: args.commit ? (wip) => commitSession(session, wip) : undefined,
    });
  } finally {
    interrupt.dispose();
    printer.done();
  }
}

function outcomeLine(s: Session, color: boolean): string {
  const r = s.result;
  const figures = r
    ? ` (${r.numTurns ?? "?"} turns, $${(r.totalCostUsd ?? 0).toFixed(4)}, ${((r.durationMs ?? 0) / 1000).toFixed(1)}s)`
    : "";
  const why = s.status === "Failed" ? `: ${s.errorMessage}` : "";
  return `${s.agentName} ${paintStatus(s.status, color)} ${s.id}${figures}${why}`;
}

export function agentCommands(program: Command, ctx: CommandContext): void {
  addClaudeOptions(
    program
      .command("run")
      .description("record a new session and run Claude Code for it headlessly")
      .requiredOption("--agent <name>", "agent name, e.g. CodeGenAgent")
      .requiredOption(
        "--purpose <text>",
        "what the session is for (also the task when no --prompt)",
      )
      .option("--issue <number>", "GitHub issue number", intArg("--issue", 1))
      .addOption(phaseOption("--phase <phase>", "pipeline phase").default("CodeGeneration"))
      .option("--prompt <text>", "prompt for Claude (default: the phase's template)")
      .option(
        "--worktree <path>",
        "directory the agent works in (created if missing)",
        process.cwd(),
      )
      .option(
        "--issue-worktree",
        "work in the issue's git worktree (.worktrees/issue-<N> on miyabi/issue-<N>) and commit the result",
      )
      .option("--repo <path>", "with --issue-worktree: the git repository", process.cwd()),
  ).action(
    async (
      o: ClaudeFlags & {
        agent: string;
        purpose: string;
        issue?: number;
        phase: Phase;
        prompt?: string;
        worktree: string;
        issueWorktree?: boolean;
        repo: string;
      },
    ) => {
      await resolveClaude(o.claude);
      if (o.issueWorktree && o.issue === undefined) {
        throw new InvalidInputError("--issue-worktree needs --issue.");
      }
      const wt =
        o.issueWorktree && o.issue !== undefined
          ? await ensureIssueWorktree({ repoDir: o.repo, issueNumber: o.issue })
          : undefined;
      if (!wt) await fs.mkdir(o.worktree, { recursive: true });
      const session = await withStore(ctx, true, async (store) => {
        const id = await store.create({
          agentName: o.agent,
          purpose: o.purpose,
          context: {
            issueNumber: o.issue ?? null,
            currentPhase: o.phase,
            worktreePath: wt?.relativePath ?? o.worktree,
          },
        });
        return runRecorded(store, {
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
      if (session.status !== "Completed") ctx.exitCode = 1;
    },
  );

  addClaudeOptions(
    program
      .command("pipeline")
      .description(
        "run the agent pipeline for an issue, phase by phase, stopping at the first failure",
      )
      .requiredOption("--issue <number>", "GitHub issue number", intArg("--issue", 1))
      .option("--title <text>", "issue title given to the agents", "")
      .option("--body <text>", "issue body given to the agents", "")
      .option("--body-file <path>", "read the issue body from a file")
      .option(
        "--config <file>",
        "pipeline definition (YAML or JSON); default CodeGen -> Review -> Test -> Deploy",
      )
      .option("--from <step>", "start at this step id or phase instead of where the issue stands")
      .option("--repo <path>", "the git repository", process.cwd())
      .option(
        "--no-worktree",
        "work in --repo itself instead of the issue's worktree, without commits",
      )
      .option("--allow-dirty", "reuse an issue worktree that has uncommitted changes"),
  ).action(
    async (
      o: ClaudeFlags & {
        issue: number;
        title: string;
        body: string;
        bodyFile?: string;
        config?: string;
        from?: string;
        repo: string;
        worktree: boolean;
        allowDirty?: boolean;
      },
    ) => {
      const pipeline = await loadPipeline(o.config);
      await resolveClaude(o.claude);
      // The issue's own worktree and branch: phases commit there, the main checkout stays clean.
      const wt = o.worktree
        ? await ensureIssueWorktree({
            repoDir: o.repo,
            issueNumber: o.issue,
            allowDirty: o.allowDirty ?? false,
          })
        : undefined;
      if (wt) {
        process.stderr.write(
          `Worktree ${wt.relativePath} on branch ${wt.branch}${wt.created ? " (new)" : ""}\n`,
        );
      }
      const body = o.bodyFile ? await fs.readFile(o.bodyFile, "utf8") : o.body;
      const printer = progressPrinter({
        write: (t) => process.stderr.write(t),
        tty: process.stderr.isTTY === true,
      });
      const interrupt = abortOnProcessSignals();
      const { outcomes, done } = await withStore(ctx, true, async (store) => {
        try {
          return await runPipeline({
            store,
            issue: { number: o.issue, title: o.title || `Issue #${o.issue}`, body },
            pipeline,
            from: o.from,
            // Sessions record the worktree relative to the repository's top, like the seed's.
            repoDir: wt ? path.resolve(wt.path, path.relative(wt.relativePath, ".")) : o.repo,
            worktree: wt?.relativePath,
            commit: wt !== undefined,
            claude: claudeSettings(o),
            onProgress: printer.onProgress,
            signal: interrupt.signal,
          });
        } finally {
          interrupt.dispose();
          printer.done();
        }
      });
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
      if (outcomes.some((out) => out.status === "failed")) ctx.exitCode = 1;
    },
  );
}

export const handoffModeOption = () =>
  new Option(
    "--mode <mode>",
    "with --run: fresh conversation, resume the parent's, or fork it",
  ).choices(HANDOFF_MODES);

/**
 * `handoff --run`: hand off and run Claude for the new session, continuing from the parent as
 * asked. Nothing is recorded when the run cannot start (missing CLI, directory or conversation).
 */
export async function runHandoff(
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
  const printer = progressPrinter({
    write: (t) => process.stderr.write(t),
    tty: process.stderr.isTTY === true,
  });
  const interrupt = abortOnProcessSignals();
  try {
    return await handoffAndRun({
      store,
      from: args.parentId,
      toAgent: args.toAgent,
      purpose: args.purpose,
      phase: args.phase,
      mode: args.mode,
      claude: claudeSettings(args.flags),
      onProgress: printer.onProgress,
      signal: interrupt.signal,
    });
  } finally {
    interrupt.dispose();
    printer.done();
  }
}

/** `logs --follow`: print the log as it grows until the session is no longer Active. */
export async function followLog(ctx: CommandContext, id: string): Promise<void> {
  const store = await SessionStore.open({
    dir: ctx.globals().dir,
    create: false,
    reconcileOrphans: false,
  });
  try {
    const file = store.logPath(id);
    let offset = 0;
    for (;;) {
      const session = await store.getSession(id);
      const text = await fs.readFile(file, "utf8").catch(() => "");
      if (text.length > offset) {
        process.stdout.write(text.slice(offset));
        offset = text.length;
      }
      if (session.status !== "Active") return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await store.close();
  }
}
