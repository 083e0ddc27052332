import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { SessionStore } from "@miyabi/core";
import {
  CacheRestoreError,
  CacheSaveError,
  MissingCacheKeyError,
  messageOf,
  SessionsNotRestoredError,
  StorePathError,
  UnsafeArchiveError,
} from "./errors.js";
import type { ActionInputs } from "./inputs.js";
import type { Cache, Logger } from "./ports.js";
import { extractStore, STORE_LAYOUT } from "./safe-extract.js";

/*
 * The session store travels between jobs in the Actions cache. While the job runs it lives
 * under RUNNER_TEMP, out of the agent's working tree (the runner hides it from the agent as
 * well); entries are saved from, and their version computed for, `store-path` inside the
 * workspace, where the store is copied once the agents are done.
 */

const PARALLEL_COPIES = 32;

export interface RunIdentity {
  runId: number;
  runAttempt: number;
}

/** Where this job keeps the store, and where the cache entry says it was. */
export interface StorePlaces {
  /** The checkout (GITHUB_WORKSPACE): cache member names are relative to it. */
  workspace: string;
  /** The store-path input: relative to the workspace, the path entries are saved from. */
  storePath: string;
  /** Where the store lives while the job runs (under RUNNER_TEMP). */
  storeDir: string;
  /** A private directory for downloads and extraction (under RUNNER_TEMP). */
  scratch: string;
}

/*
 * Cache entries are scoped to the repository already, so keys only name the issue. Every key
 * of an issue starts with the same prefix, which is how a first phase finds the newest store
 * of its issue.
 */
export function issueKeyPrefix(prefix: string, issueNumber: number): string {
  return `${prefix}-issue-${issueNumber}-`;
}

/**
 * A key no other job writes: entries are immutable, so every save needs a fresh one. The
 * random part keeps matrix legs and parallel jobs of one run apart (they share run id and
 * job id) and makes the key impossible to pre-create.
 */
export function saveKey(
  prefix: string,
  issueNumber: number,
  sessionCount: number,
  run: RunIdentity,
): string {
  const nonce = randomBytes(6).toString("hex");
  return `${issueKeyPrefix(prefix, issueNumber)}${sessionCount}-${run.runId}-${run.runAttempt}-${nonce}`;
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
 * `store-path` as a directory inside the workspace: relative, no `..`, not the workspace
 * itself, nothing under `.git`.
 */
export function storePathIn(workspace: string, storePath: string): string {
  const normal = path.posix.normalize(storePath.replaceAll("\\", "/"));
  const parts = normal.split("/").filter((p) => p !== "" && p !== ".");
  if (path.isAbsolute(storePath) || parts.length === 0 || parts.includes("..")) {
    throw new StorePathError(storePath, "it must be a relative path inside the workspace");
  }
  if (parts[0]?.toLowerCase() === ".git") {
    throw new StorePathError(storePath, "it cannot be inside .git");
  }
  return path.join(workspace, ...parts);
}

export interface RestoredEntry {
  key: string;
  /** The checked store, in a directory of its own under `scratch`. */
  dir: string;
}

/**
 * Download one entry and extract it safely into a fresh directory, then check it opens as a
 * session store; undefined on a miss. Anything unsafe or invalid throws, nothing of it used.
 */
export async function restoreEntry(
  cache: Cache,
  places: StorePlaces,
  primaryKey: string,
  restoreKeys: string[],
): Promise<RestoredEntry | undefined> {
  await fs.mkdir(places.scratch, { recursive: true, mode: 0o700 });
  const downloads = await fs.mkdtemp(path.join(places.scratch, "download-"));
  try {
    const entry = await cache
      .download([places.storePath], primaryKey, restoreKeys, downloads)
      .catch((error: unknown) => {
        throw new CacheRestoreError([primaryKey, ...restoreKeys], messageOf(error), {
          cause: error,
        });
      });
    if (!entry) return undefined;
    const dir = await fs.mkdtemp(path.join(places.scratch, "store-"));
    try {
      await extractStore({
        archive: entry.archive,
        compression: entry.compression,
        root: places.workspace,
        storeDir: storePathIn(places.workspace, places.storePath),
        into: dir,
        layout: STORE_LAYOUT,
      });
      await checkStore(dir);
    } catch (error) {
      await fs.rm(dir, { recursive: true, force: true });
      throw error;
    }
    return { key: entry.key, dir };
  } finally {
    await fs.rm(downloads, { recursive: true, force: true });
  }
}

/** The store's own schema check: it opens (journal replayed, documents parsed) and closes. */
async function checkStore(dir: string): Promise<void> {
  try {
    const store = await SessionStore.open({ dir });
    await store.close();
  } catch (error) {
    throw new UnsafeArchiveError(`it is not a valid session store (${messageOf(error)})`, {
      cause: error,
    });
  }
}

/**
 * Copy the job's store to `store-path` in the workspace, for the cache save and later steps,
 * redacting every file written since `since` (what this job's agents and the store wrote;
 * what it restored was redacted by the job that saved it). Read and written as latin1 so
 * bytes that are not UTF-8 come back unchanged; secrets are ASCII. The agent had the working
 * tree: whatever it left on the way (a symlink `.ai`, a file `sessions`) is removed first, so
 * the copy never writes through a link.
 */
export async function copyStoreToWorkspace(
  places: StorePlaces,
  redact: (text: string) => string,
  since: number,
): Promise<string> {
  const target = storePathIn(places.workspace, places.storePath);
  let dir = places.workspace;
  for (const part of path.relative(places.workspace, target).split(path.sep)) {
    dir = path.join(dir, part);
    const stat = await fs.lstat(dir).catch(() => undefined);
    if (stat && (!stat.isDirectory() || dir === target)) {
      await fs.rm(dir, { recursive: true, force: true });
    }
    if (dir !== target) await fs.mkdir(dir, { recursive: true });
  }
  await fs.mkdir(target);
  const entries = await fs.readdir(places.storeDir, { recursive: true, withFileTypes: true });
  const to = (entry: Dirent) =>
    path.join(target, path.relative(places.storeDir, path.join(entry.parentPath, entry.name)));
  // Directories first (readdir lists a directory before its files), then the files, a bounded
  // number at once: a store holds thousands of small ones.
  for (const entry of entries) if (entry.isDirectory()) await fs.mkdir(to(entry));
  const files = entries.filter((entry) => entry.isFile());
  for (let i = 0; i < files.length; i += PARALLEL_COPIES) {
    await Promise.all(
      files.slice(i, i + PARALLEL_COPIES).map(async (entry) => {
        const from = path.join(entry.parentPath, entry.name);
        if ((await fs.stat(from)).mtimeMs < since) return fs.copyFile(from, to(entry));
        return fs.writeFile(to(entry), redact(await fs.readFile(from, "latin1")), "latin1");
      }),
    );
  }
  return target;
}

/**
 * Another place the issue's store may be when the cache has none (the issue's newest workflow
 * artifact): fills `into`, an empty directory, and names where it came from; undefined when
 * there is nothing there either. A refused store throws.
 */
export type StoreFallback = (
  into: string,
) => Promise<{ name: string; sealed: boolean } | undefined>;

export interface RestoreOptions {
  cache: Cache;
  log: Logger;
  places: StorePlaces;
  issueNumber: number;
  inputs: Pick<ActionInputs, "cacheKey" | "cacheKeyPrefix" | "mergeCacheKeys">;
  /** A phase after the first: only the exact key it was given will do. */
  laterPhase: boolean;
  /**
   * The job continues earlier work (a comment, review or dispatch): when the cache has no
   * store of the issue, the fallback is asked before a new store is started.
   */
  continuing?: boolean;
  /** Asked when the exact entry (or, continuing, any entry of the issue) is gone. */
  fallback?: StoreFallback;
}

export interface RestoredStore {
  /** The key the store came from, if any. */
  key: string | undefined;
  /** The artifact the store came from when the cache had none. */
  artifact?: { name: string; sealed: boolean };
  /** Checked stores of parallel jobs, to fold in. */
  parts: string[];
}

/** Restore exactly `key`, or fail saying so: a prefix match would be another job's store. */
async function restoreExact(o: RestoreOptions, key: string, what: string): Promise<RestoredEntry> {
  const entry = await restoreExactOrNothing(o, key);
  if (entry) return entry;
  throw new SessionsNotRestoredError(what, [key]);
}

async function restoreExactOrNothing(
  o: RestoreOptions,
  key: string,
): Promise<RestoredEntry | undefined> {
  const entry = await restoreEntry(o.cache, o.places, key, []);
  if (entry?.key === key) return entry;
  if (entry) await fs.rm(entry.dir, { recursive: true, force: true });
  return undefined;
}

/** The store from the fallback, checked like a cache entry, in a new directory of its own. */
async function restoreFallback(
  o: RestoreOptions,
): Promise<{ dir: string; from: { name: string; sealed: boolean } } | undefined> {
  if (!o.fallback) return undefined;
  await fs.mkdir(o.places.scratch, { recursive: true, mode: 0o700 });
  const dir = await fs.mkdtemp(path.join(o.places.scratch, "artifact-store-"));
  try {
    const from = await o.fallback(dir);
    if (from) {
      await checkStore(dir);
      return { dir, from };
    }
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
  await fs.rm(dir, { recursive: true, force: true });
  return undefined;
}

/**
 * Put the issue's store at `places.storeDir`: the exact `cache-key` when given (a later phase
 * must have one), else the issue's newest store for a first phase, else nothing (a new
 * store). When the cache entry is gone, the fallback (the issue's newest workflow artifact)
 * is asked first. Parallel jobs' stores (merge-cache-keys) are restored exactly, each checked.
 */
export async function restoreStore(o: RestoreOptions): Promise<RestoredStore> {
  const { places, inputs, log } = o;
  let entry: RestoredEntry | undefined;
  let artifact: Awaited<ReturnType<typeof restoreFallback>>;
  if (inputs.cacheKey !== undefined) {
    entry = await restoreExactOrNothing(o, inputs.cacheKey);
    if (!entry) {
      artifact = await restoreFallback(o);
      if (!artifact) {
        throw new SessionsNotRestoredError("The previous phase's sessions", [inputs.cacheKey], {
          artifactsSearched: o.fallback !== undefined,
        });
      }
    }
  } else if (o.laterPhase) {
    throw new MissingCacheKeyError();
  } else {
    entry = await restoreEntry(
      o.cache,
      places,
      issueKeyPrefix(inputs.cacheKeyPrefix, o.issueNumber),
      [],
    );
    if (!entry && o.continuing) artifact = await restoreFallback(o);
  }
  const dir = entry?.dir ?? artifact?.dir;
  if (dir) await fs.rename(dir, places.storeDir);
  log.info(
    entry
      ? `Restored the sessions from "${entry.key}".`
      : artifact
        ? `The cache had no entry: restored the sessions from the workflow artifact ${artifact.from.name}${artifact.from.sealed ? " (sealed)" : ""}.`
        : "No sessions yet: starting a new store.",
  );
  const parts: string[] = [];
  for (const key of inputs.mergeCacheKeys) {
    parts.push((await restoreExact(o, key, "The sessions to merge (merge-cache-keys)")).dir);
  }
  return { key: entry?.key, ...(artifact ? { artifact: artifact.from } : {}), parts };
}

export interface SaveOptions {
  cache: Cache;
  log: Logger;
  places: StorePlaces;
  issueNumber: number;
  sessionCount: number;
  inputs: Pick<ActionInputs, "cacheKeyPrefix">;
  context: RunIdentity;
  redact: (text: string) => string;
  /** When the restored store was in place: files written after it are redacted. */
  since: number;
}

/**
 * Copy the closed store to `store-path` in the workspace, redacted, and save it under a new
 * key. A failure is returned (to report first), not thrown; the copy stays where the message
 * says, for an artifact step or a re-run. `copy` is the redacted store, when it was made.
 */
export async function saveStore(
  o: SaveOptions,
): Promise<{ key?: string; error?: CacheSaveError; copy?: string }> {
  const key = saveKey(o.inputs.cacheKeyPrefix, o.issueNumber, o.sessionCount, o.context);
  let copy: string | undefined;
  try {
    copy = await copyStoreToWorkspace(o.places, o.redact, o.since);
    const saved = await o.cache.save([o.places.storePath], key);
    if (saved.ok) {
      o.log.info(`Saved the sessions as "${key}".`);
      return { key, copy };
    }
    return { error: new CacheSaveError(key, saved.cause, copy), copy };
  } catch (error) {
    return { error: new CacheSaveError(key, messageOf(error), copy, { cause: error }) };
  }
}
