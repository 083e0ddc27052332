import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type MiyabiError, SessionStore } from "../src/index.js";
import { tempDir } from "./helpers.js";

async function openTemp(extra: { now?: () => Date } = {}) {
  const dir = await tempDir();
  return { dir, store: await SessionStore.open({ dir, ...extra }) };
}

async function codeGen(store: SessionStore, issue = 7) {
  return store.create({
    agentName: "CodeGenAgent",
    purpose: `Code generation for #${issue}`,
    context: {
      issueNumber: issue,
      currentPhase: "CodeGeneration",
      worktreePath: `.worktrees/issue-${issue}`,
    },
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as MiyabiError).code;
  }
  throw new Error("expected the call to fail");
}

describe("SessionStore", () => {
  it("reloads everything, previous results included, from disk in a new instance", async () => {
    const { dir, store } = await openTemp();
    const a = await codeGen(store);
    await store.complete(a, {
      agent: "CodeGenAgent",
      phase: "CodeGeneration",
      outcome: "success",
      summary: "wrote src/add.ts",
      claudeSessionId: "c-1",
      numTurns: 3,
      totalCostUsd: 0.25,
      usage: { inputTokens: 10, outputTokens: 20 },
    });
    const b = await store.handoff(a, {
      toAgent: "ReviewAgent",
      context: { currentPhase: "Review" },
    });
    await store.close();

    const again = await SessionStore.open({ dir });
    const review = await again.getSession(b);
    expect(review.context.previousResults).toEqual([
      expect.objectContaining({
        agent: "CodeGenAgent",
        summary: "wrote src/add.ts",
        claudeSessionId: "c-1",
        numTurns: 3,
        totalCostUsd: 0.25,
        usage: {
          inputTokens: 10,
          outputTokens: 20,
          cacheCreationInputTokens: 0,
          cacheReadInputTokens: 0,
        },
      }),
    ]);
    expect(review.context.worktreePath).toBe(".worktrees/issue-7");
    expect(review.purpose).toBe(`Handoff from session ${a}`);
    expect((await again.getSession(a)).result?.summary).toBe("wrote src/add.ts");
    await again.close();
  });

  it("sees changes another instance made without reopening", async () => {
    const { dir, store } = await openTemp();
    const other = await SessionStore.open({ dir });
    const a = await codeGen(store);
    expect((await other.getSession(a)).agentName).toBe("CodeGenAgent");
    await other.compact();
    const b = await store.handoff(a, { toAgent: "ReviewAgent" });
    expect((await other.getLineage(b)).map((s) => s.id)).toEqual([a, b]);
    await Promise.all([store.close(), other.close()]);
  });

  it("applies the transition table and leaves the store unchanged on a refused change", async () => {
    const { store } = await openTemp();
    const a = await codeGen(store);
    await store.complete(a);
    expect(await codeOf(store.complete(a))).toBe("ILLEGAL_TRANSITION");
    expect(await codeOf(store.fail(a, "late"))).toBe("ILLEGAL_TRANSITION");
    const b = await store.handoff(a, { toAgent: "ReviewAgent" });
    const snapshot = JSON.stringify(await store.snapshot());
    expect(await codeOf(store.handoff(a, { toAgent: "TestAgent" }))).toBe("ILLEGAL_TRANSITION");
    expect(await codeOf(store.retry(b))).toBe("ILLEGAL_TRANSITION");
    expect(JSON.stringify(await store.snapshot())).toBe(snapshot);
    await store.fail(b, "tests failed");
    expect(await codeOf(store.handoff(b, { toAgent: "TestAgent" }))).toBe("ILLEGAL_TRANSITION");
    await store.close();
  });

  it("retries a failed phase as a sibling under the same parent", async () => {
    const { store } = await openTemp();
    const a = await codeGen(store, 9);
    const b = await store.handoff(a, {
      toAgent: "ReviewAgent",
      context: { currentPhase: "Review" },
    });
    await store.fail(b, "model error");
    const c = await store.retry(b);
    expect((await store.getSession(a)).childSessions).toEqual([b, c]);
    const retry = await store.getSession(c);
    expect(retry).toMatchObject({
      agentName: "ReviewAgent",
      parentSession: a,
      retryOf: b,
      status: "Active",
    });
    expect(retry.context.currentPhase).toBe("Review");
    expect(await codeOf(store.retry(b))).toBe("ILLEGAL_TRANSITION");
    expect((await store.issueHead(9))?.id).toBe(c);
    expect((await store.getLineage(c)).map((s) => s.id)).toEqual([a, c]);
    expect((await store.getDescendants(a)).map((s) => s.id)).toEqual([b, c]);
    await store.close();
  });

  it("fans out to parallel agents in one change", async () => {
    const { store } = await openTemp();
    const a = await codeGen(store);
    const [x, y] = await store.fanOut(a, [
      { toAgent: "ReviewAgent" },
      { toAgent: "SecurityAgent" },
    ]);
    const parent = await store.getSession(a);
    expect(parent.childSessions).toEqual([x, y]);
    expect(parent.handoffTo).toBe("ReviewAgent,SecurityAgent");
    expect(parent.status).toBe("HandedOff");
    await store.close();
  });

  it("answers stats, lists by issue and status, and sums costs", async () => {
    const { store } = await openTemp();
    const a = await codeGen(store, 1);
    await codeGen(store, 2);
    await store.complete(a, {
      agent: "CodeGenAgent",
      phase: "CodeGeneration",
      outcome: "success",
      totalCostUsd: 0.5,
    });
    const b = await store.handoff(a, { toAgent: "ReviewAgent" });
    await store.fail(b, "no");
    const stats = await store.getStats();
    expect(stats).toMatchObject({
      total: 3,
      active: 1,
      handedOff: 1,
      completed: 0,
      failed: 1,
      totalCostUsd: 0.5,
    });
    expect(stats.active + stats.handedOff + stats.completed + stats.failed).toBe(stats.total);
    expect((await store.issueSessions(1)).map((s) => s.id)).toEqual([a, b]);
    expect((await store.list({ status: ["Failed", "HandedOff"] })).map((s) => s.id)).toEqual([
      a,
      b,
    ]);
    await store.close();
  });

  it("prunes whole finished lineages older than the cutoff, with their logs", async () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const { store } = await openTemp({ now: () => now });
    const old = await codeGen(store, 1);
    const oldChild = await store.handoff(old, { toAgent: "ReviewAgent" });
    await store.complete(oldChild);
    await store.appendLog(oldChild, "old log\n");
    const running = await codeGen(store, 2);
    const mixed = await codeGen(store, 3);
    await store.complete(mixed);
    now = new Date("2026-01-28T00:00:00Z");
    const fresh = await store.handoff(mixed, { toAgent: "ReviewAgent" });
    await store.complete(fresh);
    now = new Date("2026-02-01T00:00:00Z");

    const week = 7 * 24 * 3600 * 1000;
    const dry = await store.prune({ olderThanMs: week, dryRun: true });
    expect(dry.removed.sort()).toEqual([old, oldChild].sort());
    expect((await store.getStats()).total).toBe(5);
    const report = await store.prune({ olderThanMs: week });
    expect(report.removed.sort()).toEqual([old, oldChild].sort());
    const left = (await store.list()).map((s) => s.id);
    expect(left).toEqual([running, mixed, fresh]);
    await expect(fs.access(store.logPath(oldChild))).rejects.toThrow();
    await store.close();
  });

  it("appends and reads session logs", async () => {
    const { store } = await openTemp();
    const a = await codeGen(store);
    expect(await store.readLog(a)).toBe("");
    await store.appendLog(a, "one\n");
    await store.appendLog(a, "two\n");
    expect(await store.readLog(a)).toBe("one\ntwo\n");
    expect(store.logPath(a)).toBe(path.join(store.dir, "logs", `${a}.log`));
    await store.close();
  });

  it("rejects ids and agent names that could escape the store directory", async () => {
    const { dir, store } = await openTemp();
    for (const bad of [
      "../../etc/passwd",
      "a/b",
      "..",
      "",
      "550e8400-e29b-41d4-a716-44665544000/",
    ]) {
      expect(await codeOf(store.getSession(bad))).toBe("INVALID_ID");
      expect(() => store.logPath(bad)).toThrow(/not a session id/);
    }
    for (const bad of ["../x", "a/b", "a b", "", ".hidden", "x".repeat(65)]) {
      expect(await codeOf(store.create({ agentName: bad, purpose: "p" }))).toBe(
        "INVALID_AGENT_NAME",
      );
    }
    expect(await codeOf(store.getSession("123e4567-e89b-42d3-a456-426614174000"))).toBe(
      "SESSION_NOT_FOUND",
    );
    await store.close();
    expect(await fs.readdir(dir)).not.toContain("sessions.json");
  });

  it("validates inputs with messages that name the field", async () => {
    const { store } = await openTemp();
    await expect(
      store.create({ agentName: "A", purpose: "p", context: { currentPhase: "Deploy" as never } }),
    ).rejects.toThrow(/context\.currentPhase/);
    await expect(SessionStore.open({ dir: "" })).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await store.close();
    await expect(store.listActive()).rejects.toMatchObject({ code: "STORE_CLOSED" });
  });

  it("refuses to create a store where none exists when asked not to", async () => {
    const dir = path.join(await tempDir(), "missing");
    await expect(SessionStore.open({ dir, create: false })).rejects.toMatchObject({
      code: "STORE_NOT_FOUND",
    });
    await expect(fs.access(dir)).rejects.toThrow();
  });

  it("serializes concurrent calls on one instance without losing any", async () => {
    const { store } = await openTemp();
    const roots = await Promise.all(Array.from({ length: 50 }, (_, i) => codeGen(store, i)));
    const children = await Promise.all(
      roots.map((r) => store.handoff(r, { toAgent: "ReviewAgent" })),
    );
    await Promise.all(children.map((c) => store.complete(c)));
    const stats = await store.getStats();
    expect(stats).toMatchObject({ total: 100, handedOff: 50, completed: 50 });
    await store.close();
  });

  it("compacts the journal once it grows past the threshold", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir, compactAfterBytes: 4096 });
    for (let i = 0; i < 20; i++) await codeGen(store, i);
    const journal = await fs.stat(path.join(dir, "sessions.journal"));
    expect(journal.size).toBeLessThan(4096);
    const doc = JSON.parse(await fs.readFile(path.join(dir, "sessions.json"), "utf8"));
    expect(doc.sessions.length).toBeGreaterThan(0);
    await store.close();
    const reopened = await SessionStore.open({ dir });
    expect((await reopened.getStats()).total).toBe(20);
    await reopened.close();
  });

  it("fails sessions whose runner process on this host is gone", async () => {
    const { dir, store } = await openTemp();
    const a = await codeGen(store);
    const b = await codeGen(store);
    // pid 2^22+ is above Linux's pid_max default, so no process can have it.
    await store.setProcess(a, { pid: null, runnerPid: 4_194_999 });
    await store.setProcess(b, { pid: null, runnerPid: process.pid });
    await store.close();
    const reopened = await SessionStore.open({ dir });
    const orphan = await reopened.getSession(a);
    expect(orphan.status).toBe("Failed");
    expect(orphan.errorMessage).toMatch(/^orphaned: /);
    expect((await reopened.getSession(b)).status).toBe("Active");
    await reopened.close();
  });
});

describe("reads and writes at any size", () => {
  it("answers reads from memory without the lock while nothing changed", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir, lockTimeoutMs: 50 });
    const a = await codeGen(store);
    await store.getStats();
    // Another live process holds the lock (as a writer would, mid-change).
    const lock = path.join(dir, "sessions.lock");
    await fs.symlink(
      JSON.stringify({ pid: process.pid, hostname: os.hostname(), token: "someone-else" }),
      lock,
    );
    expect((await store.getStats()).total).toBe(1);
    expect((await store.getSession(a)).id).toBe(a);
    expect(await store.getLineage(a)).toHaveLength(1);
    expect(await store.listActive()).toHaveLength(1);
    await expect(codeGen(store)).rejects.toMatchObject({ code: "LOCK_TIMEOUT" });
    await fs.rm(lock);
    await store.close();
  });

  it("notices another instance's change with a stat and catches up", async () => {
    const dir = await tempDir();
    const a = await SessionStore.open({ dir });
    const b = await SessionStore.open({ dir });
    await codeGen(a);
    expect((await b.getStats()).total).toBe(1);
    const second = await codeGen(b);
    expect((await a.getStats()).total).toBe(2);
    expect((await a.getSession(second)).id).toBe(second);
    await b.compact();
    await codeGen(b);
    expect((await a.getStats()).total).toBe(3);
    await a.close();
    await b.close();
  });

  it("keeps a large store's journal on close and folds it in on open, compact() on request", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir, compactOnCloseBytes: 0 });
    const a = await codeGen(store);
    await store.close();
    const journal = await fs.readFile(path.join(dir, "sessions.journal"), "utf8");
    expect(journal.split("\n").length).toBeGreaterThan(2);
    await expect(fs.access(path.join(dir, "sessions.json"))).rejects.toThrow();
    const again = await SessionStore.open({ dir, compactOnCloseBytes: 0 });
    expect((await again.getSession(a)).id).toBe(a);
    await again.compact();
    const doc = JSON.parse(await fs.readFile(path.join(dir, "sessions.json"), "utf8"));
    expect(doc.sessions.map((s: { id: string }) => s.id)).toEqual([a]);
    await again.close();
  });

  it("fully validates a sessions.json that is not byte for byte the one it wrote", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    await codeGen(store);
    await store.close();
    const file = path.join(dir, "sessions.json");
    const text = await fs.readFile(file, "utf8");
    await fs.writeFile(file, text.replace('"Active"', '"Running"'));
    await expect(SessionStore.open({ dir })).rejects.toMatchObject({ code: "STORE_CORRUPT" });
  });
});
