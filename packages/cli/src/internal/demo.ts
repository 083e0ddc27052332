import type { Command } from "commander";
import type { CommandContext } from "./context.js";

/** The `demo` command; its work (model server, runner, git) loads only when it runs. */
export function demoCommand(program: Command, ctx: CommandContext): void {
  program
    .command("demo")
    .description(
      "run the default pipeline (CodeGen -> Review -> Test -> Deploy) on a sample issue in a temporary git repository, with the real Claude Code CLI talking to a built-in scripted model: offline, no API key",
    )
    .option(
      "--claude <path>",
      "Claude Code CLI to run (default: $MIYABI_CLAUDE, else the pinned one installed with this repository, else claude on PATH)",
    )
    .option("--keep", "keep the temporary directory to look around afterwards")
    .action(async (o: { claude?: string; keep?: boolean }) => {
      await (await import("./demo-run.js")).runDemo(ctx, o);
    });
}
