import fs from "node:fs";
import { hostname } from "node:os";
import { LockTimeoutError } from "./errors.js";
import { isErrno, pidAlive } from "./fs-util.js";

interface LockHolder {
  pid: number;
  hostname: string;
  token: string;
}

export interface FileLockOptions {
  timeoutMs: number;
  /** A lock file that names no live holder and is older than this is taken over. */
  staleMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// Asked once: os.hostname() is a system call, and every lock names its host.
const HOST = hostname();

/*
 * The lock is a symbolic link whose target text names its holder: creating it is one atomic,
 * exclusive system call that also writes the content, so a lock is never seen empty or half
 * written, even when its creator is killed. It is only ever read with readlink, never followed.
 * Calls are synchronous: each is a few microseconds, less than a trip through libuv's pool.
 * A regular file in its place (releases before format 2, file systems without symlinks) is
 * read the same way.
 */

function readHolder(file: string): { holder: LockHolder | null; mtimeMs: number } {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  const text = stat ? lockText(file) : null;
  if (!stat || text === null) return { holder: null, mtimeMs: Number.NaN };
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid === "number" && typeof parsed.hostname === "string") {
      return {
        holder: { pid: parsed.pid, hostname: parsed.hostname, token: String(parsed.token) },
        mtimeMs: stat.mtimeMs,
      };
    }
  } catch {
    // An older release's lock file whose holder died between creating and writing it.
  }
  return { holder: null, mtimeMs: stat.mtimeMs };
}

function isStale(holder: LockHolder | null, mtimeMs: number, staleMs: number): boolean {
  if (holder && holder.hostname === HOST) return !pidAlive(holder.pid);
  // Holders on other hosts (shared disks) or unreadable files can only be judged by age.
  return Date.now() - mtimeMs > staleMs;
}

/*
 * The holder text is kept under 60 bytes where the host name allows (up to 13 characters with
 * any pid): ext4 then keeps the link's target inside its inode, and creating and removing the
 * lock touches no data block. A longer target costs ~50 us more per change, a quarter of an
 * fdatasync. The token only tells this process's acquisitions apart (pid and host say who).
 */
function newToken(): string {
  return Math.random().toString(36).slice(2, 8).padEnd(6, "0");
}

function holderText(token: string): string {
  return JSON.stringify({ pid: process.pid, hostname: HOST, token });
}

/** The holder text of a lock in either form; null when there is none. */
function lockText(file: string): string | null {
  try {
    return fs.readlinkSync(file, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    // Not a symbolic link: a regular-file lock (an older release, or no symlinks here).
    if (!isErrno(error, "EINVAL")) throw error;
  }
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
}

// File systems without symbolic links (some network and FUSE mounts) get the older form: the
// text written to a private file, then hard-linked into place (also atomic, three calls).
const NO_SYMLINKS = ["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"];

function createByLink(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, text, { flag: "wx" });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (error) {
    if (isErrno(error, "EEXIST")) return false;
    throw error;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Create `file` naming us as holder, or return false if it exists. */
function create(file: string, text: string): boolean {
  try {
    fs.symlinkSync(text, file);
    return true;
  } catch (error) {
    if (isErrno(error, "EEXIST")) return false;
    if (NO_SYMLINKS.some((code) => isErrno(error, code))) return createByLink(file, text);
    throw error;
  }
}

/**
 * Remove a lock file or link. Not fs.rmSync: on Node 24 it follows a symbolic link, finds no
 * target (a lock's target is its holder's text, not a path) and with `force` silently leaves
 * the link in place, so a store could never be opened again.
 */
function unlinkIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (error) {
    if (!isErrno(error, "ENOENT")) throw error;
  }
}

/** Release: never delete a lock that was broken and re-taken by someone else while we held it. */
function removeIfHeldBy(file: string, text: string): void {
  if (lockText(file) === text) unlinkIfPresent(file);
}

/**
 * An exclusive lock between processes on one machine. A lock whose holder died is broken under
 * a second short-lived lock, so two waiters cannot both break it and then delete each other's
 * fresh lock.
 */
export class FileLock {
  readonly file: string;
  readonly #options: FileLockOptions;

  constructor(file: string, options: FileLockOptions) {
    this.file = file;
    this.#options = options;
  }

  /** Take the lock; the returned function releases it (synchronously). */
  async acquire(): Promise<() => void> {
    const text = holderText(newToken());
    if (create(this.file, text)) return () => removeIfHeldBy(this.file, text);
    const started = Date.now();
    let delay = 1;
    for (;;) {
      const { holder, mtimeMs } = readHolder(this.file);
      const gone = Number.isNaN(mtimeMs);
      // A lock released or broken meanwhile is tried again at once; otherwise wait for its
      // holder (or for whoever is breaking it).
      if (!gone && !(isStale(holder, mtimeMs, this.#options.staleMs) && this.#breakStale(holder))) {
        const waited = Date.now() - started;
        if (waited > this.#options.timeoutMs) {
          throw new LockTimeoutError(
            this.file,
            waited,
            holder ? `pid ${holder.pid} on ${holder.hostname}` : "an unknown process",
          );
        }
        await sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 50);
      }
      if (create(this.file, text)) return () => removeIfHeldBy(this.file, text);
    }
  }

  /** Remove a stale lock under the breaker lock; false when someone else is breaking it. */
  #breakStale(seen: LockHolder | null): boolean {
    const breaker = `${this.file}.break`;
    const text = holderText(newToken());
    if (!create(breaker, text)) {
      // Someone else is breaking it. One that died doing so is cleared the same way as a lock.
      const { holder, mtimeMs } = readHolder(breaker);
      if (!Number.isNaN(mtimeMs) && isStale(holder, mtimeMs, this.#options.staleMs)) {
        unlinkIfPresent(breaker);
      }
      return false;
    }
    try {
      const { holder, mtimeMs } = readHolder(this.file);
      const same = holder?.token === seen?.token;
      if (same && !Number.isNaN(mtimeMs) && isStale(holder, mtimeMs, this.#options.staleMs)) {
        unlinkIfPresent(this.file);
      }
    } finally {
      removeIfHeldBy(breaker, text);
    }
    return true;
  }
}
