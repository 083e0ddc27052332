import fs from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SessionStore } from "../src/index.js";
import { pickStats } from "../src/internal/stats.js";
import { StatsSchema } from "../src/internal/summary.js";
import { peekStats } from "../src/peek.js";
import { tempDir } from "./helpers.js";

// Above Linux's default pid_max, so no process can have it: a runner that is gone.
const DEAD_RUNNER = 4_194_999;

/** A small store in every status, closed as a command leaves it (compacted, header only). */
async function closedStore() {
  const dir = await tempDir();
  const store = await SessionStore.open({ dir });
  const root = await store.create({
    agentName: "CodeGenAgent",
    purpose: "root",
    context: { issueNumber: 7, currentPhase: "CodeGeneration", worktreePath: null },
  });
  await store.complete(root, {
    agent: "CodeGenAgent",
    phase: "CodeGeneration",
    outcome: "success",
    totalCostUsd: 0.125,
  });
  const review = await store.handoff(root, {
    toAgent: "ReviewAgent",
    context: { currentPhase: "Review" },
  });
  await store.fail(review, "red", {
    agent: "ReviewAgent",
    phase: "Review",
    outcome: "failure",
    totalCostUsd: 0.0625,
  });
  await store.create({ agentName: "TestAgent", purpose: "other" });
  const stats = await store.getStats();
  await store.close();
  return { dir, stats };
}

async function editJournal(dir: string, edit: (text: string) => string) {
  const file = path.join(dir, "sessions.journal");
  await fs.writeFile(file, edit(await fs.readFile(file, "utf8")));
}

describe("peekStats: a one-shot stats without the schemas", () => {
  it("gives exactly what opening the store gives, once a command has closed it", async () => {
    const { dir, stats } = await closedStore();
    expect(stats).toMatchObject({ total: 3, handedOff: 1, failed: 1, active: 1 });
    expect(peekStats(dir)).toEqual(stats);
    const reopened = await SessionStore.open({ dir });
    expect(await reopened.getStats()).toEqual(peekStats(dir));
    await reopened.close();
  });

  it("folds the journal's records in, as a large store keeps them between compactions", async () => {
    const { dir } = await closedStore();
    // close() keeps the journal's records when it does not compact (a large store).
    const store = await SessionStore.open({ dir, compactOnCloseBytes: 0 });
    const id = await store.create({ agentName: "A", purpose: "p" });
    await store.complete(id, { agent: "A", phase: "IssueAnalysis", outcome: "success" });
    await store.fail(await store.create({ agentName: "B", purpose: "q" }), "no");
    const stats = await store.getStats();
    await store.close();
    expect(stats).toMatchObject({ total: 5, completed: 1, failed: 2, handedOff: 1 });
    expect(peekStats(dir)).toEqual(stats);
  });

  it("leaves a store with a running session to the full open, which reconciles it", async () => {
    for (const compactOnCloseBytes of [undefined, 0]) {
      const { dir } = await closedStore();
      const store = await SessionStore.open({ dir, compactOnCloseBytes });
      const running = await store.create({ agentName: "A", purpose: "p" });
      await store.setProcess(running, { runnerPid: DEAD_RUNNER });
      await store.close();
      expect(peekStats(dir)).toBeNull();
      const reopened = await SessionStore.open({ dir });
      expect((await reopened.getSession(running)).status).toBe("Failed");
      await reopened.close();
    }
  });

  it("leaves records it cannot fold to the full open: torn, damaged, without a stats change", async () => {
    const records = async () => {
      const { dir } = await closedStore();
      const store = await SessionStore.open({ dir, compactOnCloseBytes: 0 });
      await store.create({ agentName: "A", purpose: "p" });
      await store.create({ agentName: "B", purpose: "q" });
      await store.close();
      return dir;
    };
    const torn = await records();
    await editJournal(torn, (t) => t.slice(0, -5));
    expect(peekStats(torn)).toBeNull();

    const damaged = await records();
    // The first record's checksum no longer matches; the second one still does.
    await editJournal(damaged, (t) => t.replace('"purpose":"p"', '"purpose":"x"'));
    expect(peekStats(damaged)).toBeNull();

    // A record an older release wrote has no stats change; rewrite it with a valid checksum.
    const older = await records();
    const { encodeRecord } = await import("../src/internal/journal.js");
    await editJournal(older, (t) => {
      const [header = "", first = ""] = t.split("\n");
      const { stats: _, ...rest } = JSON.parse(first.slice(9));
      return `${header}\n${encodeRecord(rest).toString("utf8")}`;
    });
    expect(peekStats(older)).toBeNull();
    const reopened = await SessionStore.open({ dir: older });
    expect((await reopened.getStats()).total).toBe(4);
    await reopened.close();
  });

  it("does not trust a sessions.json written after the header, even with the same size", async () => {
    const { dir } = await closedStore();
    const file = path.join(dir, "sessions.json");
    const data = await fs.readFile(file, "utf8");
    await fs.writeFile(file, data.replace('"status": "Failed"', '"status": "Bogus"'));
    expect(peekStats(dir)).toBeNull();
    await expect(SessionStore.open({ dir })).rejects.toMatchObject({ code: "STORE_CORRUPT" });
  });

  it("leaves missing, damaged, future and linked journals to the full open", async () => {
    expect(peekStats(await tempDir())).toBeNull();

    const damaged = await closedStore();
    await editJournal(damaged.dir, (t) => `${t.slice(0, 20)}\n`);
    expect(peekStats(damaged.dir)).toBeNull();

    const future = await closedStore();
    await editJournal(future.dir, (t) => t.replace(/"format":\d+/, '"format":99'));
    expect(peekStats(future.dir)).toBeNull();
    await expect(SessionStore.open({ dir: future.dir })).rejects.toMatchObject({
      code: "STORE_VERSION_UNSUPPORTED",
    });

    const forged = await closedStore();
    await editJournal(forged.dir, (t) => t.replace('"total":3', '"total":"3"'));
    expect(peekStats(forged.dir)).toBeNull();

    const linked = await closedStore();
    const journal = path.join(linked.dir, "sessions.journal");
    await fs.rename(journal, `${journal}.real`);
    await fs.symlink(`${journal}.real`, journal);
    expect(peekStats(linked.dir)).toBeNull();
  });

  it("accepts exactly the figures StatsSchema accepts, and returns what it parses", () => {
    const count = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null));
    const phase = fc.oneof(fc.constantFrom("Review", "Test", "CICD"), fc.string());
    const stats = fc.record(
      {
        total: count,
        active: count,
        handedOff: count,
        completed: count,
        failed: count,
        totalCostUsd: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string()),
        byPhase: fc.oneof(fc.dictionary(phase, count), fc.constant([])),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(stats, fc.anything()), (value) => {
        const parsed = StatsSchema.safeParse(value);
        const picked = pickStats(value);
        if (parsed.success) expect(picked).toEqual(parsed.data);
        else expect(picked).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });
});
