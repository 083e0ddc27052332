import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SessionStore } from "../src/index.js";
import { tempDir } from "./helpers.js";

const CONVERSATION = "4a1b2c3d-1111-4222-8333-944455556666";

/** A file outside the store that a planted link points at; it must never change. */
async function victim(): Promise<{ file: string; unchanged: () => Promise<void> }> {
  const file = path.join(await tempDir("miyabi-victim-"), "secret.txt");
  await fs.writeFile(file, "do not touch\n");
  return {
    file,
    unchanged: async () => expect(await fs.readFile(file, "utf8")).toBe("do not touch\n"),
  };
}

describe("the store never goes through a symbolic link", () => {
  for (const name of ["sessions.json", "sessions.journal"]) {
    it(`refuses to open a store whose ${name} is a link`, async () => {
      const dir = await tempDir();
      const v = await victim();
      await fs.symlink(v.file, path.join(dir, name));
      await expect(SessionStore.open({ dir })).rejects.toMatchObject({
        code: "UNSAFE_PATH",
        message: expect.stringContaining("symbolic link"),
      });
      await v.unchanged();
    });
  }

  it("refuses a linked log file or logs directory", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    const v = await victim();
    await fs.symlink(v.file, store.logPath(id));
    await expect(store.appendLog(id, "x")).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await expect(store.readLog(id)).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await fs.rm(path.join(dir, "logs"), { recursive: true });
    await fs.symlink(path.dirname(v.file), path.join(dir, "logs"));
    await expect(store.appendLog(id, "x")).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await v.unchanged();
    expect(await fs.readdir(path.dirname(v.file))).toEqual(["secret.txt"]);
    await store.close();
  });

  it("refuses linked transcripts and patches, for writing and reading", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    const v = await victim();
    await fs.mkdir(path.join(dir, "transcripts"));
    await fs.mkdir(path.join(dir, "patches"));
    await fs.symlink(v.file, path.join(dir, "transcripts", `${CONVERSATION}.jsonl`));
    await fs.symlink(v.file, path.join(dir, "patches", `${id}.patch`));
    await expect(store.writeTranscript(CONVERSATION, "x")).rejects.toMatchObject({
      code: "UNSAFE_PATH",
    });
    await expect(store.readTranscript(CONVERSATION)).rejects.toMatchObject({
      code: "UNSAFE_PATH",
    });
    await expect(store.writePatch(id, "x")).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await expect(store.readPatch(id)).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    expect((await store.getSession(id)).patch).toBeNull();
    await v.unchanged();
    await store.close();
  });

  it("does not copy through links when merging another store", async () => {
    const dir = await tempDir();
    const other = await tempDir();
    const o = await SessionStore.open({ dir: other });
    const id = await o.create({ agentName: "CodeGenAgent", purpose: "p" });
    await o.close();
    const v = await victim();
    await fs.symlink(v.file, path.join(other, "logs", `${id}.log`));
    const store = await SessionStore.open({ dir });
    await expect(store.mergeFrom(other)).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await store.close();
  });
});
