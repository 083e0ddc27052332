import type { Phase } from "@miyabi/core";
import type { HandoffMode } from "@miyabi/runner";
import type { Command } from "commander";
import { addClaudeOptions, type ClaudeFlags, handoffModeOption } from "./claude-options.js";
import {
  agentArg,
  type CommandContext,
  examples,
  intArg,
  phaseOption,
  withStore,
} from "./context.js";
import { resolveId } from "./ids.js";

export function recordCommands(program: Command, ctx: CommandContext): void {
  examples(
    program
      .command("create")
      .description("record a new root session (no agent is started) and print its id")
      .requiredOption("--agent <name>", "agent name, e.g. CodeGenAgent", agentArg)
      .requiredOption("--purpose <text>", "what the session is for")
      .option("--issue <number>", "GitHub issue number", intArg("--issue"))
      .addOption(phaseOption("--phase <phase>", "pipeline phase").default("IssueAnalysis"))
      .option("--worktree <path>", "worktree the agent works in"),
    [
      'miyabi-sessions create --agent CodeGenAgent --purpose "Code generation for #270" --issue 270',
    ],
  ).action(
    async (o: {
      agent: string;
      purpose: string;
      issue?: number;
      phase: Phase;
      worktree?: string;
    }) => {
      const id = await withStore(ctx, { create: true }, (store) =>
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

  examples(
    addClaudeOptions(
      program
        .command("handoff")
        .description("hand a session over to another agent and print the new session's id")
        .argument("<id>", "session to hand off (Active or Completed; a unique prefix is enough)")
        .requiredOption("--to <agent>", "agent that takes over", agentArg)
        .addOption(
          phaseOption("--phase <phase>", "phase of the new session (default: the parent's)"),
        )
        .option("--purpose <text>", "purpose of the new session")
        .option("--run", "also run Claude Code for the new session")
        .addOption(handoffModeOption().default("fresh")),
    ),
    [
      "miyabi-sessions handoff 550e8400 --to ReviewAgent --phase Review",
      "miyabi-sessions handoff 550e8400 --to ReviewAgent --phase Review --run --mode resume",
    ],
  ).action(
    async (
      prefix: string,
      o: ClaudeFlags & {
        to: string;
        phase?: Phase;
        purpose?: string;
        run?: boolean;
        mode: HandoffMode;
      },
    ) => {
      // Loaded only for --run: recording a handoff needs neither the runner nor execa.
      const runner = o.run ? await import("./agent-run.js") : undefined;
      const child = await withStore(ctx, { create: false }, async (store) => {
        const id = await resolveId(store, prefix);
        if (!runner) {
          return store.handoff(id, {
            toAgent: o.to,
            purpose: o.purpose,
            context: o.phase ? { currentPhase: o.phase } : {},
          });
        }
        const ran = await runner.runHandoff(ctx, store, {
          parentId: id,
          toAgent: o.to,
          purpose: o.purpose,
          phase: o.phase,
          mode: o.mode,
          flags: o,
        });
        if (ran.status !== "Completed" && ctx.exitCode === 0) ctx.exitCode = 1;
        return ran.id;
      });
      ctx.io.out(child);
    },
  );

  program
    .command("complete")
    .description("mark an Active session Completed")
    .argument("<id>", "the session (a unique prefix is enough)")
    .option("--summary <text>", "what the agent achieved (kept as its result)")
    .action(async (prefix: string, o: { summary?: string }) => {
      const id = await withStore(ctx, { create: false }, async (store) => {
        const id = await resolveId(store, prefix);
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
        return id;
      });
      ctx.io.out(`Completed ${id}`);
    });

  program
    .command("fail")
    .description("mark an Active session Failed with a reason")
    .argument("<id>", "the session (a unique prefix is enough)")
    .requiredOption("--error <text>", "why it failed")
    .action(async (prefix: string, o: { error: string }) => {
      const id = await withStore(ctx, { create: false }, async (store) => {
        const id = await resolveId(store, prefix);
        await store.fail(id, o.error);
        return id;
      });
      ctx.io.out(`Failed ${id}`);
    });

  program
    .command("retry")
    .description("run a Failed session's work again as a new session and print its id")
    .argument("<id>", "the Failed session (a unique prefix is enough)")
    .action(async (prefix: string) => {
      ctx.io.out(
        await withStore(ctx, { create: false }, async (store) =>
          store.retry(await resolveId(store, prefix)),
        ),
      );
    });
}
