import { stripVTControlCharacters } from "node:util";
import type { Session } from "@miyabi/core";
import { describe, expect, it } from "vitest";
import { sessionRows } from "../src/internal/format.js";
import { editDistance, isClose, plural, relativeTime } from "../src/internal/text.js";

const NOW = new Date("2026-01-10T12:00:00Z");

function session(id: string, minutesAgo: number, purpose: string): Session {
  const at = new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();
  return {
    id,
    agentName: "CodeGenAgent",
    purpose,
    context: {
      issueNumber: 7,
      currentPhase: "CodeGeneration",
      worktreePath: null,
      previousResults: [],
    },
    createdAt: at,
    updatedAt: at,
    status: "Active",
    parentSession: null,
    childSessions: [],
    handoffTo: null,
    errorMessage: null,
    endedAt: null,
    result: null,
    process: null,
    retryOf: null,
  } as unknown as Session;
}

describe("list rows", () => {
  const sessions = [
    session("0f8fad5b-d9cb-469f-a165-70867728950e", 5, "Implement the greet helper ".repeat(10)),
    session("7c9e6679-7425-40de-944b-e07fc1f90ae7", 3 * 24 * 60, "Review"),
  ];

  it("on a terminal: short ids, relative times, every line fitted to the width", () => {
    const text = sessionRows(sessions, { color: true, tty: true, columns: 80, now: NOW });
    const lines = text.split("\n").map((l) => stripVTControlCharacters(l));
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[1]).toMatch(
      /^0f8fad5b +CodeGenAgent +Active +CodeGeneration +#7 +5m ago +Implement the.*…$/,
    );
    expect(lines[2]).toMatch(/^7c9e6679 .* 3d ago +Review$/);
  });

  it("elsewhere: whole ids and timestamps", () => {
    const text = sessionRows(sessions, { color: false, tty: false, columns: 80, now: NOW });
    expect(text.split("\n")[2]).toMatch(
      /^7c9e6679-7425-40de-944b-e07fc1f90ae7 .* 2026-01-07T12:00:00Z +Review$/,
    );
  });
});

describe("words", () => {
  it("plural, relative time and closeness", () => {
    expect([plural(0, "turn"), plural(1, "turn"), plural(2, "turn")]).toEqual([
      "0 turns",
      "1 turn",
      "2 turns",
    ]);
    expect(relativeTime(new Date(NOW.getTime() - 2_000).toISOString(), NOW)).toBe("just now");
    expect(relativeTime(new Date(NOW.getTime() - 3 * 3_600_000).toISOString(), NOW)).toBe("3h ago");
    expect(relativeTime("2025-06-01T00:00:00.000Z", NOW)).toBe("2025-06-01");
    expect(editDistance("lsit", "list")).toBe(1);
    expect(isClose("lsit", "list")).toBe(true);
    expect(isClose("mer", "merge")).toBe(false);
    expect(isClose("x", "run")).toBe(false);
  });
});
