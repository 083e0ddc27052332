import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { isRecord, readBody } from "./internal/http.js";

/** One tool call the scripted model makes. */
export interface ScriptedToolUse {
  name: string;
  input: unknown;
  /** Defaults to a generated `toolu_...` id. */
  id?: string;
}

/** Token numbers reported for a turn; unset counts are estimated from the text sizes. */
export interface ScriptedUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
}

/** What the scripted model answers to one conversation turn. */
export interface ScriptedTurn {
  text?: string;
  toolUses?: ScriptedToolUse[];
  /** Defaults to `tool_use` when there are tool uses, else `end_turn`. */
  stopReason?: string;
  /** Answer with this HTTP status and the Anthropic error JSON shape instead of a message. */
  error?: { status: number; type?: string; message?: string };
  /** Accept the request and never answer (close() still finishes: it destroys the socket). */
  hang?: boolean;
  /** Wait this long before sending anything. */
  delayMs?: number;
  usage?: ScriptedUsage;
  /** Model name reported back; defaults to the requested model. */
  model?: string;
  /**
   * Attacker: obey the instructions written anywhere in the conversation's user messages
   * (see `hiddenInstructions`): one Bash or Read tool call per instruction, added to this
   * turn's own tool uses. With none found, the turn is played as scripted.
   */
  followInstructions?: boolean;
  /**
   * Attacker: append the text of the tool results in the last user message to the answer,
   * as they are, base64-encoded (to slip past exact-value masking), or both.
   */
  echoToolResults?: "raw" | "base64" | "both";
}

/**
 * How a request was treated:
 * - `turn`: a conversation turn of the main agent or a subagent; consumed one scripted turn
 *   (or got the "done" fallback),
 * - `side`: an auxiliary /v1/messages call (see sideCallKind) answered by `sideReply`
 *   without touching the script,
 * - `count_tokens`: POST /v1/messages/count_tokens,
 * - `probe`: the CLI's connectivity check `HEAD /api/hello` (only sent while nonessential
 *   traffic is allowed),
 * - `unknown`: any other method or path, answered 404.
 */
export type RequestKind = "turn" | "side" | "count_tokens" | "probe" | "unknown";

/**
 * Auxiliary model calls seen from CLI 2.1.332:
 * - `compact`: the conversation summary for (auto-)compaction; same tools and system prompt
 *   as a turn, told in its last user message to answer in text only,
 * - `aux`: a call without tools, e.g. a `type: "prompt"` hook judged by the small model.
 */
export type SideCallKind = "compact" | "aux";

export interface RecordedRequest {
  method: string;
  /** Request target as sent, query included (the CLI sends `/v1/messages?beta=true`). */
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body, the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
  kind: RequestKind;
  /** For `turn` requests: 0-based position among turn requests (the script index). */
  turnIndex?: number;
  /** For `turn` requests: true when the script was exhausted and "done" was answered instead. */
  exhausted?: boolean;
  /**
   * For `turn` requests: the CLI re-sent the previous turn after it failed (an error, a hang,
   * a dropped connection). A retry gets the same scripted turn again and keeps its turnIndex.
   */
  retry?: boolean;
  /** For `side` requests: which auxiliary call it is. */
  side?: SideCallKind;
}

export type ModelScript =
  | ScriptedTurn[]
  | ((req: RecordedRequest, index: number) => ScriptedTurn | Promise<ScriptedTurn>);

export interface ModelServerOptions {
  script: ModelScript;
  /** Interface to listen on; loopback by default. */
  host?: string;
  /**
   * Answer for auxiliary calls. By default: a short summary for `compact`, an object
   * satisfying the requested JSON schema when `output_config.format` asks for one (so a
   * prompt hook answers `{"ok": true, ...}`), else a short text.
   */
  sideReply?: (req: RecordedRequest) => ScriptedTurn | Promise<ScriptedTurn>;
}

export interface ModelServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Text answered once the scripted turns are used up. */
export const EXHAUSTED_TEXT = "done";

/**
 * A turn handing `input` over through the `StructuredOutput` tool the CLI adds for
 * `--json-schema` (a review gate's verdict): the CLI validates it and ends the run.
 */
export function structuredOutputTurn(input: unknown): ScriptedTurn {
  return { toolUses: [{ name: "StructuredOutput", input }] };
}

/** One finding of a review gate's verdict. */
export interface VerdictFinding {
  file?: string;
  line?: number;
  message: string;
}

/**
 * A review gate's verdict turn, in the shape the runner's verdict schema takes: `approve`
 * without findings, `changes` with them.
 */
export function verdictTurn(findings: readonly VerdictFinding[] = []): ScriptedTurn {
  return structuredOutputTurn(
    findings.length === 0 ? { verdict: "approve" } : { verdict: "changes", findings },
  );
}

const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

function randomId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString("hex")}`;
}

/** Text of a `system` field, which the API accepts as a string or an array of text blocks. */
export function systemText(body: unknown): string {
  if (!isRecord(body)) return "";
  const system = body.system;
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) return "";
  return system
    .map((block) => (isRecord(block) && typeof block.text === "string" ? block.text : ""))
    .join("\n");
}

/**
 * True for requests made by a subagent (Agent tool). The CLI marks them in the billing line
 * of the system prompt. Subagents run in the background by default, so their turns interleave
 * with the main agent's: route them in a function script rather than by array position.
 */
export function isSubagentRequest(req: Pick<RecordedRequest, "body">): boolean {
  return systemText(req.body).includes("cc_is_subagent=true");
}

function textBlocks(content: unknown): string[] {
  if (typeof content === "string") return [content];
  if (!Array.isArray(content)) return [];
  return content.flatMap((block) =>
    isRecord(block) && typeof block.text === "string" ? [block.text] : [],
  );
}

/** The texts of the last message of a request body. */
function lastMessageTexts(body: unknown): string[] {
  if (!isRecord(body) || !Array.isArray(body.messages)) return [];
  const last: unknown = body.messages[body.messages.length - 1];
  return isRecord(last) ? textBlocks(last.content) : [];
}

// The compaction request reuses the turn's tools and system prompt (for the prompt cache), so
// only its closing instruction tells it apart. Text as sent by CLI 2.1.332.
const COMPACT_MARKERS = [
  "CRITICAL: Respond with TEXT ONLY",
  "create a detailed summary of the conversation",
];

/**
 * Which auxiliary call a /v1/messages body is, or undefined for a conversation turn.
 * Every turn the CLI sends (main agent and subagents) carries the agent's tool list;
 * auxiliary calls send none, except compaction which is recognised by its instruction.
 */
export function sideCallKind(body: unknown): SideCallKind | undefined {
  if (!isRecord(body)) return "aux";
  if (!Array.isArray(body.tools) || body.tools.length === 0) return "aux";
  const texts = lastMessageTexts(body);
  if (texts.some((t) => COMPACT_MARKERS.some((marker) => t.includes(marker)))) return "compact";
  return undefined;
}

/** A minimal value satisfying a JSON schema (enough for the CLI's own structured side calls). */
export function sampleForSchema(schema: unknown): unknown {
  if (!isRecord(schema)) return null;
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return sampleForSchema(options[0]);
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object": {
      const props = isRecord(schema.properties) ? schema.properties : {};
      const required = Array.isArray(schema.required)
        ? schema.required.filter((k): k is string => typeof k === "string")
        : Object.keys(props);
      return Object.fromEntries(required.map((key) => [key, sampleForSchema(props[key])]));
    }
    case "array":
      return [];
    case "string":
      return "scripted";
    case "number":
    case "integer":
      return 0;
    case "boolean":
      // true is the permissive answer for the CLI's yes/no judgements (e.g. prompt hooks' "ok").
      return true;
    default:
      return null;
  }
}

function defaultSideReply(req: RecordedRequest): ScriptedTurn {
  if (req.side === "compact") {
    return {
      text: "<analysis>Scripted.</analysis>\n<summary>Scripted summary of the conversation so far.</summary>",
    };
  }
  const format =
    isRecord(req.body) && isRecord(req.body.output_config)
      ? req.body.output_config.format
      : undefined;
  if (isRecord(format) && format.type === "json_schema") {
    return { text: JSON.stringify(sampleForSchema(format.schema)) };
  }
  return { text: "Scripted side reply." };
}

/**
 * Whether `next` re-sends the conversation of `prev`. Only user and assistant messages must
 * match: on its 400 fallback the CLI rewrites its own system-role note.
 */
function isSameConversation(prev: unknown, next: unknown): boolean {
  if (!isRecord(prev) || !isRecord(next)) return false;
  const a = prev.messages;
  const b = next.messages;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((m: unknown, i) => {
    const n: unknown = b[i];
    if (!isRecord(m) || !isRecord(n) || m.role !== n.role) return false;
    if (m.role !== "user" && m.role !== "assistant") return true;
    return JSON.stringify(m.content) === JSON.stringify(n.content);
  });
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function parseBody(raw: string): unknown {
  if (raw === "") return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function sendJson(res: http.ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "request-id": randomId("req_"),
  });
  res.end(body);
}

function sendError(
  res: http.ServerResponse,
  status: number,
  type?: string,
  message?: string,
): void {
  sendJson(res, status, {
    type: "error",
    error: {
      type: type ?? DEFAULT_ERROR_TYPES[status] ?? "api_error",
      message: message ?? `scripted error ${status}`,
    },
  });
}

function requestedModel(body: unknown): string {
  return isRecord(body) && typeof body.model === "string" ? body.model : "claude-scripted";
}

function wantsStream(body: unknown): boolean {
  return isRecord(body) && body.stream === true;
}

/** Rough stand-in for a tokenizer: about four characters a token. */
function estimateTokens(body: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(body ?? "").length / 4));
}

interface ContentBlock {
  type: "text" | "tool_use";
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

function contentBlocks(turn: ScriptedTurn): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  if (turn.text !== undefined && turn.text !== "") blocks.push({ type: "text", text: turn.text });
  for (const use of turn.toolUses ?? []) {
    blocks.push({
      type: "tool_use",
      id: use.id ?? randomId("toolu_"),
      name: use.name,
      input: use.input ?? {},
    });
  }
  // The API never returns an empty content list for a finished turn; neither do we.
  if (blocks.length === 0) blocks.push({ type: "text", text: "" });
  return blocks;
}

function usageOf(turn: ScriptedTurn, body: unknown, blocks: ContentBlock[]) {
  const outputGuess = blocks.reduce(
    (n, b) => n + Math.ceil(JSON.stringify(b.text ?? b.input ?? "").length / 4),
    1,
  );
  return {
    input_tokens:
      turn.usage?.inputTokens ?? estimateTokens(isRecord(body) ? body.messages : undefined),
    output_tokens: turn.usage?.outputTokens ?? outputGuess,
    cache_read_input_tokens: turn.usage?.cacheReadInputTokens ?? 0,
    cache_creation_input_tokens: turn.usage?.cacheCreationInputTokens ?? 0,
  };
}

function sendMessage(res: http.ServerResponse, body: unknown, turn: ScriptedTurn): void {
  const blocks = contentBlocks(turn);
  const hasTools = blocks.some((b) => b.type === "tool_use");
  const stopReason = turn.stopReason ?? (hasTools ? "tool_use" : "end_turn");
  const usage = usageOf(turn, body, blocks);
  const message = {
    id: randomId("msg_"),
    type: "message",
    role: "assistant",
    model: turn.model ?? requestedModel(body),
    content: [] as unknown[],
    stop_reason: null as string | null,
    stop_sequence: null,
    usage: { ...usage, output_tokens: 1 },
  };

  if (!wantsStream(body)) {
    sendJson(res, 200, {
      ...message,
      content: blocks.map((b) =>
        b.type === "text"
          ? { type: "text", text: b.text }
          : { type: "tool_use", id: b.id, name: b.name, input: b.input },
      ),
      stop_reason: stopReason,
      usage,
    });
    return;
  }

  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "request-id": randomId("req_"),
  });
  const event = (type: string, data: Record<string, unknown>): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  event("message_start", { message });
  event("ping", {});
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      event("content_block_start", { index, content_block: { type: "text", text: "" } });
      const text = block.text ?? "";
      // Several deltas, so consumers that only handle one chunk get caught.
      const mid = Math.ceil(text.length / 2);
      for (const piece of [text.slice(0, mid), text.slice(mid)]) {
        if (piece !== "")
          event("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
      }
    } else {
      event("content_block_start", {
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
      });
      const json = JSON.stringify(block.input ?? {});
      const mid = Math.ceil(json.length / 2);
      for (const piece of [json.slice(0, mid), json.slice(mid)]) {
        if (piece !== "")
          event("content_block_delta", {
            index,
            delta: { type: "input_json_delta", partial_json: piece },
          });
      }
    }
    event("content_block_stop", { index });
  });
  event("message_delta", {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  event("message_stop", {});
  res.end();
}

/** An instruction an attacker planted in text the model reads. */
export type HiddenInstruction = { tool: "Bash"; command: string } | { tool: "Read"; path: string };

/**
 * Instructions in `text`, in order: ``RUN: `command` `` asks for a Bash call and
 * ``READ: `path` `` for a Read call. The syntax is the scripted attacker's own; a real model
 * follows prose, this one follows these markers wherever they are (an HTML comment, plain
 * text, a tool result).
 */
export function hiddenInstructions(text: string): HiddenInstruction[] {
  const out: HiddenInstruction[] = [];
  for (const m of text.matchAll(/\b(RUN|READ):\s*`([^`\n]+)`/g)) {
    const arg = m[2] as string;
    out.push(m[1] === "RUN" ? { tool: "Bash", command: arg } : { tool: "Read", path: arg });
  }
  return out;
}

function userTexts(body: unknown): string[] {
  if (!isRecord(body) || !Array.isArray(body.messages)) return [];
  return body.messages.flatMap((m: unknown) =>
    isRecord(m) && m.role === "user" ? textBlocks(m.content) : [],
  );
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  return textBlocks(content).join("\n");
}

/** The text of the tool results in the last message of a request body. */
export function lastToolResults(body: unknown): string {
  if (!isRecord(body) || !Array.isArray(body.messages)) return "";
  const last: unknown = body.messages[body.messages.length - 1];
  if (!isRecord(last) || !Array.isArray(last.content)) return "";
  return last.content
    .flatMap((block: unknown) =>
      isRecord(block) && block.type === "tool_result" ? [resultText(block.content)] : [],
    )
    .join("\n");
}

/** A turn with its attacker directives turned into plain tool uses and text. */
function playAttacker(turn: ScriptedTurn, body: unknown): ScriptedTurn {
  let out = turn;
  if (turn.followInstructions) {
    const found = userTexts(body).flatMap(hiddenInstructions);
    if (found.length > 0) {
      const uses = found.map((i) =>
        i.tool === "Bash"
          ? { name: "Bash", input: { command: i.command, description: "as instructed" } }
          : { name: "Read", input: { file_path: i.path } },
      );
      out = { ...out, toolUses: [...(out.toolUses ?? []), ...uses] };
    }
  }
  if (turn.echoToolResults) {
    const raw = lastToolResults(body);
    const parts = [out.text ?? ""];
    if (turn.echoToolResults !== "base64") parts.push(raw);
    if (turn.echoToolResults !== "raw") parts.push(Buffer.from(raw).toString("base64"));
    out = { ...out, text: parts.filter((p) => p !== "").join("\n") };
  }
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Start a scripted Anthropic Messages API on loopback. */
export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const { script } = options;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let turnCount = 0;
  let closing = false;
  // Turns that ended without a full message, to tell the CLI's retries from new turns.
  const failedTurns: { body: unknown; index: number }[] = [];

  const nextTurn = async (recorded: RecordedRequest, index: number): Promise<ScriptedTurn> => {
    if (typeof script === "function") return script(recorded, index);
    const turn = script[index];
    if (turn !== undefined) return turn;
    recorded.exhausted = true;
    return { text: EXHAUSTED_TEXT };
  };

  /**
   * Play one scripted turn on `res`. Resolves once the exchange is over: true when a message
   * was sent in full, false after an error answer or when the connection went away first
   * (a hang ends only when the client gives up or close() runs).
   */
  const respond = async (
    res: http.ServerResponse,
    body: unknown,
    turn: ScriptedTurn,
  ): Promise<boolean> => {
    const over = new Promise<boolean>((resolve) => {
      res.once("close", () => resolve(res.writableFinished));
    });
    if (turn.delayMs !== undefined && turn.delayMs > 0) await delay(turn.delayMs);
    if (turn.hang === true || closing || res.destroyed) return over.then(() => false);
    if (turn.error !== undefined) {
      sendError(res, turn.error.status, turn.error.type, turn.error.message);
      return over.then(() => false);
    }
    sendMessage(res, body, turn);
    return over;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const raw = (await readBody(req)).toString("utf8");
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    const pathname = new URL(target, "http://localhost").pathname.replace(/\/+$/, "");
    const body = parseBody(raw);
    const recorded: RecordedRequest = {
      method,
      path: target,
      headers: flattenHeaders(req.headers),
      body,
      kind: "unknown",
    };
    requests.push(recorded);

    if (method === "POST" && pathname === "/v1/messages/count_tokens") {
      recorded.kind = "count_tokens";
      sendJson(res, 200, { input_tokens: estimateTokens(body) });
      return;
    }
    if (pathname === "/api/hello") {
      recorded.kind = "probe";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(method === "HEAD" ? undefined : "{}");
      return;
    }
    if (method !== "POST" || pathname !== "/v1/messages") {
      sendError(res, 404, "not_found_error", `no scripted route for ${method} ${target}`);
      return;
    }

    const side = sideCallKind(body);
    if (side !== undefined) {
      recorded.kind = "side";
      recorded.side = side;
      await respond(res, body, await (options.sideReply ?? defaultSideReply)(recorded));
      return;
    }

    recorded.kind = "turn";
    // The CLI re-sends a failed turn (SDK retries on 429/5xx/timeouts as CLAUDE_CODE_MAX_RETRIES
    // allows, and beta-dropping fallbacks after a 400 even with retries off). That is still the
    // same turn, so it replays the same scripted turn rather than eating the next one.
    const failedAt = failedTurns.findIndex((f) => isSameConversation(f.body, body));
    const failed = failedAt >= 0 ? failedTurns.splice(failedAt, 1)[0] : undefined;
    const index = failed !== undefined ? failed.index : turnCount++;
    recorded.turnIndex = index;
    if (failed !== undefined) recorded.retry = true;
    const turn = playAttacker(await nextTurn(recorded, index), body);
    const ok = await respond(res, body, turn);
    if (!ok) failedTurns.push({ body, index });
  };

  const server = http.createServer((req, res) => {
    // Writes racing a client that hung up must not crash the process hosting the server.
    res.on("error", () => {});
    handle(req, res).catch((err: unknown) => {
      // A throwing script function must surface to the CLI as a server error, not a hang.
      if (!res.headersSent)
        sendError(res, 500, "api_error", err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    requests,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        closing = true;
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging turns and keep-alive connections would otherwise hold close() open.
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}

/**
 * Environment for running the real CLI against `server` with an isolated HOME. Verified on
 * CLI 2.1.332: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC alone stops every connection except
 * the ones to ANTHROPIC_BASE_URL (no DNS look-ups at all); the DISABLE_* switches are kept as
 * a second line of defence. CLAUDE_CODE_TMPDIR moves the CLI's sockets and task files from
 * /tmp into HOME (the CLI creates the directory). Use it as the whole environment plus PATH,
 * so that the parent's own ANTHROPIC_* and CLAUDE_* variables stay out.
 */
export function modelServerEnv(
  server: Pick<ModelServer, "url">,
  options: { home: string },
): Record<string, string> {
  return {
    HOME: options.home,
    CLAUDE_CONFIG_DIR: path.join(options.home, ".claude"),
    CLAUDE_CODE_TMPDIR: path.join(options.home, "tmp"),
    ANTHROPIC_BASE_URL: server.url,
    ANTHROPIC_API_KEY: "sk-ant-api03-scripted-model-server-dummy-key",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    CLAUDE_CODE_MAX_RETRIES: "0",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
  };
}
