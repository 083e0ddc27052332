import fs from "node:fs";
import { PHASES, STORE_FORMAT_VERSION } from "./constants.js";
import { isErrno } from "./fs-util.js";
import type { FileIdentity } from "./journal.js";
import { StoreLayout } from "./layout.js";
import { fileStamp, hasIdentity } from "./stamp.js";
import type { SessionStats } from "./summary.js";

// A header-only journal is well under this; anything larger has records to fold, so it is
// not peeked at.
const MAX_HEADER_BYTES = 64 * 1024;

const COUNTS = ["total", "active", "handedOff", "completed", "failed"] as const;

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The figures StatsSchema accepts, picked out of `value` without the schema library, or null.
 * A property test holds the two to the same answers.
 */
export function pickStats(value: unknown): SessionStats | null {
  if (!isObject(value) || !isObject(value.byPhase)) return null;
  if (!COUNTS.every((k) => Number.isSafeInteger(value[k]))) return null;
  if (typeof value.totalCostUsd !== "number") return null;
  const byPhase: SessionStats["byPhase"] = {};
  for (const [phase, n] of Object.entries(value.byPhase)) {
    if (!(PHASES as readonly string[]).includes(phase) || !Number.isSafeInteger(n)) return null;
    byPhase[phase as keyof typeof byPhase] = n as number;
  }
  const count = (key: (typeof COUNTS)[number]) => value[key] as number;
  return {
    total: count("total"),
    active: count("active"),
    handedOff: count("handedOff"),
    completed: count("completed"),
    failed: count("failed"),
    totalCostUsd: value.totalCostUsd,
    byPhase,
  };
}

const isIdentity = (value: unknown): value is FileIdentity =>
  isObject(value) &&
  typeof value.ino === "string" &&
  typeof value.size === "string" &&
  typeof value.ctime_ns === "string";

/** The journal's first bytes, or null when it is missing, not a plain file or too large. */
function readSmallJournal(file: string): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    if (isErrno(error, "ENOENT") || isErrno(error, "ELOOP")) return null;
    throw error;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_HEADER_BYTES) return null;
    const data = Buffer.alloc(st.size);
    const n = fs.readSync(fd, data, 0, data.length, 0);
    return n === data.length ? data : null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A one-shot `stats` that loads neither the schemas nor sessions.json. It answers when the
 * journal is a lone header whose summary describes sessions.json as it is now (the file our
 * compaction wrote, untouched since: same inode, size and change time) and no session is
 * running, so opening the store would neither replay a record nor reconcile an orphan. In
 * every other case it returns null and the caller opens the store, which validates what it
 * reads and says what is wrong.
 */
export function peekStats(dir: string): SessionStats | null {
  const layout = new StoreLayout(dir);
  const data = readSmallJournal(layout.journal);
  // Exactly one line: any record after the header would have to be validated and folded in.
  if (!data || data.indexOf(0x0a) !== data.length - 1) return null;
  let header: unknown;
  try {
    header = JSON.parse(data.toString("utf8"));
  } catch {
    // JSON.parse throws only SyntaxError; the full open reports the damage.
    return null;
  }
  if (!isObject(header) || header.journal !== 1 || header.format !== STORE_FORMAT_VERSION)
    return null;
  const { base, summary } = header;
  if (!isObject(base) || !isIdentity(base.identity) || !isObject(summary)) return null;
  if (!Array.isArray(summary.running) || summary.running.length > 0) return null;
  const json = fileStamp(layout.file);
  if (!json || !hasIdentity(json, base.identity)) return null;
  return pickStats(summary.stats);
}
