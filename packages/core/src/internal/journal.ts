import fs from "node:fs/promises";
import { crc32 } from "node:zlib";
import { z } from "zod";
import { StoreCorruptError } from "./errors.js";
import { isErrno } from "./fs-util.js";
import { type DiskSession, DiskSessionSchema } from "./model.js";

/**
 * The journal makes each change cost O(change) instead of O(store): a change is one appended
 * line, fsynced before the call returns. Records are idempotent (whole-session upserts and
 * deletes), so replaying a journal over a `sessions.json` that already contains it is harmless;
 * that is what makes compaction crash-safe without a sequence number.
 *
 * Layout: a header line `{"journal":1,"generation":"<id>"}` and then one line per change,
 * `<crc32 hex> <json>`. A new generation is written whenever the journal is compacted, which
 * tells other processes to reload.
 */

export interface JournalRecord {
  put?: DiskSession[];
  del?: string[];
}

const RecordSchema = z.object({
  put: z.array(DiskSessionSchema).optional(),
  del: z.array(z.string()).optional(),
});

const HeaderSchema = z.object({ journal: z.literal(1), generation: z.string().min(1) });

export interface JournalRead {
  generation: string;
  records: JournalRecord[];
  /** Byte offset just past the last intact record: where the next record goes. */
  end: number;
  /** Size of the file; larger than `end` when a crash left a torn last line. */
  size: number;
  /** True when `records` start at the header (no resume point, or the generation changed). */
  fromStart: boolean;
}

export function headerLine(generation: string): string {
  return `${JSON.stringify({ journal: 1, generation })}\n`;
}

export function encodeRecord(record: JournalRecord): string {
  const json = JSON.stringify(record);
  const sum = crc32(Buffer.from(json, "utf8")).toString(16).padStart(8, "0");
  return `${sum} ${json}\n`;
}

function decodeLine(line: string): JournalRecord | null {
  const space = line.indexOf(" ");
  if (space !== 8) return null;
  const json = line.slice(9);
  const sum = crc32(Buffer.from(json, "utf8")).toString(16).padStart(8, "0");
  if (sum !== line.slice(0, 8)) return null;
  try {
    const parsed = RecordSchema.safeParse(JSON.parse(json));
    return parsed.success ? (parsed.data as JournalRecord) : null;
  } catch {
    return null;
  }
}

function parseHeader(line: string, file: string): string {
  try {
    const parsed = HeaderSchema.safeParse(JSON.parse(line));
    if (parsed.success) return parsed.data.generation;
  } catch {
    // fall through to the error below
  }
  throw new StoreCorruptError(file, "the journal header is not recognised");
}

/**
 * Read the journal. With `resume` and a matching generation, only the records after
 * `resume.offset` are decoded; otherwise (`fromStart: true`) every record is, and the caller
 * must rebuild its state from `sessions.json` plus these records.
 *
 * A last line that is incomplete or fails its checksum is a write that a crash cut short: it
 * never returned to its caller, so it is skipped. A bad line followed by good ones is corruption.
 */
export async function readJournal(
  file: string,
  resume?: { generation: string; offset: number },
): Promise<JournalRead | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 256));
    await handle.read(head, 0, head.length, 0);
    const firstNl = head.indexOf(0x0a);
    if (firstNl < 0) throw new StoreCorruptError(file, "the journal header is incomplete");
    const generation = parseHeader(head.subarray(0, firstNl).toString("utf8"), file);
    const fromStart = resume?.generation !== generation;
    const start = fromStart ? firstNl + 1 : (resume?.offset ?? firstNl + 1);
    const data = Buffer.alloc(Math.max(0, size - start));
    if (data.length > 0) await handle.read(data, 0, data.length, start);
    const { records, consumed } = decodeRecords(data, start, file);
    return { generation, records, end: start + consumed, size, fromStart };
  } finally {
    await handle.close();
  }
}

function decodeRecords(
  data: Buffer,
  base: number,
  file: string,
): { records: JournalRecord[]; consumed: number } {
  const records: JournalRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf(0x0a, pos);
    const record = nl < 0 ? null : decodeLine(data.subarray(pos, nl).toString("utf8"));
    if (!record) {
      if (nl >= 0 && data.indexOf(0x0a, nl + 1) >= 0) {
        throw new StoreCorruptError(file, `journal record at byte ${base + pos} is damaged`);
      }
      break;
    }
    records.push(record);
    pos = nl + 1;
  }
  return { records, consumed: pos };
}

/** Append one record at `offset` (cutting off a torn tail first) and fsync before returning. */
export async function appendRecord(
  file: string,
  offset: number,
  record: JournalRecord,
): Promise<number> {
  const line = Buffer.from(encodeRecord(record), "utf8");
  const handle = await fs.open(file, "r+");
  try {
    const { size } = await handle.stat();
    if (size !== offset) await handle.truncate(offset);
    await handle.write(line, 0, line.length, offset);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return offset + line.length;
}
