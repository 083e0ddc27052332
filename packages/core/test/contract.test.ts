import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  isClaudeSessionId,
  processStartTicks,
  SessionStore,
  STORE_FORMAT_VERSION,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

const CLAUDE_ID = "3f2b8c1e-9d4a-4e6b-8f10-2a3b4c5d6e7f";

async function openTemp() {
  const dir = await tempDir();
  return { dir, store: await SessionStore.open({ dir }) };
}

describe("outcomes and denials", () => {
  it("records a partial outcome with its permission denials, on disk in snake_case", async () => {
    const { dir, store } = await openTemp();
    const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    await store.complete(id, {
      agent: "CodeGenAgent",
      phase: "CodeGeneration",
      outcome: "partial",
      permissionDenials: [{ tool: "Write", count: 2 }],
    });
    await store.close();
    const doc = JSON.parse(await fs.readFile(path.join(dir, "sessions.json"), "utf8"));
    expect(doc.sessions[0].result).toMatchObject({
      outcome: "partial",
      permission_denials: [{ tool: "Write", count: 2 }],
    });
    const again = await SessionStore.open({ dir });
    const result = (await again.getSession(id)).result;
    expect(result?.outcome).toBe("partial");
    expect(result?.permissionDenials).toEqual([{ tool: "Write", count: 2 }]);
    await again.close();
  });

  it("defaults permission denials to none, also for results written before they existed", async () => {
    const { store } = await openTemp();
    const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    const done = await store.complete(id, {
      agent: "CodeGenAgent",
      phase: "CodeGeneration",
      outcome: "success",
    });
    expect(done.result?.permissionDenials).toEqual([]);
    await store.close();
  });
});

describe("process identity", () => {
  it("reads a live process's start ticks and none for a missing pid", async () => {
    const ticks = await processStartTicks(process.pid);
    expect(typeof ticks).toBe("number");
    expect(await processStartTicks(process.pid)).toBe(ticks);
    expect(await processStartTicks(4_194_999)).toBeNull();
  });

  it("stores start ticks with the process info", async () => {
    const { dir, store } = await openTemp();
    const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    const runnerStartTicks = await processStartTicks(process.pid);
    await store.setProcess(id, { pid: 123, startTicks: 456, runnerStartTicks });
    await store.close();
    const doc = JSON.parse(await fs.readFile(path.join(dir, "sessions.json"), "utf8"));
    expect(doc.sessions[0].process).toMatchObject({
      pid: 123,
      start_ticks: 456,
      runner_start_ticks: runnerStartTicks,
    });
    const again = await SessionStore.open({ dir });
    expect((await again.getSession(id)).process).toMatchObject({
      pid: 123,
      startTicks: 456,
      runnerStartTicks,
    });
    await again.close();
  });
});

describe("files the store owns", () => {
  it("keeps transcripts by Claude session id and refuses other names", async () => {
    const { store } = await openTemp();
    expect(await store.readTranscript(CLAUDE_ID)).toBeNull();
    await store.writeTranscript(CLAUDE_ID, '{"type":"user"}\n');
    expect(await store.readTranscript(CLAUDE_ID)).toBe('{"type":"user"}\n');
    for (const bad of ["../x", "c-1", `${CLAUDE_ID}/..`]) {
      await expect(store.writeTranscript(bad, "x")).rejects.toMatchObject({ code: "INVALID_ID" });
      await expect(store.readTranscript(bad)).rejects.toMatchObject({ code: "INVALID_ID" });
    }
    await store.close();
  });

  it("records a patch's digest on its session and refuses a patch that differs", async () => {
    const { dir, store } = await openTemp();
    const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    const other = await store.create({ agentName: "CodeGenAgent", purpose: "q" });
    expect(await store.readPatch(id)).toBeNull();
    const text = "From 1 Mon Sep 17 00:00:00 2001\nSubject: x\n";
    const info = await store.writePatch(id, text);
    expect(info.bytes).toBe(Buffer.byteLength(text));
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.getSession(id)).patch).toEqual(info);
    expect(await store.readPatch(id)).toBe(text);

    const file = path.join(dir, "patches", `${id}.patch`);
    await fs.writeFile(file, `${text}+evil\n`);
    await expect(store.readPatch(id)).rejects.toMatchObject({ code: "PATCH_DIGEST" });
    // Same length, other bytes.
    await fs.writeFile(file, text.replace("x", "y"));
    await expect(store.readPatch(id)).rejects.toMatchObject({ code: "PATCH_DIGEST" });
    // A patch file for which the store never recorded a digest.
    await fs.writeFile(path.join(dir, "patches", `${other}.patch`), text);
    await expect(store.readPatch(other)).rejects.toMatchObject({ code: "PATCH_DIGEST" });
    await fs.rm(file);
    await expect(store.readPatch(id)).rejects.toMatchObject({ code: "PATCH_DIGEST" });
    await store.close();
  });
});

describe("issue snapshots", () => {
  it("keeps the first capture, across instances, the journal and compaction", async () => {
    const { dir, store } = await openTemp();
    const first = await store.captureIssue({ number: 7, title: "Add", body: "please add" });
    expect(first).toMatchObject({ number: 7, title: "Add", body: "please add", url: null });
    const second = await store.captureIssue({ number: 7, title: "Edited", body: "evil" });
    expect(second).toEqual(first);
    // Another instance sees it through the journal, before any compaction.
    const peer = await SessionStore.open({ dir });
    expect(await peer.issueSnapshot(7)).toEqual(first);
    expect(await peer.issueSnapshot(8)).toBeNull();
    await peer.close();
    await store.close();
    const doc = JSON.parse(await fs.readFile(path.join(dir, "sessions.json"), "utf8"));
    expect(doc.issues).toEqual([expect.objectContaining({ number: 7, title: "Add" })]);
    const again = await SessionStore.open({ dir });
    expect(await again.issueSnapshot(7)).toEqual(first);
    await again.close();
  });
});

describe("ids and versions", () => {
  it("recognises Claude session ids", () => {
    expect(isClaudeSessionId(CLAUDE_ID)).toBe(true);
    for (const bad of ["", "c-1", "../../etc/passwd", `${CLAUDE_ID}\n`]) {
      expect(isClaudeSessionId(bad)).toBe(false);
    }
  });

  it("writes the store format version into the journal header", async () => {
    const { dir, store } = await openTemp();
    await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    const header = (await fs.readFile(path.join(dir, "sessions.journal"), "utf8")).split("\n")[0];
    expect(JSON.parse(header as string)).toMatchObject({
      journal: 1,
      format: STORE_FORMAT_VERSION,
    });
    await store.close();
  });
});
