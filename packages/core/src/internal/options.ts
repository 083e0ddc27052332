import { z } from "zod";
import { InvalidInputError } from "./errors.js";

export const StoreOptionsSchema = z.object({
  /** The store directory: `sessions.json`, its journal and `logs/` live here. */
  dir: z.string().min(1).default(".ai/sessions"),
  /** Create the directory when missing. Read-only tools pass false to report a wrong path. */
  create: z.boolean().default(true),
  /** How long to wait for another process that holds the store's lock. */
  lockTimeoutMs: z.number().int().positive().default(30_000),
  /** A lock file whose holder cannot be checked (other host, unreadable) is stale after this. */
  staleLockMs: z.number().int().positive().default(30_000),
  /** Mark Active sessions whose owning process on this host is gone as Failed when opening. */
  reconcileOrphans: z.boolean().default(true),
  /** Fold the journal into sessions.json once it grows past this many bytes. */
  compactAfterBytes: z
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
  /**
   * `close()` compacts when sessions.json plus the journal are at most this big, so a small
   * store (every store the seed could handle) is complete in sessions.json at rest. Larger ones
   * are compacted at `compactAfterBytes` or by `compact()`.
   */
  compactOnCloseBytes: z
    .number()
    .int()
    .nonnegative()
    .default(4 * 1024 * 1024),
  /** Clock, for tests. */
  now: z
    .custom<() => Date>((value) => typeof value === "function", "expected a function")
    .default(() => () => new Date()),
});

export type StoreOptions = z.input<typeof StoreOptionsSchema>;
export type ResolvedStoreOptions = z.output<typeof StoreOptionsSchema>;

/** Parse `input` with `schema`, turning a zod failure into an InvalidInputError naming `what`. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue && issue.path.length > 0 ? ` at ${issue.path.map(String).join(".")}` : "";
  throw new InvalidInputError(`Invalid ${what}${at}: ${issue?.message ?? "invalid value"}`, {
    cause: parsed.error,
  });
}
