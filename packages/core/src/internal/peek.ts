import fs from "node:fs";
import { SESSION_STATUSES, STORE_FORMAT_VERSION } from "./constants.js";
import { isErrno } from "./fs-util.js";
import type { FileIdentity } from "./journal.js";
import { checkedJson } from "./journal-line.js";
import { StoreLayout } from "./layout.js";
import { isRunning } from "./running.js";
import { fileStamp, hasIdentity } from "./stamp.js";
import { addStats, isObject, pickStats, type SessionStats } from "./stats.js";

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

/**
 * Fold one record into `stats` and `running` (ids of running sessions), or false when it is
 * not exactly the shape our writers give the parts this reads.
 */
function fold(record: unknown, stats: SessionStats, running: Set<string>): boolean {
  if (!isObject(record)) return false;
  const delta = pickStats(record.stats);
  const put = record.put ?? [];
  const del = record.del ?? [];
  if (!delta || !Array.isArray(put) || !Array.isArray(del)) return false;
  for (const s of put) {
    if (!isObject(s) || typeof s.id !== "string") return false;
    if (!(SESSION_STATUSES as readonly unknown[]).includes(s.status)) return false;
    if (isRunning(s)) running.add(s.id);
    else running.delete(s.id);
  }
  for (const id of del) {
    if (typeof id !== "string") return false;
    running.delete(id);
  }
  addStats(stats, delta);
  return true;
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
  const running = new Set<string>();
  for (const s of summary.running) {
    if (!isObject(s) || typeof s.id !== "string") return null;
    running.add(s.id);
  }
  for (let at = firstNl + 1; at < data.length; ) {
    const nl = data.indexOf(0x0a, at);
    const json = checkedJson(data.subarray(at, nl));
    if (!json || !fold(parse(json.toString("utf8")), stats, running)) return null;
    at = nl + 1;
  }
  if (running.size > 0) return null;
  const json = fileStamp(layout.file);
  return json && hasIdentity(json, base.identity) ? stats : null;
}
