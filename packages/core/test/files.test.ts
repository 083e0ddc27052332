import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SessionStore } from "../src/index.js";
import { tempDir } from "./helpers.js";

const CONVERSATION = "4a1b2c3d-1111-4222-8333-944455556666";
const SHARED = "5b1b2c3d-1111-4222-8333-944455556666";

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

describe("merging carries the store's files", () => {
  it("brings logs, transcripts, patches and issue snapshots along with the sessions", async () => {
    const mainDir = await tempDir();
    const legDir = await tempDir();
    const main = await SessionStore.open({ dir: mainDir });
    await main.captureIssue({ number: 7, title: "first", body: "seen by main" });
    const root = await main.create({ agentName: "CodeGenAgent", purpose: "p" });
    await main.complete(root);
    await main.close();
    await fs.cp(mainDir, legDir, { recursive: true });

    const leg = await SessionStore.open({ dir: legDir });
    await leg.captureIssue({ number: 7, title: "edited later", body: "x" });
    await leg.captureIssue({ number: 8, title: "other", body: "only in the leg" });
    const review = await leg.handoff(root, { toAgent: "ReviewAgent" });
    await leg.appendLog(review, "review log\n");
    await leg.writeTranscript(CONVERSATION, '{"n":1}\n');
    await leg.writePatch(review, "patch text\n");
    await leg.complete(review, {
      agent: "ReviewAgent",
      phase: "Review",
      outcome: "success",
      claudeSessionId: CONVERSATION,
    });
    // Left unclosed: the merge must read the leg's journal too.

    const merged = await SessionStore.open({ dir: mainDir });
    const report = await merged.mergeFrom(legDir);
    expect(report.added).toEqual([review]);
    expect(await merged.readLog(review)).toBe("review log\n");
    expect(await merged.readTranscript(CONVERSATION)).toBe('{"n":1}\n');
    expect(await merged.readPatch(review)).toBe("patch text\n");
    expect((await merged.issueSnapshot(7))?.title).toBe("first");
    expect((await merged.issueSnapshot(8))?.body).toBe("only in the leg");
    // A fork from the merged-in session finds its conversation through the store.
    const fork = await merged.handoff(review, { toAgent: "TestAgent" });
    const inherited = (await merged.getSession(fork)).context.previousResults.at(-1);
    expect(await merged.readTranscript(inherited?.claudeSessionId as string)).toBe('{"n":1}\n');
    await merged.close();
    await leg.close();
  });

  it("keeps the longer copy of a log or transcript both sides have", async () => {
    const aDir = await tempDir();
    const bDir = await tempDir();
    const a = await SessionStore.open({ dir: aDir });
    const id = await a.create({ agentName: "CodeGenAgent", purpose: "p" });
    await a.appendLog(id, "one\n");
    await a.writeTranscript(CONVERSATION, "1\n2\n");
    await a.close();
    await fs.cp(aDir, bDir, { recursive: true });
    const b = await SessionStore.open({ dir: bDir });
    await b.appendLog(id, "two\n");
    await b.writeTranscript(CONVERSATION, "1\n");
    await b.close();
    const again = await SessionStore.open({ dir: aDir });
    await again.mergeFrom(bDir);
    expect(await again.readLog(id)).toBe("one\ntwo\n");
    expect(await again.readTranscript(CONVERSATION)).toBe("1\n2\n");
    await again.close();
  });

  it("refuses a patch in the other store that does not match its recorded digest", async () => {
    const mainDir = await tempDir();
    const legDir = await tempDir();
    const leg = await SessionStore.open({ dir: legDir });
    const id = await leg.create({ agentName: "CodeGenAgent", purpose: "p" });
    await leg.writePatch(id, "good\n");
    await leg.close();
    await fs.writeFile(path.join(legDir, "patches", `${id}.patch`), "evil\n");
    const main = await SessionStore.open({ dir: mainDir });
    await expect(main.mergeFrom(legDir)).rejects.toMatchObject({ code: "PATCH_DIGEST" });
    expect((await main.getStats()).total).toBe(0);
    await expect(fs.access(path.join(mainDir, "patches", `${id}.patch`))).rejects.toThrow();
    await main.close();
  });
});

describe("pruning", () => {
  it("leaves no file of a pruned lineage, and keeps a transcript a kept session still uses", async () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const dir = await tempDir();
    const store = await SessionStore.open({ dir, now: () => now });
    const old = await store.create({ agentName: "CodeGenAgent", purpose: "old" });
    await store.appendLog(old, "log\n");
    await store.writePatch(old, "patch\n");
    await store.writeTranscript(CONVERSATION, "conversation\n");
    await store.writeTranscript(SHARED, "shared\n");
    await store.complete(old, {
      agent: "CodeGenAgent",
      phase: "CodeGeneration",
      outcome: "success",
      claudeSessionId: CONVERSATION,
    });
    const oldChild = await store.handoff(old, { toAgent: "ReviewAgent" });
    await store.appendLog(oldChild, "child log\n");
    await store.fail(oldChild, "boom", {
      agent: "ReviewAgent",
      phase: "Review",
      outcome: "failure",
      claudeSessionId: SHARED,
    });
    // A retry of the failed child continues the same conversation and is still running.
    now = new Date("2026-02-01T00:00:00Z");
    const kept = await store.create({
      agentName: "ReviewAgent",
      purpose: "kept",
      context: {
        currentPhase: "Review",
        previousResults: [
          { agent: "ReviewAgent", phase: "Review", outcome: "failure", claudeSessionId: SHARED },
        ],
      },
    });
    const report = await store.prune({ olderThanMs: 7 * 24 * 3600 * 1000 });
    expect(report.removed.sort()).toEqual([old, oldChild].sort());
    await store.close();
    expect(await allFiles(dir)).toEqual([
      "sessions.journal",
      "sessions.json",
      `transcripts/${SHARED}.jsonl`,
    ]);
    const again = await SessionStore.open({ dir });
    expect((await again.list()).map((s) => s.id)).toEqual([kept]);
    await again.close();
  });
});

describe("deep lineages", () => {
  it("walks, trees and prunes a 20,000-deep chain without exhausting the stack", async () => {
    const dir = await tempDir();
    const depth = 20_000;
    const ids = Array.from(
      { length: depth },
      (_, i) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
    );
    const at = "2026-01-01T00:00:00.000Z";
    const sessions = ids.map((id, i) => ({
      id,
      agent_name: "CodeGenAgent",
      purpose: "deep",
      context: { issue_number: 1, current_phase: "CodeGeneration", worktree_path: null },
      created_at: at,
      status: i === depth - 1 ? "Completed" : "HandedOff",
      parent_session: i === 0 ? null : ids[i - 1],
      child_sessions: i === depth - 1 ? [] : [ids[i + 1]],
      handoff_to: null,
      error_message: null,
    }));
    await fs.writeFile(path.join(dir, "sessions.json"), JSON.stringify({ sessions, version: 1 }));
    const store = await SessionStore.open({ dir, now: () => new Date("2026-06-01T00:00:00Z") });
    const last = ids[depth - 1] as string;
    const lineage = await store.getLineage(last);
    expect(lineage.length).toBe(depth);
    expect(lineage[0]?.id).toBe(ids[0]);
    expect((await store.getDescendants(ids[0] as string)).length).toBe(depth - 1);
    const tree = await store.getTree(ids[0] as string);
    expect(tree.children[0]?.session.id).toBe(ids[1]);
    const report = await store.prune({ olderThanMs: 1000 });
    expect(report.removed.length).toBe(depth);
    expect((await store.getStats()).total).toBe(0);
    await store.close();
  });
});
