import path from "node:path";
import { SessionStore } from "@miyabi/core";
import { afterAll, expect, it } from "vitest";
import { lineageGraph, renderReport } from "../src/index.js";
import { freshDir, removeScratch } from "./harness.js";

afterAll(removeScratch);

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
  const retry = await store.retry(review);
  const sessions = await store.issueSessions(3);
  await store.close();
  return { sessions, ids: [root, review, retry].map((id) => `s${id.replaceAll("-", "")}`), retry };
}

it("draws handoffs as arrows, retries as dotted arrows, and marks failed and current nodes", async () => {
  const { sessions, ids, retry } = await sessionsWithRetry();
  const [root, review, again] = ids;
  expect(lineageGraph(sessions, [retry]).split("\n")).toEqual([
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
