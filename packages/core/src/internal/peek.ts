import fs from "node:fs";
import { SESSION_STATUSES, STORE_FORMAT_VERSION } from "./constants.js";
import { isErrno } from "./fs-util.js";
import type { FileIdentity } from "./journal.js";
import { checkedJson } from "./journal-line.js";
import { StoreLayout } from "./layout.js";
import { fileStamp, hasIdentity } from "./stamp.js";
import { isObject, pickStats, type RunState, type SessionStats, SummaryView } from "./stats.js";

const isIdentity = (value: unknown): value is FileIdentity =>
  isObject(value) &&
  typeof value.ino === "string" &&
  typeof value.size === "string" &&
  typeof value.ctime_ns === "string";

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse throws only SyntaxError; the full open reports the damage.
    return undefined;
  }
}

/** The journal's bytes, or null when it is missing or not a plain file. */
function readJournal(file: string): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    if (isErrno(error, "ENOENT") || isErrno(error, "ELOOP")) return null;
    throw error;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    const data = Buffer.alloc(st.size);
    return fs.readSync(fd, data, 0, data.length, 0) === data.length ? data : null;
  } finally {
    fs.closeSync(fd);
  }
}

/** A session's id and what isRunning reads, or null when it is not the shape our writers give it. */
function runState(value: unknown): RunState | null {
  if (!isObject(value) || typeof value.id !== "string") return null;
  if (!(SESSION_STATUSES as readonly unknown[]).includes(value.status)) return null;
  return { id: value.id, status: value.status, process: value.process, result: value.result };
}

/**
 * The parts of a record the summary view folds in, checked by hand, or null when one is not
 * the shape our writers give it.
 */
function checkedRecord(
  value: unknown,
): { put: RunState[]; del: string[]; stats: SessionStats } | null {
  if (!isObject(value)) return null;
  const stats = pickStats(value.stats);
  const put = value.put ?? [];
  const del = value.del ?? [];
  if (!stats || !Array.isArray(put) || !Array.isArray(del)) return null;
  const states = put.map(runState);
  if (!states.every((s) => s !== null)) return null;
  if (!del.every((id) => typeof id === "string")) return null;
  return { put: states, del, stats };
}

/**
 * A one-shot `stats` that loads neither the schemas nor sessions.json. It answers when the
 * journal's header describes sessions.json as it is now (the file our compaction wrote,
 * untouched since: same inode, size and change time), every record after it is intact and
 * carries its stats change, and no session is left running, so opening the store would
 * neither need the document nor reconcile an orphan. In every other case it returns null and
 * the caller opens the store, which validates what it reads and says what is wrong.
 */
export function peekStats(dir: string): SessionStats | null {
  const layout = new StoreLayout(dir);
  const data = readJournal(layout.journal);
  // A torn last line is the full open's to cut.
  if (data?.at(-1) !== 0x0a) return null;
  const firstNl = data.indexOf(0x0a);
  const header = parse(data.subarray(0, firstNl).toString("utf8"));
  if (!isObject(header) || header.journal !== 1 || header.format !== STORE_FORMAT_VERSION)
    return null;
  const { base, summary } = header;
  if (!isObject(base) || !isIdentity(base.identity) || !isObject(summary)) return null;
  const stats = pickStats(summary.stats);
  if (!stats || !Array.isArray(summary.running)) return null;
  const running = summary.running.map(runState);
  if (!running.every((s) => s !== null)) return null;
  const view = new SummaryView({ stats, running });
  for (let at = firstNl + 1; at < data.length; ) {
    const nl = data.indexOf(0x0a, at);
    const json = checkedJson(data.subarray(at, nl));
    const record = json && checkedRecord(parse(json.toString("utf8")));
    if (!record) return null;
    view.fold(record);
    at = nl + 1;
  }
  if (view.running.size > 0) return null;
  const json = fileStamp(layout.file);
  return json && hasIdentity(json, base.identity) ? view.stats : null;
}
