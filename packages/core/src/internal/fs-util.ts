import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { UnsafePathError } from "./errors.js";

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/*
 * Nothing in the store is read or written through a symbolic link: whoever can plant one
 * (an agent, a crafted cache entry) could otherwise make the store overwrite or disclose any
 * file its user can reach. Files are opened with O_NOFOLLOW; directories are checked with lstat.
 */

function refuseLink(file: string, error: unknown): never {
  throw new UnsafePathError(file, "it is a symbolic link", { cause: error });
}

/** Open `file` without following a final symlink; `flags` are fs.constants O_* bits. */
export async function openNoFollow(
  file: string,
  flags: number,
  mode = 0o644,
): Promise<fs.FileHandle> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, flags | constants.O_NOFOLLOW, mode);
  } catch (error) {
    if (isErrno(error, "ELOOP")) refuseLink(file, error);
    throw error;
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new UnsafePathError(file, "it is not a regular file");
  }
  return handle;
}

/** The file's text, or null when it does not exist. */
export async function readFileNoFollow(file: string): Promise<Buffer | null> {
  let handle: fs.FileHandle;
  try {
    handle = await openNoFollow(file, constants.O_RDONLY);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export async function appendFileNoFollow(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await openNoFollow(
    file,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
  );
  try {
    await handle.write(typeof data === "string" ? Buffer.from(data, "utf8") : data);
  } finally {
    await handle.close();
  }
}

/** Create `dir` if needed and make sure it is a real directory, not a link to one. */
export async function ensureRealDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const stat = await fs.lstat(dir);
  if (stat.isSymbolicLink()) refuseLink(dir, null);
  if (!stat.isDirectory()) throw new UnsafePathError(dir, "it is not a directory");
}

/** lstat that answers null for a missing path. */
export async function lstatOrNull(file: string): Promise<import("node:fs").Stats | null> {
  try {
    return await fs.lstat(file);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
}

/** fsync a directory so a rename or create inside it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replace `file` with `data` so that a crash at any point leaves either the old or the new
 * content, never a mix: write a temporary sibling, fsync it, rename over, fsync the directory.
 * A symlink in `file`'s place is refused rather than replaced.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const existing = await lstatOrNull(file);
  if (existing?.isSymbolicLink()) refuseLink(file, null);
  if (existing && !existing.isFile()) throw new UnsafePathError(file, "it is not a regular file");
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  // O_EXCL: never reuse (or follow) something already at the temporary name.
  const handle = await fs.open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await syncDir(path.dirname(file));
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to someone else.
    return isErrno(error, "EPERM");
  }
}

// Temporary files carry their writer's pid: `x.tmp-<pid>-<hex>` (atomic writes) and
// `x.<pid>-<time>-<rand>.tmp` (lock files).
const TEMP_NAME = [/\.tmp-(\d+)-[0-9a-f]+$/, /\.(\d+)-\d+-[0-9a-z]+\.tmp$/];

/** Remove temporary files left in `dir` by writers that were killed mid-write. */
export async function removeDeadWritersTemps(dir: string): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    for (const pattern of TEMP_NAME) {
      const pid = Number(pattern.exec(name)?.[1]);
      if (pid && pid !== process.pid && !pidAlive(pid))
        await fs.rm(path.join(dir, name), { force: true });
    }
  }
}
