import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FileLock } from "../src/internal/lock.js";
import { tempDir } from "./helpers.js";

const DEAD = 4_194_999;
const holder = (pid: number, token: string) =>
  JSON.stringify({ pid, hostname: os.hostname(), token });

async function lockIn() {
  const dir = await tempDir();
  const file = path.join(dir, "sessions.lock");
  return { dir, file, lock: new FileLock(file, { timeoutMs: 200, staleMs: 30_000 }) };
}

describe("the store lock", () => {
  it("is one symbolic link naming its holder, removed on release", async () => {
    const { dir, file, lock } = await lockIn();
    const release = await lock.acquire();
    const text = await fs.readlink(file);
    expect(JSON.parse(text)).toMatchObject({ pid: process.pid, hostname: os.hostname() });
    await expect(lock.acquire()).rejects.toMatchObject({ code: "LOCK_TIMEOUT" });
    release();
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("names its holder in under 60 bytes beside the host name, so ext4 keeps it in the inode", async () => {
    const { file, lock } = await lockIn();
    const release = await lock.acquire();
    const text = await fs.readlink(file);
    release();
    // 7-digit pid, 6-character token and the JSON around them: 46 bytes.
    expect(Buffer.byteLength(text) - Buffer.byteLength(os.hostname())).toBeLessThanOrEqual(46);
  });

  it("releases a regular-file lock it holds (file systems without symbolic links)", async () => {
    const { dir, file, lock } = await lockIn();
    const release = await lock.acquire();
    const text = await fs.readlink(file);
    await fs.rm(file);
    await fs.writeFile(file, text);
    release();
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it("takes over a lock whose holder died, in either form", async () => {
    for (const plant of [
      (file: string) => fs.symlink(holder(DEAD, "a"), file),
      // Releases before format 2 wrote a regular file.
      (file: string) => fs.writeFile(file, holder(DEAD, "b")),
    ]) {
      const { dir, file, lock } = await lockIn();
      await plant(file);
      const release = await lock.acquire();
      expect(JSON.parse(await fs.readlink(file)).pid).toBe(process.pid);
      release();
      expect(await fs.readdir(dir)).toEqual([]);
    }
  });

  it("never releases a lock someone else holds now", async () => {
    const { file, lock } = await lockIn();
    const release = await lock.acquire();
    await fs.rm(file);
    await fs.symlink(holder(process.pid, "someone-else"), file);
    release();
    expect(JSON.parse(await fs.readlink(file)).token).toBe("someone-else");
  });
});
