import fs from "node:fs/promises";
import type { Session, SessionStore } from "@miyabi/core";
import { paint } from "./color.js";
import { elapsed, plural, truncate } from "./text.js";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const oneLine = (text: string, width = 160) => truncate(text.replace(/\s+/g, " ").trim(), width);

function blocks(message: unknown): Json[] {
  const content = isObject(message) ? message.content : undefined;
  return Array.isArray(content) ? content.filter(isObject) : [];
}

/** The argument that says most about a tool call: a path, a command, a pattern. */
function toolTarget(input: unknown): string {
  if (!isObject(input)) return "";
  for (const key of ["file_path", "path", "command", "pattern", "url", "description"]) {
    const value = str(input[key]);
    if (value) return ` ${oneLine(value, 100)}`;
  }
  return "";
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((b) => (isObject(b) ? (str(b.text) ?? "") : "")).join(" ");
}

// What Claude Code answers when a tool call was not permitted (CLI 2.1.x wording).
const DENIED = /requested permissions|haven't granted|permission to use|was blocked|not allowed/i;

/**
 * Claude's stream-json log as lines a person reads: the start, each turn's text and tool
 * calls, each tool's outcome (denials marked), and the result with turns, cost and time.
 * Feed it lines as they come (`logs --follow --pretty` does).
 */
export function prettyLog(color: boolean): (line: string) => string[] {
  let turn = 0;
  const tools = new Map<string, string>();
  return (line) => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return line.trim() === "" ? [] : [line];
    }
    if (!isObject(raw)) return [];
    switch (raw.type) {
      case "system": {
        if (raw.subtype !== "init") return [];
        const model = str(raw.model) ?? "?";
        const session = str(raw.session_id) ?? "?";
        return [paint(color, "dim", `start  model ${model}, Claude session ${session}`)];
      }
      case "assistant": {
        turn += 1;
        const out: string[] = [];
        for (const b of blocks(raw.message)) {
          if (b.type === "text" && str(b.text)?.trim()) {
            out.push(`turn ${turn}  ${oneLine(str(b.text) ?? "")}`);
          } else if (b.type === "tool_use") {
            const name = str(b.name) ?? "tool";
            const id = str(b.id);
            if (id) tools.set(id, name);
            out.push(`turn ${turn}  ${paint(color, "cyan", name)}${toolTarget(b.input)}`);
          }
        }
        return out;
      }
      case "user": {
        const out: string[] = [];
        for (const b of blocks(raw.message)) {
          if (b.type !== "tool_result") continue;
          const name = tools.get(str(b.tool_use_id) ?? "") ?? "tool";
          const text = oneLine(resultText(b.content), 120);
          if (b.is_error === true && DENIED.test(text)) {
            out.push(`        ${paint(color, "yellow", `✗ ${name} denied`)}: ${text}`);
          } else if (b.is_error === true) {
            out.push(`        ${paint(color, "red", `✗ ${name} failed`)}: ${text}`);
          } else {
            out.push(
              paint(color, "dim", `        ✓ ${name}${text ? `: ${truncate(text, 80)}` : ""}`),
            );
          }
        }
        return out;
      }
      case "result": {
        const ok = raw.is_error !== true && raw.subtype === "success";
        const figures = [
          num(raw.num_turns) === undefined ? null : plural(num(raw.num_turns) ?? 0, "turn"),
          num(raw.total_cost_usd) === undefined
            ? null
            : `$${(num(raw.total_cost_usd) ?? 0).toFixed(4)}`,
          num(raw.duration_ms) === undefined ? null : elapsed(num(raw.duration_ms) ?? 0),
        ].filter((f) => f !== null);
        const head = ok
          ? paint(color, "green", "result success")
          : paint(color, "red", "result error");
        const out = [`${head}  ${figures.join(", ")}`];
        const summary = str(raw.result);
        if (summary?.trim()) out.push(`        ${oneLine(summary, 200)}`);
        const denials = Array.isArray(raw.permission_denials) ? raw.permission_denials : [];
        const byTool = new Map<string, number>();
        for (const d of denials) {
          const tool = isObject(d) ? (str(d.tool_name) ?? str(d.tool) ?? "tool") : "tool";
          byTool.set(tool, (byTool.get(tool) ?? 0) + (isObject(d) ? (num(d.count) ?? 1) : 1));
        }
        if (byTool.size > 0) {
          const list = [...byTool].map(([tool, n]) => `${tool} ×${n}`).join(", ");
          out.push(`        ${paint(color, "yellow", `denied: ${list}`)}`);
        }
        return out;
      }
      default:
        return [];
    }
  };
}

/** How often `logs --follow` looks for more output and for the session's end. */
const FOLLOW_POLL_MS = 250;

/**
 * `logs --follow`: print the log as it grows until the session is no longer running: finished;
 * orphaned (its runner is gone: opening the store reconciles it to Failed); or record-only
 * (Active, yet no process was ever started for it and it has no log).
 */
export async function followLog(args: {
  open: () => Promise<SessionStore>;
  id: string;
  write: (text: string) => void;
}): Promise<void> {
  let offset = 0;
  let pending = "";
  for (;;) {
    const store = await args.open();
    let session: Session;
    let file: string;
    try {
      session = await store.getSession(args.id);
      file = store.logPath(args.id);
    } finally {
      await store.close();
    }
    const text = await readFrom(file, offset);
    const running =
      session.status === "Active" && (session.process !== null || offset + text.length > 0);
    offset += Buffer.byteLength(text);
    const complete = (pending + text).split("\n");
    pending = complete.pop() ?? "";
    for (const line of complete) args.write(`${line}\n`);
    if (!running) {
      if (pending) args.write(`${pending}\n`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
  }
}

async function readFrom(file: string, offset: number): Promise<string> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return "";
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    // A multi-byte character cut at the end waits for the next read.
    const text = buffer.toString("utf8");
    return text.endsWith("\uFFFD") ? text.slice(0, text.lastIndexOf("\n") + 1) : text;
  } finally {
    await handle.close();
  }
}
