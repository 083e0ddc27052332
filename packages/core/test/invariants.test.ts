import fs from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Session, SessionStore } from "../src/index.js";
import { tempDir } from "./helpers.js";

type Op =
  | { kind: "create"; issue: number }
  | { kind: "handoff" | "complete" | "fail" | "retry"; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), issue: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    kind: fc.constantFrom(
      "handoff" as const,
      "complete" as const,
      "fail" as const,
      "retry" as const,
    ),
    pick: fc.nat(),
  }),
);

function checkInvariants(sessions: Session[]): void {
  const byId = new Map(sessions.map((s) => [s.id, s]));
  for (const s of sessions) {
    for (const c of s.childSessions) expect(byId.get(c)?.parentSession).toBe(s.id);
    if (s.parentSession) expect(byId.get(s.parentSession)?.childSessions).toContain(s.id);
    if (s.status === "HandedOff") expect(s.handoffTo).not.toBeNull();
    if (s.status === "Failed") expect(s.errorMessage).not.toBeNull();
  }
}

describe("invariants under random operation sequences", () => {
  it("keeps parent/child links mutual, lineages rooted, and stats summing to the total", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const dir = await tempDir();
        const store = await SessionStore.open({ dir });
        for (const op of ops) {
          const all = await store.list();
          if (op.kind === "create") {
            await store.create({
              agentName: "A",
              purpose: "p",
              context: { issueNumber: op.issue },
            });
            continue;
          }
          const target = all[op.pick % Math.max(all.length, 1)];
          if (!target) continue;
          const before = JSON.stringify(await store.snapshot());
          const attempt =
            op.kind === "handoff"
              ? store.handoff(target.id, { toAgent: "B" })
              : op.kind === "complete"
                ? store.complete(target.id)
                : op.kind === "fail"
                  ? store.fail(target.id, "x")
                  : store.retry(target.id);
          await attempt.catch(async (error: { code?: string }) => {
            expect(error.code).toBe("ILLEGAL_TRANSITION");
            expect(JSON.stringify(await store.snapshot())).toBe(before);
          });
        }
        const sessions = await store.list();
        checkInvariants(sessions);
        for (const s of sessions) {
          const lineage = await store.getLineage(s.id);
          expect(lineage[0]?.parentSession).toBeNull();
          expect(lineage.at(-1)?.id).toBe(s.id);
          expect(new Set(lineage.map((x) => x.id)).size).toBe(lineage.length);
        }
        const stats = await store.getStats();
        expect(stats.active + stats.handedOff + stats.completed + stats.failed).toBe(stats.total);
        expect(stats.total).toBe(sessions.length);
        await store.close();
        // What was written reloads to the same state.
        const reopened = await SessionStore.open({ dir });
        expect(await reopened.list()).toEqual(sessions);
        await reopened.close();
      }),
      { numRuns: 40 },
    );
  });

  it("never loops on a hand-made parent cycle", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), async (n) => {
        const ids = Array.from(
          { length: n },
          (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        );
        const sessions = ids.map((id, i) => ({
          id,
          agent_name: "A",
          purpose: "p",
          context: { issue_number: 1, current_phase: "Review", worktree_path: null },
          created_at: "2026-01-01T00:00:00Z",
          status: "HandedOff",
          parent_session: ids[(i + 1) % n],
          child_sessions: [ids[(i + n - 1) % n]],
          handoff_to: "A",
        }));
        const dir = await tempDir();
        await fs.writeFile(
          path.join(dir, "sessions.json"),
          JSON.stringify({ sessions, version: 1 }),
        );
        const store = await SessionStore.open({ dir });
        await expect(store.getLineage(ids[0] as string)).rejects.toMatchObject({
          code: "LINEAGE_CYCLE",
        });
        const tree = await store.getDescendants(ids[0] as string);
        expect(tree.length).toBe(n - 1);
        await store.close();
      }),
      { numRuns: 6 },
    );
  });
});
