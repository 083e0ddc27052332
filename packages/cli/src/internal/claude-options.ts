import type { HandoffMode } from "@miyabi/runner";
import { type Command, Option } from "commander";
import { intArg } from "./context.js";

export interface ClaudeFlags {
  claude?: string;
  model?: string;
  maxTurns?: number;
  timeout?: number;
  allowedTools?: string;
  permissionMode?: string;
  sandbox?: string;
}

// Spelled out rather than imported so that defining the commands does not load the runner;
// `satisfies` keeps the list exactly in step with the runner's modes.
const HANDOFF_MODES = Object.keys({
  fresh: true,
  resume: true,
  fork: true,
} satisfies Record<HandoffMode, true>);

/** Options shared by every command that starts Claude. */
export function addClaudeOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--claude <path>", "Claude Code CLI to run (default: claude on PATH)").env(
        "MIYABI_CLAUDE",
      ),
    )
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
    )
    .addOption(
      new Option(
        "--sandbox <mode>",
        "jail the agent with bubblewrap: auto (when bwrap works, else unjailed with a warning), required (fail without it), off",
      )
        .choices(["auto", "required", "off"])
        .env("MIYABI_SANDBOX"),
    );
}

export const handoffModeOption = () =>
  new Option(
    "--mode <mode>",
    "with --run: fresh conversation, resume the parent's, or fork it",
  ).choices(HANDOFF_MODES);
