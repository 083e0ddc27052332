import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SessionStore } from "@miyabi/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-report-")));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--dir", path.join(dir, "store"), ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr.trim() };
}

/** Complete an agent's session with what Claude measured. */
async function finish(
  store: SessionStore,
  id: string,
  measured: { turns: number; usd: number; ms: number; summary?: string },
) {
  const s = await store.getSession(id);
  await store.complete(id, {
    agent: s.agentName,
    phase: s.context.currentPhase,
    outcome: "success",
    summary: measured.summary,
    numTurns: measured.turns,
    totalCostUsd: measured.usd,
    durationMs: measured.ms,
  });
}

/**
 * Issue 7: CodeGen ($0.12, 4 turns, 90 s) hands off to Review ($0.03, 2 turns, 20 s), which
 * hands off to a Test still running. Issue 8 has a session of its own.
 */
async function seed() {
  const store = await SessionStore.open({ dir: path.join(dir, "store") });
  const codegen = await store.create({
    agentName: "CodeGenAgent",
    purpose: "Code generation for #7",
    context: { issueNumber: 7, currentPhase: "CodeGeneration" },
  });
  await finish(store, codegen, { turns: 4, usd: 0.12, ms: 90_000, summary: "agent text" });
  const review = await store.handoff(codegen, {
    toAgent: "ReviewAgent",
    context: { currentPhase: "Review" },
  });
  await finish(store, review, { turns: 2, usd: 0.03, ms: 20_000 });
  const test = await store.handoff(review, {
    toAgent: "TestAgent",
    context: { currentPhase: "Test" },
  });
  await store.create({
    agentName: "DeployAgent",
    purpose: "Deploy for #8",
    context: { issueNumber: 8, currentPhase: "CICD" },
  });
  await store.close();
  const node = (id: string) => `s${id.replaceAll("-", "")}`;
  return {
    codegen: node(codegen),
    review: node(review),
    test: node(test),
    ids: [codegen, review, test],
  };
}

describe("report --issue", () => {
  it("prints the issue's lineage graph, phase table and costs, and nothing of other issues", async () => {
    const s = await seed();
    const r = cli("report", "--issue", "7");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe("");
    const parts = r.out.split("\n\n");
    expect(parts[0]).toBe("### Miyabi pipeline for #7");
    expect(parts[1]).toBe(
      "3 sessions (2 HandedOff, 1 Active); 6 turns, $0.1500 over 1m 50s in total.",
    );
    const graph = parts[2]?.split("\n") ?? [];
    expect(graph.slice(0, 4)).toEqual([
      "```mermaid",
      "flowchart TD",
      `  ${s.codegen}["CodeGenAgent<br/>CodeGeneration<br/>HandedOff"]`,
      `  ${s.review}["ReviewAgent<br/>Review<br/>HandedOff"]`,
    ]);
    expect(graph).toContain(`  ${s.codegen} --> ${s.review}`);
    expect(graph).toContain(`  ${s.review} --> ${s.test}`);
    expect(graph).toContain(`  class ${s.test} active`);
    const table = parts[3]?.split("\n") ?? [];
    expect(table.slice(2)).toEqual([
      `|  | CodeGenAgent | CodeGeneration | HandedOff | 4 | $0.1200 | 1m 30s | \`${s.ids[0]?.slice(0, 8)}\` |`,
      `|  | ReviewAgent | Review | HandedOff | 2 | $0.0300 | 20s | \`${s.ids[1]?.slice(0, 8)}\` |`,
      `|  | TestAgent | Test | Active | — | — | — | \`${s.ids[2]?.slice(0, 8)}\` |`,
      "",
    ]);
    expect(parts).toHaveLength(4);
    expect(r.out).not.toMatch(/DeployAgent|#8|agent text/);
  });

  it("writes the same report to --out", async () => {
    await seed();
    const printed = cli("report", "--issue", "7").out;
    const written = cli("report", "--issue", "7", "--out", "report.md");
    expect(written.code, written.err).toBe(0);
    expect(written.out).toBe("");
    expect(written.err).toBe(`Wrote the report of issue #7 to ${path.join(dir, "report.md")}`);
    expect(await fs.readFile(path.join(dir, "report.md"), "utf8")).toBe(printed);
    expect(cli("--quiet", "report", "--issue", "7", "--out", "again.md").err).toBe("");
  });

  it("exits 2 on a missing or invalid --issue, 1 with one line when the issue has no sessions", async () => {
    await seed();
    const cases: [string[], number, RegExp][] = [
      [["report"], 2, /required option '--issue <number>' not specified/],
      [["report", "--issue", "0"], 2, /--issue must be a positive whole number/],
      [["report", "--issue", "seven"], 2, /--issue must be a positive whole number/],
      [["--json", "report", "--issue", "7"], 2, /for the issue's sessions as JSON use `list/],
      [["report", "--issue", "9"], 1, /^miyabi-sessions: No sessions of issue #9 in .*store; see/],
      [
        ["report", "--issue", "7", "--out", path.join(dir, "missing", "r.md")],
        1,
        /^miyabi-sessions: Cannot write .*r\.md \(ENOENT/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(" ")).toBe(code);
      expect(r.out).toBe("");
      expect(r.err.split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.err).toMatch(message);
    }
  });

  it("shows an example in --help, and completes in every shell", () => {
    const help = cli("report", "--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--issue <number>\s+the issue \(required\)/);
    expect(help.out).toMatch(/\$ miyabi-sessions report --issue 270 --out report\.md/);
    expect(cli("completion", "bash").out).toMatch(
      /'report'\)\n[^']*--issue\)[^']*--out\)[^']*'[^']*--issue --out' -- "\$cur"/,
    );
    expect(cli("completion", "zsh").out).toContain("'report:command'");
    expect(cli("completion", "fish").out).toMatch(
      /-n '__fish_seen_subcommand_from report' -l out -r -F/,
    );
  });
});
