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

/** codegen -> review (failed) -> retried review, in a real store. */
async function sessionsWithRetry() {
  const store = await SessionStore.open({ dir: path.join(await freshDir("report"), "s") });
  const context = { issueNumber: 3, currentPhase: "CodeGeneration" as const };
  const root = await store.create({ agentName: "CodeGenAgent", purpose: "x", context });
  await store.complete(root, {
    agent: "CodeGenAgent",
    phase: "CodeGeneration",
    outcome: "success",
  });
  const review = await store.handoff(root, {
    toAgent: "ReviewAgent",
    context: { currentPhase: "Review" },
  });
  await store.fail(review, "timed out");
  await store.retry(review);
  // Another issue's session, which neither report may show.
  await store.create({
    agentName: "OtherAgent",
    purpose: "y",
    context: { issueNumber: 4, currentPhase: "CodeGeneration" },
  });
  const sessions = await store.issueSessions(3);
  await store.close();
  return { sessions, dir: store.dir };
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
  const cli = spawnSync(process.execPath, [CLI, "--dir", dir, "report", "--issue", "3"], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  expect(cli.status, cli.stderr).toBe(0);
  // The graph and the table, from the fence to the table's last row.
  const shown = (markdown: string) =>
    /^```mermaid\n[\s\S]*?\n```\n\n(?:\|.*\n)+/m.exec(markdown)?.[0] ?? "no sessions shown";
  expect(shown(cli.stdout)).toBe(shown(summary));
  expect(shown(summary)).toMatch(/^flowchart TD$/m);
  expect(shown(summary).match(/^\| {2}\| (CodeGen|Review)Agent \|/gm)).toHaveLength(3);
  expect(cli.stdout).not.toContain("OtherAgent");
  expect(cli.stdout.split("\n")[0]).toBe(summary.split("\n")[0]);
});
