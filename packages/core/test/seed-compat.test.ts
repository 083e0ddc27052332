import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SessionStore } from "../src/index.js";
import { DiskSessionSchema } from "../src/internal/model.js";
import { storeFromFixture, tempDir } from "./helpers.js";

const ROOT = "550e8400-e29b-41d4-a716-446655440000";
const CHILD = "660e8400-e29b-41d4-a716-446655440000";

// Fields the seed's ManagedSession serializes; a file we write must keep every one of them.
const SEED_FIELDS = [
  "id",
  "agent_name",
  "purpose",
  "context",
  "created_at",
  "status",
  "parent_session",
  "child_sessions",
  "handoff_to",
  "error_message",
];

describe("the seed README's sessions.json", () => {
  it("loads with the right lineage, stats and active list", async () => {
    const dir = await storeFromFixture("seed-readme.json");
    const store = await SessionStore.open({ dir });
    const lineage = await store.getLineage(CHILD);
    expect(lineage.map((s) => [s.agentName, s.status])).toEqual([
      ["CodeGenAgent", "HandedOff"],
      ["ReviewAgent", "Active"],
    ]);
    expect(lineage[0]?.handoffTo).toBe("ReviewAgent");
    expect(lineage[1]?.context).toEqual({
      issueNumber: 270,
      currentPhase: "Review",
      worktreePath: ".worktrees/issue-270",
      previousResults: [],
    });
    const stats = await store.getStats();
    expect(stats).toMatchObject({ total: 2, active: 1, handedOff: 1, completed: 0, failed: 0 });
    expect((await store.listActive()).map((s) => s.id)).toEqual([CHILD]);
    expect((await store.issueHead(270))?.id).toBe(CHILD);
    await store.close();
  });

  it("is not rewritten by opening and closing without changes", async () => {
    const dir = await storeFromFixture("seed-readme.json");
    const before = await fs.readFile(path.join(dir, "sessions.json"));
    const store = await SessionStore.open({ dir });
    await store.getStats();
    await store.close();
    expect(await fs.readFile(path.join(dir, "sessions.json"))).toEqual(before);
  });

  it("keeps the seed's layout and fields when we write", async () => {
    const dir = await storeFromFixture("seed-readme.json");
    const store = await SessionStore.open({ dir });
    await store.complete(CHILD, { agent: "ReviewAgent", phase: "Review", outcome: "success" });
    const next = await store.handoff(CHILD, {
      toAgent: "TestAgent",
      context: { currentPhase: "Test" },
    });
    await store.close();

    const text = await fs.readFile(path.join(dir, "sessions.json"), "utf8");
    expect(text.startsWith('{\n  "sessions": [\n    {\n      "id": ')).toBe(true);
    const doc = JSON.parse(text) as { sessions: Record<string, unknown>[]; version: number };
    expect(doc.version).toBe(1);
    expect(Object.keys(doc)).toEqual(["sessions", "version"]);
    expect(doc.sessions.map((s) => s.id)).toEqual([ROOT, CHILD, next]);
    for (const s of doc.sessions) {
      for (const field of SEED_FIELDS) expect(s).toHaveProperty(field);
      expect(s.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(DiskSessionSchema.safeParse(s).success).toBe(true);
    }
    const [, review, test] = doc.sessions;
    expect(review).toMatchObject({
      status: "HandedOff",
      handoff_to: "TestAgent",
      error_message: null,
    });
    expect(test).toMatchObject({ parent_session: CHILD, status: "Active", child_sessions: [] });
    // previous_results travel with the handoff and are saved (the seed drops them).
    expect(
      (test?.context as { previous_results: unknown[] } | undefined)?.previous_results,
    ).toEqual([
      expect.objectContaining({ agent: "ReviewAgent", phase: "Review", outcome: "success" }),
    ]);
  });

  it("reads chrono-style nanosecond timestamps and keeps unknown fields", async () => {
    const dir = await tempDir();
    const doc = {
      sessions: [
        {
          id: ROOT,
          agent_name: "CodeGenAgent",
          purpose: "p",
          context: { issue_number: 1, current_phase: "CodeGeneration", worktree_path: null },
          created_at: "2025-10-27T04:30:00.123456789Z",
          status: "Active",
          parent_session: null,
          child_sessions: [],
          future_field: { kept: true },
        },
      ],
      version: 1,
      written_by: "another tool",
    };
    await fs.writeFile(path.join(dir, "sessions.json"), JSON.stringify(doc));
    const store = await SessionStore.open({ dir });
    await store.fail(ROOT, "boom");
    await store.close();
    const written = JSON.parse(await fs.readFile(path.join(dir, "sessions.json"), "utf8"));
    expect(Object.keys(written)).toEqual(["sessions", "version", "written_by"]);
    expect(written.written_by).toBe("another tool");
    expect(written.sessions[0]).toMatchObject({
      created_at: "2025-10-27T04:30:00.123456789Z",
      future_field: { kept: true },
      status: "Failed",
      error_message: "boom",
    });
  });
});
