import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { structuredOutputTurn } from "@miyabi/testkit";
import { describe, expect, it } from "vitest";
import { messagesOf, type Rig, rig, turns } from "./helpers.js";

const PHASE = fileURLToPath(new URL("./fixtures/phase.mjs", import.meta.url));

// Asynchronous: the scripted model server lives in this process and must keep answering.
/** Run one step in its own process on "machine" `machine` (its own HOME), sharing only the store. */
async function runStep(r: Rig, machine: string, step: string) {
  const home = path.join(r.root, machine);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [PHASE, r.storeDir, r.repo, home, step, r.server.url],
    {
      encoding: "utf8",
    },
  );
  return JSON.parse(stdout) as {
    id: string;
    status: string;
    result: { claudeSessionId: string };
  }[];
}

describe("handoff between machines", () => {
  it("resumes CodeGen's conversation in another process with another HOME via the store", async () => {
    const r = await rig([
      { text: "codegen remembered fact: blue-42" },
      structuredOutputTurn({ verdict: "approve" }),
    ]);
    await r.store.close();
    const [codegen] = await runStep(r, "machine-1", "codegen");
    // Machine 2 has never seen the conversation: only the store carries it.
    const [review] = await runStep(r, "machine-2", "review");
    expect(codegen?.status).toBe("Completed");
    expect(review?.status).toBe("Completed");
    expect(review?.result.claudeSessionId).toBe(codegen?.result.claudeSessionId);
    const reviewTurn = turns(r.server).at(-1);
    const history = JSON.stringify(messagesOf(reviewTurn?.body));
    expect(history).toContain("codegen remembered fact: blue-42");
    expect(messagesOf(reviewTurn?.body).length).toBeGreaterThan(2);
  });

  it("falls back to a fresh conversation with the earlier results when the transcript is gone", async () => {
    const r = await rig([
      { text: "codegen summary: wrote add.ts" },
      structuredOutputTurn({ verdict: "approve" }),
    ]);
    await r.store.close();
    const [codegen] = await runStep(r, "machine-1", "codegen");
    await fs.rm(path.join(r.storeDir, "transcripts"), { recursive: true });
    const [review] = await runStep(r, "machine-2", "review");
    expect(review?.status).toBe("Completed");
    expect(review?.result.claudeSessionId).not.toBe(codegen?.result.claudeSessionId);
    const reviewTurn = turns(r.server).at(-1);
    const messages = messagesOf(reviewTurn?.body);
    // A fresh conversation whose prompt carries CodeGen's result as notes.
    expect(JSON.stringify(messages)).toContain("codegen summary: wrote add.ts");
    expect(JSON.stringify(messages)).toMatch(/<previous_results-[0-9a-f]{16}>/);
    const log = await fs.readFile(path.join(r.storeDir, "logs", `${review?.id}.log`), "utf8");
    expect(log).toMatch(/not on this machine or in the store; starting a fresh conversation/);
  });
});
