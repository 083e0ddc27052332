import fs from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Session, type SessionStats, SessionStore } from "../src/index.js";
import { serializeDocument } from "../src/internal/document.js";
import { encodeRecord } from "../src/internal/journal.js";
import { peekStats } from "../src/peek.js";
import { tempDir } from "./helpers.js";

// Above Linux's default pid_max, so no process can have it: a runner that is gone.
const DEAD_RUNNER = 4_194_999;

/** close() never compacts: every store behaves as a large one, its journal kept at rest. */
const LARGE = { compactOnCloseBytes: 0 };

type Op =
  | { kind: "create"; phase: number }
  | { kind: "handoff" | "complete" | "fail" | "retry" | "setProcess"; pick: number; cost: number }
  | { kind: "compact" | "reopen" | "prune" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), phase: fc.nat(3) }),
  fc.record({
    kind: fc.constantFrom(
      "handoff" as const,
      "complete" as const,
      "fail" as const,
      "retry" as const,
      "setProcess" as const,
    ),
    pick: fc.nat(),
    cost: fc.integer({ min: 0, max: 1000 }),
  }),
  fc.record({ kind: fc.constantFrom("compact" as const, "reopen" as const, "prune" as const) }),
);

const PHASES = ["CodeGeneration", "Review", "Test", "PullRequest"] as const;

/** The figures counted from the sessions themselves. */
function expectedStats(sessions: Session[]): SessionStats {
  const stats: SessionStats = {
    total: sessions.length,
    active: 0,
    handedOff: 0,
    completed: 0,
    failed: 0,
    totalCostUsd: 0,
    byPhase: {},
  };
  const key = {
    Active: "active",
    HandedOff: "handedOff",
    Completed: "completed",
    Failed: "failed",
  };
  for (const s of sessions) {
    stats[key[s.status] as "active"] += 1;
    const phase = s.context.currentPhase;
    stats.byPhase[phase] = (stats.byPhase[phase] ?? 0) + 1;
    stats.totalCostUsd += s.result?.totalCostUsd ?? 0;
  }
  return stats;
}

function expectSameStats(actual: SessionStats, expected: SessionStats): void {
  const { totalCostUsd, ...counts } = actual;
  const { totalCostUsd: expectedCost, ...expectedCounts } = expected;
  expect(counts).toEqual(expectedCounts);
  // Summed in another order: equal up to rounding.
  expect(totalCostUsd).toBeCloseTo(expectedCost, 9);
}

async function journalHeader(dir: string): Promise<Record<string, unknown>> {
  const text = await fs.readFile(path.join(dir, "sessions.journal"), "utf8");
  return JSON.parse(text.slice(0, text.indexOf("\n")));
}

/** Rewrite the journal header's summary (sessions.json is left untouched). */
async function editSummary(dir: string, edit: (summary: { stats: SessionStats }) => void) {
  const file = path.join(dir, "sessions.journal");
  const text = await fs.readFile(file, "utf8");
  const nl = text.indexOf("\n");
  const header = JSON.parse(text.slice(0, nl));
  edit(header.summary);
  await fs.writeFile(file, `${JSON.stringify(header)}${text.slice(nl)}`);
}

async function largeStore(n = 3) {
  const dir = await tempDir();
  const store = await SessionStore.open({ dir, ...LARGE });
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push(await store.create({ agentName: "CodeGenAgent", purpose: `p${i}` }));
  await store.compact();
  await store.close();
  return { dir, ids };
}

describe("opening a large store lazily", () => {
  it("answers stats and creates from the journal header without reading sessions.json", async () => {
    const { dir } = await largeStore(3);
    expect((await journalHeader(dir)).summary).toMatchObject({ stats: { total: 3, active: 3 } });
    // A summary that disagrees with sessions.json shows which one answered.
    await editSummary(dir, (summary) => {
      summary.stats.total = 1000;
    });
    const store = await SessionStore.open({ dir, ...LARGE });
    expect((await store.getStats()).total).toBe(1000);
    await store.create({ agentName: "ReviewAgent", purpose: "more" });
    expect((await store.getStats()).total).toBe(1001);
    // A call that needs every session reads sessions.json and counts from it.
    expect(await store.list()).toHaveLength(4);
    expect((await store.getStats()).total).toBe(4);
    await store.close();
  });

  it("refuses a corrupt sessions.json even when the journal header summarizes it", async () => {
    const { dir } = await largeStore(3);
    const file = path.join(dir, "sessions.json");
    const data = await fs.readFile(file, "utf8");
    // Same length, one session's status no longer a status.
    await fs.writeFile(file, data.replace('"status": "Active"', '"status": "Bogus1"'));
    await expect(
      SessionStore.open({ dir, ...LARGE }).then((s) => s.getStats()),
    ).rejects.toMatchObject({ code: "STORE_CORRUPT" });
  });

  it("validates a sessions.json put in place by someone else, and answers from it", async () => {
    const { dir } = await largeStore(3);
    const other = await largeStore(5);
    await fs.copyFile(path.join(other.dir, "sessions.json"), path.join(dir, "sessions.json"));
    const store = await SessionStore.open({ dir, ...LARGE });
    // The header's summary (3 sessions) describes another file: the copy is read in full.
    expect((await store.getStats()).total).toBe(5);
    await store.close();
  });

  it("validates a seed-written file in full, then takes it over so later opens are lazy", async () => {
    const dir = await tempDir();
    const at = "2026-01-01T00:00:00Z";
    const seed = (id: string, status: string) => ({
      id,
      agent_name: "CodeGenAgent",
      purpose: "p",
      context: {
        issue_number: 1,
        current_phase: "CodeGeneration",
        worktree_path: null,
        previous_results: [],
      },
      created_at: at,
      status,
      parent_session: null,
      child_sessions: [],
      handoff_to: null,
      error_message: null,
    });
    const file = path.join(dir, "sessions.json");
    const bad = serializeDocument([
      seed("550e8400-e29b-41d4-a716-446655440000", "Finished"),
    ] as never);
    await fs.writeFile(file, bad);
    await expect(SessionStore.open({ dir, ...LARGE })).rejects.toMatchObject({
      code: "STORE_CORRUPT",
    });
    expect(await fs.readFile(file, "utf8")).toBe(bad);

    const good = serializeDocument([
      seed("550e8400-e29b-41d4-a716-446655440000", "Active"),
      seed("660e8400-e29b-41d4-a716-446655440000", "Failed"),
    ] as never);
    await fs.writeFile(file, good);
    const store = await SessionStore.open({ dir, ...LARGE });
    expect(await store.getStats()).toMatchObject({ total: 2, active: 1, failed: 1 });
    await store.close();
    // Taken over: rewritten in the same format with our fields, and summarized.
    const written = JSON.parse(await fs.readFile(file, "utf8"));
    expect(written.sessions[0]).toMatchObject({
      id: "550e8400-e29b-41d4-a716-446655440000",
      patch: null,
    });
    expect((await journalHeader(dir)).summary).toMatchObject({ stats: { total: 2 } });
  });

  it("names a copy of its own file anew instead of rewriting it (a restored cache)", async () => {
    const { dir } = await largeStore(3);
    const store = await SessionStore.open({ dir, ...LARGE });
    await store.create({ agentName: "ReviewAgent", purpose: "in the journal" });
    await store.close();
    const copy = await tempDir();
    await fs.cp(dir, copy, { recursive: true });
    const file = path.join(copy, "sessions.json");
    const before = await fs.stat(file);
    const opened = await SessionStore.open({ dir: copy, ...LARGE });
    expect((await opened.getStats()).total).toBe(4);
    await opened.close();
    // Not rewritten: same inode, same change time.
    const after = await fs.stat(file);
    expect([after.ino, after.ctimeMs]).toEqual([before.ino, before.ctimeMs]);
    // The next open answers from the header again (the edited summary shows it).
    await editSummary(copy, (summary) => {
      summary.stats.total = 1000;
    });
    const lazy = await SessionStore.open({ dir: copy, ...LARGE });
    expect((await lazy.getStats()).total).toBe(1001);
    await lazy.close();
  });

  it("falls back to the whole document when a record carries no stats (an older release's)", async () => {
    const { dir, ids } = await largeStore(2);
    const store = await SessionStore.open({ dir, ...LARGE });
    const done = await store.complete(ids[0] as string);
    await store.close();
    const file = path.join(dir, "sessions.journal");
    const text = await fs.readFile(file, "utf8");
    const nl = text.indexOf("\n");
    const { put } = JSON.parse(
      text
        .slice(nl + 1)
        .split("\n")[0]
        ?.slice(9) ?? "",
    );
    await fs.writeFile(
      file,
      Buffer.concat([Buffer.from(text.slice(0, nl + 1)), encodeRecord({ put })]),
    );
    await editSummary(dir, (summary) => {
      summary.stats.total = 1000;
    });
    const lazy = await SessionStore.open({ dir, ...LARGE });
    expect(await lazy.getStats()).toMatchObject({ total: 2, active: 1, completed: 1 });
    expect((await lazy.getSession(done.id)).status).toBe("Completed");
    await lazy.close();
  });

  it("reconciles an orphan the header lists as running, without the whole document", async () => {
    const { dir, ids } = await largeStore(2);
    const store = await SessionStore.open({ dir, ...LARGE });
    await store.setProcess(ids[1] as string, { runnerPid: DEAD_RUNNER });
    await store.compact();
    await store.close();
    expect((await journalHeader(dir)).summary).toMatchObject({
      running: [{ id: ids[1], status: "Active" }],
    });
    const lazy = await SessionStore.open({ dir, ...LARGE });
    expect(await lazy.getStats()).toMatchObject({ total: 2, active: 1, failed: 1 });
    expect((await lazy.getSession(ids[1] as string)).errorMessage).toMatch(/^orphaned: /);
    await lazy.close();
  });

  it("gives the same stats from the header as from the whole document after random operations", async () => {
    let peekedRuns = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const dir = await tempDir();
        let store = await SessionStore.open({ dir, ...LARGE });
        for (const op of ops) {
          if (op.kind === "create") {
            await store.create({
              agentName: "A",
              purpose: "p",
              context: { currentPhase: PHASES[op.phase] },
            });
            continue;
          }
          if (!("pick" in op)) {
            if (op.kind === "compact") await store.compact();
            if (op.kind === "prune") await store.prune({ olderThanMs: 0 });
            await store.close();
            store = await SessionStore.open({ dir, ...LARGE });
            continue;
          }
          const all = await store.list();
          const target = all[op.pick % Math.max(all.length, 1)];
          if (!target) continue;
          const result = {
            agent: "A",
            phase: "Review" as const,
            outcome: "success" as const,
            totalCostUsd: op.cost / 1000,
          };
          const attempt =
            op.kind === "handoff"
              ? store.handoff(target.id, {
                  toAgent: "B",
                  context: { currentPhase: PHASES[op.pick % 4] },
                })
              : op.kind === "complete"
                ? store.complete(target.id, result)
                : op.kind === "fail"
                  ? store.fail(target.id, "x", result)
                  : op.kind === "retry"
                    ? store.retry(target.id)
                    : store.setProcess(target.id, { runnerPid: DEAD_RUNNER });
          await attempt.catch((error: { code?: string }) => {
            expect(error.code).toBe("ILLEGAL_TRANSITION");
          });
        }
        await store.close();
        // What the CLI's `stats` prints without opening the store, when it can.
        const peeked = peekStats(dir);
        const lazy = await SessionStore.open({ dir, ...LARGE });
        const fromHeader = await lazy.getStats();
        const sessions = await lazy.list();
        const fromDocument = await lazy.getStats();
        // Orphans the reopen failed are in both.
        expectSameStats(fromHeader, expectedStats(sessions));
        expectSameStats(fromDocument, expectedStats(sessions));
        if (peeked) {
          peekedRuns += 1;
          expectSameStats(peeked, expectedStats(sessions));
        }
        await lazy.close();
      }),
      { numRuns: 40 },
    );
    expect(peekedRuns).toBeGreaterThan(0);
  });
});
