import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
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
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const handle = await fs.open(tmp, "wx", 0o644);
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
