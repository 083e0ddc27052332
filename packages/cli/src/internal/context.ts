import { PHASES, type SessionStore } from "@miyabi/core";
import { InvalidArgumentError, Option } from "commander";
import type { Output } from "./format.js";

export interface GlobalOptions {
  dir: string;
  json: boolean;
}

export interface CommandContext {
  io: Output;
  globals: () => GlobalOptions;
  /** Open the store; read-only commands do not create a missing one. */
  open: (options?: { create?: boolean }) => Promise<SessionStore>;
  print: (value: unknown, human: () => string) => void;
  /** Set to non-zero when a command finished but what it ran failed (a Failed agent run). */
  exitCode: number;
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

export const phaseOption = (flags: string, description: string) =>
  new Option(flags, description).choices(PHASES);

/** Run `fn` with an open store and always close it, so sessions.json holds the whole state. */
export async function withStore<T>(
  ctx: CommandContext,
  create: boolean,
  fn: (store: SessionStore) => Promise<T>,
): Promise<T> {
  const store = await ctx.open({ create });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
