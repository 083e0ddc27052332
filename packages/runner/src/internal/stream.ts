import { z } from "zod";

/*
 * Schemas for the lines of `claude -p --output-format stream-json --verbose`. They are loose:
 * the CLI adds message types and fields often, and an unknown line must never break a run.
 * Only what we record is described.
 */

const UsageSchema = z.looseObject({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  cache_creation_input_tokens: z.number().optional(),
  cache_read_input_tokens: z.number().optional(),
});

export const InitLineSchema = z.looseObject({
  type: z.literal("system"),
  subtype: z.literal("init"),
  session_id: z.string(),
  model: z.string().optional(),
  cwd: z.string().optional(),
  tools: z.array(z.string()).optional(),
});

const ContentBlockSchema = z.looseObject({
  type: z.string(),
  name: z.string().optional(),
  text: z.string().optional(),
});

export const AssistantLineSchema = z.looseObject({
  type: z.literal("assistant"),
  message: z.looseObject({ content: z.array(ContentBlockSchema).default([]) }),
});

export const ResultLineSchema = z.looseObject({
  type: z.literal("result"),
  subtype: z.string(),
  is_error: z.boolean(),
  result: z.string().optional(),
  session_id: z.string().optional(),
  num_turns: z.number().optional(),
  total_cost_usd: z.number().optional(),
  duration_ms: z.number().optional(),
  duration_api_ms: z.number().optional(),
  usage: UsageSchema.optional(),
  errors: z.array(z.unknown()).optional(),
  terminal_reason: z.string().optional(),
  api_error_status: z.number().nullable().optional(),
  permission_denials: z.array(z.looseObject({ tool_name: z.string() })).optional(),
});

export type ResultLine = z.output<typeof ResultLineSchema>;

/** A tool call the CLI refused under its permission rules (the call itself is not run). */
export const PermissionDeniedLineSchema = z.looseObject({
  type: z.literal("system"),
  subtype: z.literal("permission_denied"),
  tool_name: z.string(),
  message: z.string().optional(),
  decision_reason: z.string().optional(),
});

export type StreamEvent =
  | { kind: "init"; claudeSessionId: string; model: string | undefined }
  | { kind: "text"; text: string }
  | { kind: "tool"; name: string }
  | { kind: "denied"; tool: string; reason: string }
  | { kind: "result"; line: ResultLine }
  | { kind: "other"; type: string };

/** Decode one output line; lines that are not JSON objects are `null` (the CLI may print noise). */
export function parseStreamLine(line: string): StreamEvent[] | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const init = InitLineSchema.safeParse(raw);
  if (init.success)
    return [{ kind: "init", claudeSessionId: init.data.session_id, model: init.data.model }];
  const assistant = AssistantLineSchema.safeParse(raw);
  if (assistant.success) {
    const events: StreamEvent[] = [];
    for (const block of assistant.data.message.content) {
      if (block.type === "tool_use" && block.name) events.push({ kind: "tool", name: block.name });
      if (block.type === "text" && block.text) events.push({ kind: "text", text: block.text });
    }
    return events;
  }
  const denied = PermissionDeniedLineSchema.safeParse(raw);
  if (denied.success) {
    const reason = denied.data.decision_reason ?? denied.data.message ?? "";
    return [{ kind: "denied", tool: denied.data.tool_name, reason }];
  }
  const result = ResultLineSchema.safeParse(raw);
  if (result.success) return [{ kind: "result", line: result.data }];
  const type = (raw as { type?: unknown }).type;
  return [{ kind: "other", type: typeof type === "string" ? type : "unknown" }];
}

/** Lines longer than this are skipped: the CLI never needs one, and memory is bounded. */
export const MAX_LINE_LENGTH = 16 * 1024 * 1024;

/**
 * Split a text stream into lines, keeping a partial last line until more arrives. Linear in
 * the input: a partial line is kept as a list of pieces and joined once, when it ends. A line
 * longer than `maxLength` is dropped as it streams (only its length is kept) and reported
 * through `onSkip` when it ends.
 */
export class LineSplitter {
  readonly #maxLength: number;
  readonly #onSkip: (length: number) => void;
  #pieces: string[] = [];
  #length = 0;
  #skipping = false;

  constructor(options: { maxLength?: number; onSkip?: (length: number) => void } = {}) {
    this.#maxLength = options.maxLength ?? MAX_LINE_LENGTH;
    this.#onSkip = options.onSkip ?? (() => {});
  }

  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const end = chunk.indexOf("\n", start);
      if (end === -1) break;
      this.#add(chunk.slice(start, end));
      const line = this.#take();
      if (line) lines.push(line);
      start = end + 1;
    }
    if (start < chunk.length) this.#add(chunk.slice(start));
    return lines;
  }

  flush(): string[] {
    const line = this.#take();
    return line ? [line] : [];
  }

  #add(piece: string): void {
    this.#length += piece.length;
    if (this.#skipping) return;
    if (this.#length > this.#maxLength) {
      this.#skipping = true;
      this.#pieces = [];
      return;
    }
    if (piece) this.#pieces.push(piece);
  }

  #take(): string | null {
    const length = this.#length;
    const skipped = this.#skipping;
    const line = skipped ? "" : this.#pieces.join("");
    this.#pieces = [];
    this.#length = 0;
    this.#skipping = false;
    if (skipped) this.#onSkip(length);
    return line.length > 0 ? line : null;
  }
}
