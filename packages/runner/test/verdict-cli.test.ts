/**
 * The review gate's verdict and the phase budget against the pinned Claude Code CLI and the
 * scripted model, through runPhase as the action and the CLI run it.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { expect, it } from "vitest";
import { DEFAULT_PIPELINE, runPhase, verdictArgs, verdictFromLog } from "../src/index.js";
import { issue, messagesOf, phase, rig, turns } from "./helpers.js";

it("hands over the verdict through --json-schema's StructuredOutput tool", async () => {
  const findings = [{ file: "src/greet.ts", line: 3, message: "Rename greet to hello." }];
  const r = await rig([
    { toolUses: [{ name: "StructuredOutput", input: { verdict: "changes", findings } }] },
  ]);
  const out = await phase(r, {}, { extraArgs: verdictArgs() });
  expect(out.status).toBe("completed");
  // The CLI offered the tool with our schema as its input schema.
  const body = turns(r.server)[0]?.body as { tools?: { name: string; input_schema: unknown }[] };
  const tools = body?.tools ?? [];
  expect(tools.find((t) => t.name === "StructuredOutput")?.input_schema).toMatchObject({
    required: ["verdict"],
    properties: { verdict: { enum: ["approve", "changes"] } },
  });
  const session = out.sessions[0];
  const verdict = verdictFromLog(await r.store.readLog(session?.id ?? ""));
  expect(verdict).toEqual({
    ok: true,
    source: "structured_output",
    verdict: { verdict: "changes", findings },
  });
});

it("lets the CLI send a schema violation back to the model, which then answers validly", async () => {
  const r = await rig([
    { toolUses: [{ name: "StructuredOutput", input: { verdict: "maybe" } }] },
    { toolUses: [{ name: "StructuredOutput", input: { verdict: "approve" } }] },
  ]);
  const out = await phase(r, {}, { extraArgs: verdictArgs() });
  expect(out.status).toBe("completed");
  const second = JSON.stringify(messagesOf(turns(r.server)[1]?.body));
  expect(second).toContain("Output does not match required schema");
  expect(verdictFromLog(await r.store.readLog(out.sessions[0]?.id ?? ""))).toMatchObject({
    ok: true,
    verdict: { verdict: "approve" },
  });
});

it("without the flag, reads a fenced JSON verdict from the final answer; without either, says so", async () => {
  const r = await rig([{ text: 'Reviewed.\n```json\n{"verdict": "approve"}\n```' }]);
  const out = await phase(r);
  expect(verdictFromLog(await r.store.readLog(out.sessions[0]?.id ?? ""))).toEqual({
    ok: true,
    source: "fenced_json",
    verdict: { verdict: "approve" },
  });
  const plain = await rig([{ text: "Looks good." }]);
  const again = await phase(plain, {});
  expect(verdictFromLog(await plain.store.readLog(again.sessions[0]?.id ?? ""))).toMatchObject({
    ok: false,
  });
});

it("passes maxBudgetUsd as --max-budget-usd: the CLI stops before the next tool call", async () => {
  let target = "";
  const r = await rig([
    { toolUses: [{ name: "Write", input: { file_path: "", content: "x\n" } }] },
  ]);
  target = path.join(r.repo, "spent.txt");
  r.server.requests.length = 0;
  const out = await runPhase({
    store: r.store,
    issue,
    pipeline: DEFAULT_PIPELINE,
    repoDir: r.repo,
    claude: r.claude("home", { maxBudgetUsd: 0.001 }),
  });
  const log = await r.store.readLog(out.sessions[0]?.id ?? "");
  const result = log
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { type: string; subtype?: string; errors?: string[] })
    .find((l) => l.type === "result");
  expect(result).toMatchObject({
    subtype: "error_max_budget_usd",
    errors: ["Reached maximum budget ($0.001)"],
  });
  expect(out.status).not.toBe("completed");
  await expect(fs.access(target)).rejects.toThrow();
});
