import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-cli-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Run the built CLI as a user would, in its own process. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--dir", path.join(dir, "store"), ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe("miyabi-sessions (record-only commands)", () => {
  it("walks a handoff chain and reports lineage, stats and JSON", async () => {
    const root = cli(
      "create",
      "--agent",
      "CodeGenAgent",
      "--purpose",
      "Code generation for #270",
      "--issue",
      "270",
      "--phase",
      "CodeGeneration",
      "--worktree",
      ".worktrees/issue-270",
    );
    expect(root.code).toBe(0);
    expect(root.out).toMatch(/^[0-9a-f-]{36}$/);
    expect(cli("complete", root.out, "--summary", "wrote it").code).toBe(0);
    const review = cli("handoff", root.out, "--to", "ReviewAgent", "--phase", "Review");
    expect(review.code).toBe(0);
    const test = cli("handoff", review.out, "--to", "TestAgent", "--phase", "Test");

    const lineage = cli("lineage", test.out);
    expect(lineage.out.split("\n").map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual([
      "1: CodeGenAgent (HandedOff)",
      "2: ReviewAgent (HandedOff)",
      "3: TestAgent (Active)",
    ]);
    const tree = cli("lineage", root.out, "--tree");
    expect(tree.out).toMatch(/CodeGenAgent[\s\S]*└─ ReviewAgent[\s\S]* {3}└─ TestAgent/);

    const stats = JSON.parse(cli("--json", "stats").out);
    expect(stats).toMatchObject({ total: 3, active: 1, handedOff: 2, completed: 0, failed: 0 });
    const listed = cli("list", "--issue", "270");
    expect(listed.out.split("\n")[0]).toMatch(
      /^ID\s+AGENT\s+STATUS\s+PHASE\s+ISSUE\s+CREATED\s+PURPOSE$/,
    );
    expect(listed.out.split("\n")).toHaveLength(4);
    const active = JSON.parse(cli("--json", "list", "--active").out) as { id: string }[];
    expect(active.map((s) => s.id)).toEqual([test.out]);
    const shown = JSON.parse(cli("--json", "show", test.out).out);
    expect(shown.context.previousResults.map((r: { agent: string }) => r.agent)).toEqual([
      "CodeGenAgent",
    ]);
    const reviewShown = JSON.parse(cli("--json", "show", review.out).out);
    expect(reviewShown.context.previousResults[0]).toMatchObject({
      agent: "CodeGenAgent",
      summary: "wrote it",
    });
    expect(cli("fail", test.out, "--error", "tests are red").code).toBe(0);
    expect(cli("show", test.out).out).toMatch(/error\s+tests are red/);
    const retried = cli("retry", test.out);
    expect(retried.code).toBe(0);
    expect(JSON.parse(cli("--json", "show", review.out).out).childSessions).toEqual([
      test.out,
      retried.out,
    ]);

    // Closing compacts: sessions.json alone holds everything.
    const doc = JSON.parse(await fs.readFile(path.join(dir, "store", "sessions.json"), "utf8"));
    expect(doc.sessions).toHaveLength(4);
    const compacted = cli("compact");
    expect(compacted.code, compacted.err).toBe(0);
    expect(compacted.out).toMatch(/^Compacted .*sessions\.json$/);
  });

  it("exits non-zero with a one-line reason on errors", async () => {
    cli("create", "--agent", "A", "--purpose", "p");
    const cases: [string[], RegExp][] = [
      [["show", "123e4567-e89b-42d3-a456-426614174000"], /^miyabi-sessions: No session 123e4567/],
      [["show", "../../etc/passwd"], /not a session id/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.err.split("\n")).toHaveLength(1);
      expect(r.err).toMatch(message);
    }
    const usage = cli("create", "--agent", "A");
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/required option '--purpose <text>'/);
    const badPhase = cli("create", "--agent", "A", "--purpose", "p", "--phase", "Deploy");
    expect(badPhase.code).toBe(2);
    expect(badPhase.err).toMatch(/Allowed choices are IssueAnalysis/);
  });

  it("does not create a store for read commands and leaves a corrupt file untouched", async () => {
    const missing = cli("list");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/No session store at/);
    await expect(fs.access(path.join(dir, "store"))).rejects.toThrow();

    await fs.mkdir(path.join(dir, "store"));
    await fs.writeFile(path.join(dir, "store", "sessions.json"), '{"sessions": [');
    const r = cli("create", "--agent", "A", "--purpose", "p");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/sessions\.json cannot be read: it is not valid JSON/);
    expect(await fs.readFile(path.join(dir, "store", "sessions.json"), "utf8")).toBe(
      '{"sessions": [',
    );
  });

  it("answers stats from the journal header, and from the sessions when it cannot", async () => {
    const first = cli("create", "--agent", "CodeGenAgent", "--purpose", "p").out;
    cli("fail", first, "--error", "red");
    cli("create", "--agent", "ReviewAgent", "--purpose", "q", "--phase", "Review");
    const journal = path.join(dir, "store", "sessions.journal");
    const text = await fs.readFile(journal, "utf8");
    // A header that disagrees with sessions.json shows which one answered.
    await fs.writeFile(journal, text.replace('"total":2', '"total":20'));
    expect(JSON.parse(cli("--json", "stats").out)).toMatchObject({ total: 20, failed: 1 });
    expect(cli("stats", "-q").out).toMatch(/^Total sessions {2}20$/m);

    // Any change to sessions.json (here only its change time) sends stats the full way,
    // which counts the sessions and names the file anew in a fresh header.
    const file = path.join(dir, "store", "sessions.json");
    await fs.chmod(file, (await fs.stat(file)).mode);
    const full = {
      json: cli("stats", "--json"),
      text: cli(`--dir=${path.join(dir, "store")}`, "stats"),
    };
    expect(JSON.parse(full.json.out)).toEqual({
      total: 2,
      active: 1,
      handedOff: 0,
      completed: 0,
      failed: 1,
      totalCostUsd: 0,
      byPhase: { IssueAnalysis: 1, Review: 1 },
    });
    // The header the full open wrote answers next, with the same words.
    expect(await fs.readFile(journal, "utf8")).not.toBe(text);
    expect(cli("stats", "--json").out).toBe(full.json.out);
    expect(cli("stats").out).toBe(full.text.out);
    expect(full.text.out.split("\n")).toEqual([
      "Total sessions  2",
      "Active          1",
      "Handed off      0",
      "Completed       0",
      "Failed          1",
      "Cost (USD)      0.0000",
    ]);
  });

  it("prints help that lists every command", () => {
    const help = cli("--help");
    expect(help.code).toBe(0);
    for (const command of [
      "create",
      "handoff",
      "complete",
      "fail",
      "retry",
      "show",
      "list",
      "lineage",
      "stats",
      "logs",
      "prune",
      "merge",
      "compact",
      "report",
      "completion",
    ]) {
      expect(help.out).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
  });
});
