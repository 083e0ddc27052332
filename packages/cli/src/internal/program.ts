import { InvalidAgentNameError, MiyabiError, SessionStore } from "@miyabi/core";
import { Argument, Command, CommanderError, Help, type Option } from "commander";
import { config } from "zod";
import { agentCommands } from "./agent-commands.js";
import { colorEnabled } from "./color.js";
import { completionScript, SHELLS, type Shell } from "./completion.js";
import type { CommandContext, GlobalOptions, Output } from "./context.js";
import { demoCommand } from "./demo.js";
import { UsageError } from "./errors.js";
import { excludeStore, storeLocation } from "./location.js";
import { readCommands } from "./read-commands.js";
import { recordCommands } from "./record-commands.js";
import { isClose } from "./text.js";
import { worktreeCommands } from "./worktree-commands.js";

export interface MainOptions {
  /** The version --version prints (the package's, read by the bin). */
  version: string;
}

const NAME = "miyabi-sessions";

/**
 * One line per usage error, as gh prints them: commander's message without its "error: "
 * and with its suggestion kept only when it is close to what was typed.
 */
function usageLine(message: string): string {
  const [first = "", ...rest] = message.trim().split("\n");
  const typed = /unknown (?:command|option) '([^']+)'/.exec(first)?.[1];
  const suggestion = /\(Did you mean (?:one of )?([^?]+)\?\)/.exec(rest.join(" "))?.[1];
  const close = suggestion
    ?.split(", ")
    .filter((s) => typed !== undefined && isClose(typed.replace(/^-+/, ""), s.replace(/^-+/, "")));
  const hint = close && close.length > 0 ? ` Did you mean ${close.join(" or ")}?` : "";
  return `${NAME}: ${first.replace(/^error: /, "")}.${hint} (see ${NAME} --help)`.replace(
    /\.\./g,
    ".",
  );
}

/** Help that marks required options and lists the global ones under every command. */
class MiyabiHelp extends Help {
  override showGlobalOptions = true;

  override optionDescription(option: Option): string {
    const text = super.optionDescription(option);
    return option.mandatory ? `${text} (required)` : text;
  }
}

class MiyabiCommand extends Command {
  override createCommand(name?: string): Command {
    return new MiyabiCommand(name);
  }

  override createHelp(): Help {
    return Object.assign(new MiyabiHelp(), this.configureHelp());
  }
}

/** Parse `argv` (without node and script), run the command, return the exit code. */
export async function main(argv: string[], options: MainOptions): Promise<number> {
  // A command validates a handful of documents and exits: compiling zod's fast parsers
  // (new Function per schema) costs more than it saves in a process this short.
  config({ jitless: true });
  const env = process.env;
  const io: Output = {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    errWrite: (t) => process.stderr.write(t),
    color: colorEnabled(env, process.stdout),
    tty: process.stdout.isTTY === true,
    errTty: process.stderr.isTTY === true,
    columns: process.stdout.columns || process.stderr.columns || 100,
    env,
    now: () => new Date(),
  };
  const cwd = process.cwd();
  const program = new MiyabiCommand(NAME)
    .description(
      "Track, hand off and run Claude Code agent sessions (CodeGen -> Review -> Test -> Deploy).\n" +
        "Sessions live in <dir>/sessions.json (the Rust miyabi-session-manager's format) with logs in <dir>/logs.",
    )
    .version(options.version, "-V, --version")
    .option(
      "--dir <path>",
      "session store directory (default: $MIYABI_SESSIONS_DIR, else .ai/sessions at the top of the git repository, else in the current directory)",
    )
    .option("--json", "machine-readable output for read commands")
    .option("-q, --quiet", "no progress or hints on stderr: only results and errors")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (t) => io.out(t.replace(/\n$/, "")),
      writeErr: (t) => io.err(t.replace(/\n$/, "")),
      outputError: (t) => io.err(usageLine(t)),
    });
  const globals = () => {
    const o = program.opts<Partial<GlobalOptions>>();
    return { dir: o.dir, json: o.json === true, quiet: o.quiet === true };
  };
  const ctx: CommandContext = {
    io,
    globals,
    open: async ({ create = true, repo } = {}) => {
      const location = await storeLocation({ dirFlag: globals().dir, env, repo, cwd });
      const store = await SessionStore.open({ dir: location.dir, create });
      if (create) await excludeStore(location);
      return store;
    },
    print: (value, human) => io.out(globals().json ? JSON.stringify(value, null, 2) : human()),
    hint: (text) => {
      if (!globals().quiet) io.err(text);
    },
    exitCode: 0,
  };
  recordCommands(program, ctx);
  readCommands(program, ctx);
  agentCommands(program, ctx);
  worktreeCommands(program, ctx);
  demoCommand(program, ctx);
  program
    .command("completion")
    .description("print a shell completion script")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .addHelpText(
      "after",
      `\nExamples:\n  $ source <(${NAME} completion bash)    # in ~/.bashrc\n  $ source <(${NAME} completion zsh)     # in ~/.zshrc\n  $ ${NAME} completion fish > ~/.config/fish/completions/${NAME}.fish`,
    )
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
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
  // Agent names reach the CLI only from its flags, so a bad one is a usage error.
  if (error instanceof UsageError || error instanceof InvalidAgentNameError) {
    io.err(usageLine(error.message));
    return 2;
  }
  if (error instanceof MiyabiError) {
    io.err(`${NAME}: ${error.message}`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(`${NAME}: unexpected error: ${message}`);
  if (error instanceof Error && error.stack && process.env.MIYABI_DEBUG) io.err(error.stack);
  return 1;
}
