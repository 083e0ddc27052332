import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SessionStore } from "../src/index.js";
import { tempDir } from "./helpers.js";

async function copyStore(from: string): Promise<string> {
  const to = await tempDir();
  await fs.cp(from, to, { recursive: true });
  return to;
}

describe("merging stores of parallel jobs", () => {
  it("keeps every session of both sides and unites child lists", async () => {
    const base = await tempDir();
    const store = await SessionStore.open({ dir: base });
    const root = await store.create({
      agentName: "CodeGenAgent",
      purpose: "p",
      context: { issueNumber: 4 },
    });
    await store.complete(root);
    await store.close();

    // Two jobs restore the same store and each hands off to a different agent.
    const left = await copyStore(base);
    const right = await copyStore(base);
    const l = await SessionStore.open({ dir: left });
    const lc = await l.handoff(root, { toAgent: "ReviewAgent" });
    await l.complete(lc);
    await l.close();
    const r = await SessionStore.open({ dir: right });
    const rc = await r.handoff(root, { toAgent: "SecurityAgent" });
    await r.fail(rc, "found a secret");
    await r.close();

    const merged = await SessionStore.open({ dir: left });
    const report = await merged.mergeFrom(right);
    expect(report.added).toEqual([rc]);
    expect(report.updated).toEqual([root]);
    expect(report.conflicts).toEqual([
      {
        sessionId: root,
        field: "handoff_to",
        kept: "ReviewAgent,SecurityAgent",
        other: "SecurityAgent",
      },
    ]);
    const parent = await merged.getSession(root);
    expect(parent.childSessions).toEqual([lc, rc]);
    expect(parent.status).toBe("HandedOff");
    expect(await merged.getStats()).toMatchObject({
      total: 3,
      completed: 1,
      failed: 1,
      handedOff: 1,
    });
    // Merging again changes nothing.
    expect(await merged.mergeFrom(right)).toEqual({ added: [], updated: [], conflicts: [] });
    await merged.close();
  });

  it("lets the copy further along win and reports a Completed/Failed disagreement", async () => {
    const base = await tempDir();
    let clock = new Date("2026-01-01T00:00:00Z");
    const store = await SessionStore.open({ dir: base, now: () => clock });
    const a = await store.create({ agentName: "A", purpose: "p" });
    const b = await store.create({ agentName: "B", purpose: "p" });
    await store.close();
    const other = await copyStore(base);
    const o = await SessionStore.open({ dir: other, now: () => clock });
    await o.complete(a);
    clock = new Date("2026-01-02T00:00:00Z");
    await o.complete(b);
    await o.close();
    const s = await SessionStore.open({ dir: base, now: () => clock });
    clock = new Date("2026-01-01T12:00:00Z");
    await s.fail(b, "mine failed earlier than theirs completed");
    const report = await s.mergeFrom(other);
    expect((await s.getSession(a)).status).toBe("Completed");
    expect((await s.getSession(b)).status).toBe("Completed");
    expect(report.conflicts).toEqual([
      { sessionId: b, field: "status", kept: "Completed", other: "Failed" },
    ]);
    await s.close();
  });

  it("reads the other store's unflushed journal and refuses a directory without a store", async () => {
    const dir = await tempDir();
    const other = await tempDir();
    const o = await SessionStore.open({ dir: other });
    const x = await o.create({ agentName: "X", purpose: "only in the journal" });
    const s = await SessionStore.open({ dir });
    await s.mergeFrom(other);
    expect((await s.getSession(x)).purpose).toBe("only in the journal");
    await expect(s.mergeFrom(path.join(dir, "nope"))).rejects.toMatchObject({
      code: "STORE_NOT_FOUND",
    });
    await s.close();
  });
});
