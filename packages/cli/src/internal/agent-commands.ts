import type { Phase } from "@miyabi/core";
import type { Command } from "commander";
import { addClaudeOptions, type ClaudeFlags } from "./claude-options.js";
import { agentArg, type CommandContext, examples, intArg, phaseOption, usdArg } from "./context.js";
import { UsageError } from "./errors.js";

export interface RunFlags extends ClaudeFlags {
  agent: string;
  purpose: string;
  issue?: number;
  phase: Phase;
  prompt?: string;
  worktree?: string;
  issueWorktree?: boolean;
  repo?: string;
}

export interface PipelineFlags extends ClaudeFlags {
  issue: number;
  title: string;
  body: string;
  bodyFile?: string;
  config?: string;
  from?: string;
  repo?: string;
  worktree: boolean;
  allowDirty?: boolean;
  maxBudgetUsd?: number;
  budgetUsd?: number;
}

/** Commands that start Claude. Their work lives in agent-run.ts, loaded only when they run. */
export function agentCommands(program: Command, ctx: CommandContext): void {
  examples(
    addClaudeOptions(
      program
        .command("run")
        .description("record a new session and run Claude Code for it headlessly")
        .requiredOption("--agent <name>", "agent name, e.g. CodeGenAgent", agentArg)
        .requiredOption(
          "--purpose <text>",
          "what the session is for (also the task when no --prompt)",
        )
        .option("--issue <number>", "GitHub issue number", intArg("--issue", 1))
        .addOption(phaseOption("--phase <phase>", "pipeline phase").default("CodeGeneration"))
        .option("--prompt <text>", "prompt for Claude (default: the phase's template)")
        .option(
          "--worktree <path>",
          "directory the agent works in, created if missing (default: the current directory)",
        )
        .option(
          "--issue-worktree",
          "work in the issue's git worktree (.worktrees/issue-<N> on miyabi/issue-<N>) and commit the result; needs --issue",
        )
        .option(
          "--repo <path>",
          "the git repository (default: the one around the current directory); its .ai/sessions is the default store",
        ),
    ),
    [
      'miyabi-sessions run --agent CodeGenAgent --purpose "Add a greet helper" --issue 42 --issue-worktree',
      'miyabi-sessions run --agent ReviewAgent --purpose "Review src/" --prompt "Review src/ for bugs" --allowed-tools Read,Grep',
    ],
  ).action(async (o: RunFlags) => {
    if (o.issueWorktree && o.issue === undefined) {
      throw new UsageError("--issue-worktree needs --issue <number>.");
    }
    if (o.issueWorktree && o.worktree !== undefined) {
      throw new UsageError("--issue-worktree and --worktree cannot be used together.");
    }
    await (await import("./agent-run.js")).runCommand(ctx, o);
  });

  examples(
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
        .option(
          "--repo <path>",
          "the git repository (default: the one around the current directory); its .ai/sessions is the default store",
        )
        .option(
          "--no-worktree",
          "work in --repo itself instead of the issue's worktree, without commits",
        )
        .option("--allow-dirty", "reuse an issue worktree that has uncommitted changes")
        .option(
          "--max-budget-usd <usd>",
          "US dollars one phase may spend (Claude Code's --max-budget-usd)",
          usdArg("--max-budget-usd"),
        )
        .option(
          "--budget-usd <usd>",
          "US dollars the issue may spend: no phase starts once its sessions' recorded cost reaches it (exit 3)",
          usdArg("--budget-usd"),
        ),
    ),
    [
      'miyabi-sessions pipeline --issue 42 --title "Add a greet helper" --body-file issue.md',
      "miyabi-sessions pipeline --issue 42 --from review --config .miyabi/pipeline.yml",
    ],
  ).action(async (o: PipelineFlags) => {
    if (o.bodyFile !== undefined && o.body !== "") {
      throw new UsageError("--body and --body-file cannot be used together.");
    }
    await (await import("./agent-run.js")).pipelineCommand(ctx, o);
  });
}
