import {
  MiyabiError,
  type Phase,
  SESSION_STATUSES,
  type SessionStatus,
  SessionStore,
} from "@miyabi/core";
import type { HandoffMode } from "@miyabi/runner";
import { Command, CommanderError, Option } from "commander";
import {
  addClaudeOptions,
  agentCommands,
  type ClaudeFlags,
  followLog,
  handoffModeOption,
  runHandoff,
} from "./agent-commands.js";
import {
  type CommandContext,
  type GlobalOptions,
  intArg,
  phaseOption,
  withStore,
} from "./context.js";
import { demoCommand } from "./demo.js";
import { parseDuration } from "./duration.js";
import {
  lineageText,
  type Output,
  sessionDetail,
  sessionRows,
  statsText,
  treeText,
} from "./format.js";
import { worktreeCommands } from "./worktree-commands.js";

function recordCommands(program: Command, ctx: CommandContext): void {
  program
    .command("create")
    .description("record a new root session (no agent is started) and print its id")
    .requiredOption("--agent <name>", "agent name, e.g. CodeGenAgent")
    .requiredOption("--purpose <text>", "what the session is for")
    .option("--issue <number>", "GitHub issue number", intArg("--issue"))
    .addOption(phaseOption("--phase <phase>", "pipeline phase").default("IssueAnalysis"))
    .option("--worktree <path>", "worktree the agent works in")
    .action(
      async (o: {
        agent: string;
        purpose: string;
        issue?: number;
        phase: Phase;
        worktree?: string;
      }) => {
        const id = await withStore(ctx, true, (store) =>
          store.create({
            agentName: o.agent,
            purpose: o.purpose,
            context: {
              issueNumber: o.issue ?? null,
              currentPhase: o.phase,
              worktreePath: o.worktree ?? null,
            },
          }),
        );
        ctx.io.out(id);
      },
    );

  addClaudeOptions(
    program
      .command("handoff")
      .description("hand a session over to another agent and print the new session's id")
      .argument("<id>", "session to hand off (Active or Completed)")
      .requiredOption("--to <agent>", "agent that takes over")
      .addOption(phaseOption("--phase <phase>", "phase of the new session (default: the parent's)"))
      .option("--purpose <text>", "purpose of the new session")
      .option("--run", "also run Claude Code for the new session")
      .addOption(handoffModeOption().default("fresh")),
  ).action(
    async (
      id: string,
      o: ClaudeFlags & {
        to: string;
        phase?: Phase;
        purpose?: string;
        run?: boolean;
        mode: HandoffMode;
      },
    ) => {
      const child = await withStore(ctx, false, async (store) => {
        if (!o.run) {
          return store.handoff(id, {
            toAgent: o.to,
            purpose: o.purpose,
            context: o.phase ? { currentPhase: o.phase } : {},
          });
        }
        const ran = await runHandoff(store, {
          parentId: id,
          toAgent: o.to,
          purpose: o.purpose,
          phase: o.phase,
          mode: o.mode,
          flags: o,
        });
        if (ran.status !== "Completed") ctx.exitCode = 1;
        return ran.id;
      });
      ctx.io.out(child);
    },
  );

  program
    .command("complete")
    .description("mark an Active session Completed")
    .argument("<id>")
    .option("--summary <text>", "what the agent achieved (kept as its result)")
    .action(async (id: string, o: { summary?: string }) => {
      await withStore(ctx, false, async (store) => {
        const session = await store.getSession(id);
        const result =
          o.summary === undefined
            ? undefined
            : {
                agent: session.agentName,
                phase: session.context.currentPhase,
                outcome: "success" as const,
                summary: o.summary,
              };
        await store.complete(id, result);
      });
      ctx.io.out(`Completed ${id}`);
    });

  program
    .command("fail")
    .description("mark an Active session Failed with a reason")
    .argument("<id>")
    .requiredOption("--error <text>", "why it failed")
    .action(async (id: string, o: { error: string }) => {
      await withStore(ctx, false, (store) => store.fail(id, o.error));
      ctx.io.out(`Failed ${id}`);
    });

  program
    .command("retry")
    .description("run a Failed session's work again as a new session and print its id")
    .argument("<id>")
    .action(async (id: string) => {
      ctx.io.out(await withStore(ctx, false, (store) => store.retry(id)));
    });
}

function readCommands(program: Command, ctx: CommandContext): void {
  program
    .command("show")
    .description("show one session")
    .argument("<id>")
    .action(async (id: string) => {
      const s = await withStore(ctx, false, (store) => store.getSession(id));
      ctx.print(s, () => sessionDetail(s, ctx.io.color));
    });

  program
    .command("list")
    .description("list sessions, oldest first")
    .option("--active", "only Active sessions")
    .addOption(
      new Option("--status <status>", "only sessions with this status").choices(SESSION_STATUSES),
    )
    .option("--issue <number>", "only sessions of this issue", intArg("--issue"))
    .option("--agent <name>", "only sessions of this agent")
    .action(
      async (o: { active?: boolean; status?: SessionStatus; issue?: number; agent?: string }) => {
        const sessions = await withStore(ctx, false, (store) =>
          store.list({
            status: o.active ? "Active" : o.status,
            issueNumber: o.issue,
            agentName: o.agent,
          }),
        );
        ctx.print(sessions, () => sessionRows(sessions, ctx.io.color));
      },
    );

  program
    .command("lineage")
    .description("show the handoff chain from the root to a session (--tree: everything after it)")
    .argument("<id>")
    .option("--tree", "show the session and its descendants as a tree")
    .action(async (id: string, o: { tree?: boolean }) => {
      await withStore(ctx, false, async (store) => {
        if (o.tree) {
          const tree = await store.getTree(id);
          ctx.print(tree, () => treeText(tree, ctx.io.color));
        } else {
          const lineage = await store.getLineage(id);
          ctx.print(lineage, () => lineageText(lineage, ctx.io.color));
        }
      });
    });

  program
    .command("stats")
    .description("count sessions by status")
    .action(async () => {
      const stats = await withStore(ctx, false, (store) => store.getStats());
      ctx.print(stats, () => statsText(stats));
    });

  program
    .command("logs")
    .description("print a session's log (Claude's raw stream-json output)")
    .argument("<id>")
    .option("-f, --follow", "keep printing as the log grows, until the session finishes")
    .action(async (id: string, o: { follow?: boolean }) => {
      if (o.follow) {
        await followLog(ctx, id);
        return;
      }
      const text = await withStore(ctx, false, (store) => store.readLog(id));
      ctx.io.out(text.replace(/\n$/, ""));
    });

  program
    .command("prune")
    .description("remove finished lineages older than a duration, with their logs")
    .requiredOption("--older-than <duration>", "e.g. 7d, 12h, 2w")
    .option("--dry-run", "only say what would be removed")
    .action(async (o: { olderThan: string; dryRun?: boolean }) => {
      const olderThanMs = parseDuration(o.olderThan);
      const report = await withStore(ctx, false, (store) =>
        store.prune({ olderThanMs, dryRun: o.dryRun ?? false }),
      );
      ctx.print(report, () =>
        report.removed.length === 0
          ? "Nothing to prune."
          : `${report.dryRun ? "Would remove" : "Removed"} ${report.removed.length} sessions:\n${report.removed.join("\n")}`,
      );
    });

  program
    .command("merge")
    .description("fold another store directory (e.g. from a parallel job) into this one")
    .argument("<other-dir>")
    .action(async (other: string) => {
      const report = await withStore(ctx, true, (store) => store.mergeFrom(other));
      ctx.print(report, () => {
        const lines = [`Added ${report.added.length}, updated ${report.updated.length} sessions.`];
        for (const c of report.conflicts) {
          lines.push(
            `conflict on ${c.sessionId} ${c.field}: kept ${c.kept}, other side had ${c.other}`,
          );
        }
        return lines.join("\n");
      });
    });
}

const CLI_VERSION = "0.2.0";

export interface MainOptions {
  io?: Partial<Output>;
}

/** Parse `argv` (without node and script), run the command, return the exit code. */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const io: Output = {
    out: options.io?.out ?? ((t) => process.stdout.write(`${t}\n`)),
    err: options.io?.err ?? ((t) => process.stderr.write(`${t}\n`)),
    color: options.io?.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR),
  };
  const program = new Command("miyabi-sessions")
    .description(
      "Track, hand off and run Claude Code agent sessions (CodeGen -> Review -> Test -> Deploy).\n" +
        "Sessions live in <dir>/sessions.json (the Rust miyabi-session-manager's format) with logs in <dir>/logs.",
    )
    .version(CLI_VERSION, "-V, --version")
    .option("--dir <path>", "session store directory", ".ai/sessions")
    .option("--json", "machine-readable output for read commands")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (t) => io.out(t.replace(/\n$/, "")),
      writeErr: (t) => io.err(t.replace(/\n$/, "")),
    });
  const globals = () => program.opts<GlobalOptions>();
  const ctx: CommandContext = {
    io,
    globals,
    open: ({ create = true } = {}) => SessionStore.open({ dir: globals().dir, create }),
    print: (value, human) => io.out(globals().json ? JSON.stringify(value, null, 2) : human()),
    exitCode: 0,
  };
  recordCommands(program, ctx);
  readCommands(program, ctx);
  agentCommands(program, ctx);
  worktreeCommands(program, ctx);
  demoCommand(program, ctx);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: Output): number {
  if (error instanceof CommanderError) {
    // Help and version "errors" are normal exits; usage errors were already printed.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof MiyabiError) {
    io.err(`miyabi-sessions: ${error.message}`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(`miyabi-sessions: unexpected error: ${message}`);
  if (error instanceof Error && error.stack && process.env.MIYABI_DEBUG) io.err(error.stack);
  return 1;
}
