import { describe, expect, it } from "vitest";
import {
  parseVerdict,
  VERDICT_JSON_SCHEMA,
  VERDICT_SCHEMA,
  verdictArgs,
  verdictFromLog,
} from "./verdict.js";

describe("parseVerdict", () => {
  it("takes structured_output from a result line first", () => {
    const line = {
      structured_output: {
        verdict: "changes",
        findings: [{ file: "a.ts", line: 3, message: "rename" }],
      },
      result: '```json\n{"verdict":"approve"}\n```',
    };
    expect(parseVerdict(line)).toEqual({
      ok: true,
      source: "structured_output",
      verdict: { verdict: "changes", findings: [{ file: "a.ts", line: 3, message: "rename" }] },
    });
  });

  it("falls back to the last fenced JSON block of the answer", () => {
    const text = [
      "Earlier draft:",
      "```json",
      '{"verdict": "changes", "findings": [{"message": "x"}]}',
      "```",
      "Final:",
      "```",
      '{"verdict": "approve"}',
      "```",
    ].join("\n");
    expect(parseVerdict(text)).toEqual({
      ok: true,
      source: "fenced_json",
      verdict: { verdict: "approve" },
    });
    expect(parseVerdict({ result: text })).toMatchObject({
      ok: true,
      verdict: { verdict: "approve" },
    });
  });

  it.each([
    ["no block", "Looks fine to me.", /without a verdict/],
    ["not JSON", "```json\n{verdict: approve}\n```", /not JSON/],
    ["an unknown verdict", '```json\n{"verdict": "maybe"}\n```', /not valid/],
    [
      "changes without findings",
      '```json\n{"verdict": "changes", "findings": []}\n```',
      /findings/,
    ],
    [
      "a finding without a message",
      '```json\n{"verdict": "changes", "findings": [{"file": "a"}]}\n```',
      /message/,
    ],
    [
      "a line that is not a line",
      '```json\n{"verdict": "changes", "findings": [{"message": "m", "line": 0}]}\n```',
      /line/,
    ],
  ])("refuses %s", (_name, text, reason) => {
    const parsed = parseVerdict(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it("refuses an invalid structured_output rather than reading the text", () => {
    expect(
      parseVerdict({
        structured_output: { verdict: "changes" },
        result: '```json\n{"verdict":"approve"}\n```',
      }).ok,
    ).toBe(false);
  });

  it("bounds what an agent can hand over", () => {
    const findings = Array.from({ length: 51 }, () => ({ message: "m" }));
    expect(VERDICT_SCHEMA.safeParse({ verdict: "changes", findings }).success).toBe(false);
    expect(
      VERDICT_SCHEMA.safeParse({ verdict: "changes", findings: [{ message: "x".repeat(4001) }] })
        .success,
    ).toBe(false);
  });
});

describe("verdictFromLog", () => {
  it("reads the last result line of a stream log", () => {
    const log = [
      JSON.stringify({ type: "system", subtype: "init", session_id: "s" }),
      "not json",
      JSON.stringify({
        type: "result",
        subtype: "success",
        is_error: false,
        structured_output: { verdict: "approve" },
      }),
      "",
    ].join("\n");
    expect(verdictFromLog(log)).toMatchObject({ ok: true, verdict: { verdict: "approve" } });
    expect(verdictFromLog(log.split("\n")[0] ?? "")).toMatchObject({
      ok: false,
      reason: /no result line/,
    });
  });
});

it("asks the CLI for a flat object schema in one argument", () => {
  const [arg, ...rest] = verdictArgs();
  expect(rest).toEqual([]);
  expect(arg?.startsWith("--json-schema=")).toBe(true);
  expect(JSON.parse(arg?.slice("--json-schema=".length) ?? "")).toEqual(VERDICT_JSON_SCHEMA);
  expect(VERDICT_JSON_SCHEMA.type).toBe("object");
});
