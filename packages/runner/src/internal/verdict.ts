import { z } from "zod";
import { parseStreamLine } from "./stream.js";

/*
 * The Review step's verdict, as data the pipeline can act on: `approve`, or `changes` with
 * findings that go back to CodeGen. Claude Code 2.1.332 supports `--json-schema` in
 * `-p --output-format stream-json` mode (verified, docs/claude-cli.md): it adds a
 * `StructuredOutput` tool whose input the CLI validates against the schema (an invalid call
 * gets an error tool result, a plain-text answer a `[structured-output-enforce]` nudge), and
 * the `result` line then carries the object as `structured_output` (and as JSON text in
 * `result`). A fenced JSON block at the end of the answer is accepted too, for runs without
 * the flag. The findings were written by an agent that read untrusted code: they are data,
 * to be sanitized into the next prompt and redacted before they are shown.
 */

const MAX_FINDINGS = 50;
const MAX_MESSAGE = 4000;

const FindingSchema = z.object({
  file: z.string().min(1).max(500).optional(),
  line: z.number().int().positive().optional(),
  message: z.string().min(1).max(MAX_MESSAGE),
});

export const VERDICT_SCHEMA = z.discriminatedUnion("verdict", [
  z.object({ verdict: z.literal("approve") }),
  z.object({
    verdict: z.literal("changes"),
    findings: z.array(FindingSchema).min(1).max(MAX_FINDINGS),
  }),
]);

export type Verdict = z.infer<typeof VERDICT_SCHEMA>;
export type Finding = z.infer<typeof FindingSchema>;

/**
 * The same shape as a JSON Schema for the CLI. Flat (one object, no top-level anyOf) because
 * it becomes a tool's input schema; `changes` needing findings is checked by VERDICT_SCHEMA.
 */
export const VERDICT_JSON_SCHEMA = {
  type: "object",
  properties: {
    verdict: { type: "string", enum: ["approve", "changes"] },
    findings: {
      type: "array",
      maxItems: MAX_FINDINGS,
      items: {
        type: "object",
        properties: {
          file: { type: "string", description: "Path relative to the repository root" },
          line: { type: "integer", minimum: 1 },
          message: {
            type: "string",
            maxLength: MAX_MESSAGE,
            description: "What to change and why",
          },
        },
        required: ["message"],
        additionalProperties: false,
      },
    },
  },
  required: ["verdict"],
  additionalProperties: false,
} as const;

/** Arguments that make the CLI end the run with a verdict (add them to the Review step's extraArgs). */
export function verdictArgs(): string[] {
  // `=` keeps the JSON from being read as a separate argument, as buildClaudeArgs does.
  return [`--json-schema=${JSON.stringify(VERDICT_JSON_SCHEMA)}`];
}

/** For the Review prompt: how to hand the verdict over. */
export const VERDICT_INSTRUCTIONS = [
  "End the review with a verdict by calling the StructuredOutput tool:",
  '`{"verdict": "approve"}` when the change is ready, or',
  '`{"verdict": "changes", "findings": [{"file": "src/x.ts", "line": 3, "message": "what to change and why"}]}`',
  "with one finding per problem CodeGen must fix. If that tool is not available, end your answer with the same JSON in a ```json fenced block.",
].join("\n");

export type VerdictParse =
  | { ok: true; verdict: Verdict; source: "structured_output" | "fenced_json" }
  | { ok: false; reason: string };

/**
 * The verdict of a finished Review run: from the result line's `structured_output`, else
 * from the last fenced JSON block of its text (or of `text` given directly).
 */
export function parseVerdict(
  input: string | { structured_output?: unknown; result?: string },
): VerdictParse {
  if (typeof input !== "string" && input.structured_output !== undefined) {
    return validate(input.structured_output, "structured_output");
  }
  const text = typeof input === "string" ? input : (input.result ?? "");
  const block = lastFencedBlock(text);
  if (block === undefined) {
    return {
      ok: false,
      reason:
        "the Review run ended without a verdict (no StructuredOutput call and no fenced JSON block in its answer)",
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(block);
  } catch (error) {
    return {
      ok: false,
      reason: `the verdict block is not JSON (${error instanceof Error ? error.message : String(error)})`,
    };
  }
  return validate(value, "fenced_json");
}

/**
 * The verdict of a Review session from its log (the raw stream the runner keeps in the
 * store): the last result line decides. The session's summary is not enough: it is cut and
 * redacted.
 */
export function verdictFromLog(log: string): VerdictParse {
  const lines = log.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const result = parseStreamLine(lines[i] ?? "")?.find((e) => e.kind === "result");
    if (result?.kind === "result") return parseVerdict(result.line);
  }
  return { ok: false, reason: "the Review run's log has no result line (it did not finish)" };
}

function validate(value: unknown, source: "structured_output" | "fenced_json"): VerdictParse {
  const parsed = VERDICT_SCHEMA.safeParse(value);
  if (parsed.success) return { ok: true, verdict: parsed.data, source };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? issue.path.join(".") : "verdict";
  return {
    ok: false,
    reason: `the verdict is not valid: ${where}: ${issue?.message ?? "invalid"}`,
  };
}

/** The contents of the last ```json (or bare ```) block. */
function lastFencedBlock(text: string): string | undefined {
  let last: string | undefined;
  for (const match of text.matchAll(/```(?:json)?[ \t]*\r?\n([\s\S]*?)\r?\n[ \t]*```/gi)) {
    last = match[1];
  }
  return last;
}
