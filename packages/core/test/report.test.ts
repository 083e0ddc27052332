import { describe, expect, it } from "vitest";
import {
  fencedText,
  formatCost,
  formatDuration,
  lineageGraph,
  phaseTable,
  renderIssueReport,
  SessionStore,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

/** codegen (3 turns, $0.25, 65 s) -> review (failed) -> retried review, in a real store. */
async function sessionsWithRetry() {
  const store = await SessionStore.open({ dir: await tempDir() });
  const context = { issueNumber: 3, currentPhase: "CodeGeneration" as const };
  const root = await store.create({ agentName: "CodeGenAgent", purpose: "x", context });
  await store.complete(root, {
    agent: "CodeGenAgent",
    phase: "CodeGeneration",
    outcome: "success",
    summary: "wrote ``` it for @octocat",
    numTurns: 3,
    totalCostUsd: 0.25,
    durationMs: 65_000,
  });
  const review = await store.handoff(root, {
    toAgent: "ReviewAgent",
    context: { currentPhase: "Review" },
  });
  await store.fail(review, "timed out");
  const retry = await store.retry(review);
  const sessions = await store.issueSessions(3);
  await store.close();
  return { sessions, ids: [root, review, retry], nodes: [root, review, retry].map(node) };
}

const node = (id: string) => `s${id.replaceAll("-", "")}`;

describe("lineageGraph", () => {
  it("draws handoffs as arrows, retries as dotted arrows, and marks failed and current nodes", async () => {
    const { sessions, ids, nodes } = await sessionsWithRetry();
    const [root, review, again] = nodes;
    expect(lineageGraph(sessions, [ids[2] as string]).split("\n")).toEqual([
      "flowchart TD",
      `  ${root}["CodeGenAgent<br/>CodeGeneration<br/>HandedOff"]`,
      `  ${review}["ReviewAgent<br/>Review<br/>Failed"]`,
      `  ${again}["ReviewAgent<br/>Review<br/>Active"]`,
      `  ${root} --> ${review}`,
      `  ${review} -. retry .-> ${again}`,
      "  classDef failed fill:#ffebe9,stroke:#cf222e",
      "  classDef active fill:#fff8c5,stroke:#9a6700",
      "  classDef current stroke-width:3px",
      `  class ${review} failed`,
      `  class ${again} active`,
      `  class ${again} current`,
    ]);
  });
});

describe("phaseTable", () => {
  it("has a row per session with turns, cost and duration, current sessions marked", async () => {
    const { sessions, ids } = await sessionsWithRetry();
    const rows = phaseTable(sessions, [ids[0] as string]).split("\n");
    expect(rows).toHaveLength(5);
    expect(rows[2]).toBe(
      `| ▶ | CodeGenAgent | CodeGeneration | HandedOff | 3 | $0.2500 | 1m 05s | \`${ids[0]?.slice(0, 8)}\` |`,
    );
    // Still running: no duration yet.
    expect(rows[4]).toBe(
      `|  | ReviewAgent | Review | Active | — | — | — | \`${ids[2]?.slice(0, 8)}\` |`,
    );
  });

  it("formats costs and durations, and an unknown one as a dash", () => {
    expect([formatCost(null), formatCost(0.1), formatDuration(null)]).toEqual([
      "—",
      "$0.1000",
      "—",
    ]);
    expect([formatDuration(4_400), formatDuration(60_000), formatDuration(3_725_000)]).toEqual([
      "4s",
      "1m 00s",
      "62m 05s",
    ]);
  });
});

describe("renderIssueReport", () => {
  it("puts the lead after the title, then totals, graph, table and the footer", async () => {
    const { sessions } = await sessionsWithRetry();
    const markdown = renderIssueReport({
      issueNumber: 3,
      sessions,
      lead: ["LEAD"],
      footer: ["FOOTER"],
      totals: true,
    });
    const parts = markdown.split("\n\n");
    expect(parts.slice(0, 3)).toEqual([
      "### Miyabi pipeline for #3",
      "LEAD",
      "3 sessions (1 HandedOff, 1 Failed, 1 Active); 3 turns, $0.2500 over 1m 05s in total.",
    ]);
    expect(parts[3]).toBe(`\`\`\`mermaid\n${lineageGraph(sessions, [])}\n\`\`\``);
    expect(parts[4]).toBe(phaseTable(sessions, []));
    expect(parts.slice(5)).toEqual(["FOOTER\n"]);
    // No session is current, so no agent text is shown.
    expect(markdown).not.toContain("octocat");
  });

  it("shows what the current sessions' agents reported, fenced", async () => {
    const { sessions, ids } = await sessionsWithRetry();
    const markdown = renderIssueReport({ issueNumber: 3, sessions, current: [ids[0] as string] });
    expect(markdown).toContain(
      "<details><summary>What the agents reported</summary>\n\n**CodeGenAgent**\n\n````text\nwrote ``` it for @octocat\n````\n\n</details>\n",
    );
    expect(markdown).not.toMatch(/in total\./);
  });

  it("fences text so that no backtick run inside closes the block", () => {
    expect(fencedText("a ```` b")).toBe("`````text\na ```` b\n`````");
    expect(fencedText("plain")).toBe("```text\nplain\n```");
  });

  it("refuses an issue number that is not a positive whole number", () => {
    expect(() => renderIssueReport({ issueNumber: 0, sessions: [] })).toThrow(
      /Invalid issue report at issueNumber/,
    );
  });
});
