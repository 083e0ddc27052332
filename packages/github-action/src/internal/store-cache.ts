import fs from "node:fs/promises";
import path from "node:path";
import { SessionsNotRestoredError } from "./errors.js";
import type { Cache } from "./ports.js";

export interface RunIdentity {
  runId: number;
  runAttempt: number;
  /** The job id (GITHUB_JOB): parallel jobs of one run differ only here. */
  job: string;
}

/*
 * Cache entries are scoped to the repository already, so keys only name the issue. Every key
 * of an issue starts with the same prefix, which is how a job without an exact key finds the
 * newest store of its issue.
 */
export function issueKeyPrefix(prefix: string, issueNumber: number): string {
  return `${prefix}-issue-${issueNumber}-`;
}

/** A key no other job writes: entries are immutable, so every save needs a fresh one. */
export function saveKey(
  prefix: string,
  issueNumber: number,
  sessionCount: number,
  run: RunIdentity,
): string {
  return `${issueKeyPrefix(prefix, issueNumber)}${sessionCount}-${run.runId}-${run.runAttempt}-${run.job}`;
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Restore the stores of parallel jobs, to fold in, into `scratch/part-N`. The cache version
 * hashes the path string and archives extract to where they were saved, so each part is
 * restored to `storePath` itself and then moved aside, the job's own store waiting in
 * `scratch` meanwhile. `scratch` must be on the store's file system (a sibling directory) so
 * the moves are renames.
 */
export async function restoreParts(
  cache: Cache,
  storePath: string,
  storeDir: string,
  keys: readonly string[],
  scratch: string,
): Promise<string[]> {
  const own = path.join(scratch, "own");
  const hadOwn = await exists(storeDir);
  if (hadOwn) await fs.rename(storeDir, own);
  try {
    const dirs: string[] = [];
    for (const [i, key] of keys.entries()) {
      // Only the exact key will do: a prefix match would be some other job's store.
      if ((await cache.restore([storePath], key, [])) !== key) {
        throw new SessionsNotRestoredError("The sessions to merge (merge-cache-keys)", [key]);
      }
      const dir = path.join(scratch, `part-${i}`);
      await fs.rename(storeDir, dir);
      dirs.push(dir);
    }
    return dirs;
  } finally {
    // A failed restore can leave a partial extraction where the own store goes back.
    await fs.rm(storeDir, { recursive: true, force: true });
    if (hadOwn) await fs.rename(own, storeDir);
  }
}
