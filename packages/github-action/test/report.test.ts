import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { SessionStore } from "@miyabi/core";
import { afterAll, expect, it } from "vitest";
import { renderReport } from "../src/index.js";
import { freshDir, removeScratch } from "./harness.js";

afterAll(removeScratch);

const CLI = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@miyabi/cli/package.json")),
  "dist",
  "cli.mjs",
);

/** The built `miyabi-sessions` on the store in `dir`. */
function cli(dir: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, "--dir", dir, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (r.status !== 0) throw new Error(`miyabi-sessions ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Issue 3 recorded with the CLI: codegen -> review (failed) -> retried review; and a session
 * of issue 4, which no report of issue 3 may show.
 */
async function sessionsWithRetry() {
  const dir = path.join(await freshDir("report"), "s");
  const create = ["create", "--purpose", "x", "--phase", "CodeGeneration", "--issue"];
  const root = cli(dir, ...create, "3", "--agent", "CodeGenAgent").trim();
  cli(dir, "complete", root);
  const review = cli(dir, "handoff", root, "--to", "ReviewAgent", "--phase", "Review").trim();
  cli(dir, "fail", review, "--error", "timed out");
  cli(dir, "retry", review);
  cli(dir, ...create, "4", "--agent", "OtherAgent");
  const store = await SessionStore.open({ dir, create: false });
  const sessions = await store.issueSessions(3);
  await store.close();
  return { sessions, dir };
}

it("fences agent text so it cannot close the block, mention people or inject HTML", async () => {
  const { sessions } = await sessionsWithRetry();
  const markdown = renderReport({
    issueNumber: 3,
    step: "review",
    status: "failed",
    detail: "bad ```` fence @octocat <img src=x>",
    sessions,
    current: [],
    next: null,
    cacheKey: "",
    runUrl: "https://github.com/o/r/actions/runs/1",
  });
  expect(markdown).toContain("`````text\nbad ```` fence @octocat <img src=x>\n`````");
  expect(markdown).toContain(
    "Phase **review** failed; the pipeline stopped. ([run](https://github.com/o/r/actions/runs/1))",
  );
  expect(markdown).not.toContain("Sessions saved in the Actions cache");
});

it("shows the issue's sessions in the job summary exactly as `miyabi-sessions report` does", async () => {
  const { sessions, dir } = await sessionsWithRetry();
  const summary = renderReport({
    issueNumber: 3,
    step: "review",
    status: "success",
    sessions,
    current: [],
    next: "test",
    cacheKey: "miyabi-sessions-3-1",
    runUrl: "https://github.com/o/r/actions/runs/1",
  });
  const report = cli(dir, "report", "--issue", "3");
  // The graph and the table, from the fence to the table's last row.
  const shown = (markdown: string) =>
    /^```mermaid\n[\s\S]*?\n```\n\n(?:\|.*\n)+/m.exec(markdown)?.[0] ?? "no sessions shown";
  expect(shown(report)).toBe(shown(summary));
  expect(shown(summary)).toMatch(/^flowchart TD$/m);
  expect(shown(summary).match(/^\| {2}\| (CodeGen|Review)Agent \|/gm)).toHaveLength(3);
  expect(report).not.toContain("OtherAgent");
  expect(report.split("\n")[0]).toBe(summary.split("\n")[0]);
});
