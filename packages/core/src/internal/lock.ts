import fs from "node:fs/promises";
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

async function readHolder(file: string): Promise<{ holder: LockHolder | null; mtimeMs: number }> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, "utf8"), fs.stat(file)]);
    try {
      const parsed = JSON.parse(text) as Partial<LockHolder>;
      if (typeof parsed.pid === "number" && typeof parsed.hostname === "string") {
        return {
          holder: { pid: parsed.pid, hostname: parsed.hostname, token: String(parsed.token) },
          mtimeMs: stat.mtimeMs,
        };
      }
    } catch {
      // A holder that died between creating and writing the file leaves it empty or partial.
    }
    return { holder: null, mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (isErrno(error, "ENOENT")) return { holder: null, mtimeMs: Number.NaN };
    throw error;
  }
}

function isStale(holder: LockHolder | null, mtimeMs: number, staleMs: number): boolean {
  if (holder && holder.hostname === hostname()) return !pidAlive(holder.pid);
  // Holders on other hosts (shared disks) or unreadable files can only be judged by age.
  return Date.now() - mtimeMs > staleMs;
}

function newToken(): string {
  return `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Create `file` holding our holder record, or return false if it exists. The content is written
 * to a private file first and hard-linked into place, so a lock file is never seen empty or half
 * written even if its creator is killed half-way.
 */
async function createWithContent(file: string, token: string): Promise<boolean> {
  const tmp = `${file}.${token}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ pid: process.pid, hostname: hostname(), token }));
  try {
    await fs.link(tmp, file);
    return true;
  } catch (error) {
    if (isErrno(error, "EEXIST")) return false;
    throw error;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * An exclusive lock between processes on one machine: a lock file created with O_EXCL naming its
 * holder. A lock whose holder died is broken under a second short-lived lock, so two waiters
 * cannot both break it and then delete each other's fresh lock.
 */
export class FileLock {
  readonly file: string;
  readonly #options: FileLockOptions;

  constructor(file: string, options: FileLockOptions) {
    this.file = file;
    this.#options = options;
  }

  async acquire(): Promise<() => Promise<void>> {
    const token = newToken();
    const started = Date.now();
    let delay = 1;
    for (;;) {
      if (await createWithContent(this.file, token)) return () => this.#release(token);
      const { holder, mtimeMs } = await readHolder(this.file);
      if (!Number.isNaN(mtimeMs) && isStale(holder, mtimeMs, this.#options.staleMs)) {
        await this.#breakStale(holder);
        continue;
      }
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
  }

  async #breakStale(seen: LockHolder | null): Promise<void> {
    const breaker = `${this.file}.break`;
    if (!(await createWithContent(breaker, newToken()))) {
      // Someone else is breaking it. One that died doing so is cleared the same way as a lock.
      const { holder, mtimeMs } = await readHolder(breaker);
      if (!Number.isNaN(mtimeMs) && isStale(holder, mtimeMs, this.#options.staleMs)) {
        await fs.rm(breaker, { force: true });
      }
      return;
    }
    try {
      const { holder, mtimeMs } = await readHolder(this.file);
      const same = holder?.token === seen?.token;
      if (same && !Number.isNaN(mtimeMs) && isStale(holder, mtimeMs, this.#options.staleMs)) {
        await fs.rm(this.file, { force: true });
      }
    } finally {
      await fs.rm(breaker, { force: true });
    }
  }

  async #release(token: string): Promise<void> {
    const { holder } = await readHolder(this.file);
    // Never delete a lock that was broken and re-taken by someone else while we held it.
    if (holder?.token === token) await fs.rm(this.file, { force: true });
  }
}
