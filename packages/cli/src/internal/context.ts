import { MiyabiError, PHASES, type SessionStore } from "@miyabi/core";
import { type Command, InvalidArgumentError, Option } from "commander";
import { parseDuration } from "./duration.js";

export interface GlobalOptions {
  dir?: string;
  json: boolean;
  quiet: boolean;
}

/** Where a command writes. Results go to `out` (stdout); progress, hints and errors to `err`. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Write to stderr without a newline (progress redrawn in place). */
  errWrite: (text: string) => void;
  /** Colours on stdout. */
  color: boolean;
  /** stdout is a terminal: relative times, columns fitted to `columns`, pretty logs. */
  tty: boolean;
  /** stderr is a terminal: progress redrawn in place with a ticking clock. */
  errTty: boolean;
  columns: number;
  env: Record<string, string | undefined>;
  now: () => Date;
}

export interface CommandContext {
  io: Output;
  globals: () => GlobalOptions;
  /**
   * Open the store (see storeLocation): read-only commands do not create a missing one;
   * `repo` is the command's --repo, whose `.ai/sessions` is the default store.
   */
  open: (options?: { create?: boolean; repo?: string }) => Promise<SessionStore>;
  print: (value: unknown, human: () => string) => void;
  /** Hints for people (what next, where things are); silent with --quiet. */
  hint: (text: string) => void;
  /** Set to non-zero when a command finished but what it ran failed (a Failed agent run). */
  exitCode: number;
}

/** Re-throw a library's validation error as a commander usage error (exit 2, one line). */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof MiyabiError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/** A commander parser for whole numbers of at least `min`. */
export const intArg =
  (name: string, min = 0) =>
  (value: string) => {
    const pattern = min >= 1 ? /^[1-9]\d*$/ : /^\d+$/;
    if (!pattern.test(value) || Number(value) < min) {
      throw new InvalidArgumentError(
        min === 1 ? `${name} must be a positive whole number.` : `${name} must be a whole number.`,
      );
    }
    return Number(value);
  };

/** A commander parser for an amount in US dollars above 0, such as 5 or 0.50. */
export const usdArg = (name: string) => (value: string) => {
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || Number(value) <= 0) {
    throw new InvalidArgumentError(
      `${name} must be an amount in US dollars above 0, such as 5 or 0.50.`,
    );
  }
  return Number(value);
};

/** An empty agent name is refused while parsing; the store judges the rest (see report()). */
export const agentArg = (value: string) => {
  if (value.trim() === "") throw new InvalidArgumentError("an agent name cannot be empty.");
  return value;
};
export const durationArg = (value: string) => asUsage(() => parseDuration(value));

export const phaseOption = (flags: string, description: string) =>
  new Option(flags, description).choices(PHASES);

/** "Examples:" after a command's help, as gh and npm show them. */
export function examples(cmd: Command, lines: readonly string[]): Command {
  return cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}`);
}

/** Run `fn` with an open store and always close it, so sessions.json holds the whole state. */
export async function withStore<T>(
  ctx: CommandContext,
  options: { create: boolean; repo?: string },
  fn: (store: SessionStore) => Promise<T>,
): Promise<T> {
  const store = await ctx.open(options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
