import { constants } from "node:fs";
import type fs from "node:fs/promises";
import { crc32 } from "node:zlib";
import { z } from "zod";
import { StoreCorruptError, UnsupportedVersionError } from "./errors.js";
import { isErrno, openNoFollow } from "./fs-util.js";
import {
  type DiskIssueSnapshot,
  DiskIssueSnapshotSchema,
  type DiskSession,
  DiskSessionSchema,
  STORE_FORMAT_VERSION,
} from "./model.js";

/**
 * The journal makes each change cost O(change) instead of O(store): a change is one appended
 * line, fsynced before the call returns. Records are idempotent (whole-session upserts and
 * deletes), so replaying a journal over a `sessions.json` that already contains it is harmless;
 * that is what makes compaction crash-safe without a sequence number.
 *
 * Layout: a header line `{"journal":1,"generation":"<id>","format":<STORE_FORMAT_VERSION>}`
 * (`format` absent: written by a release before format 2) and then one line per change,
 * `<crc32 hex> <json>`. A new generation is written whenever the journal is compacted, which
 * tells other processes to reload.
 */

export interface JournalRecord {
  put?: DiskSession[];
  del?: string[];
  /** Issue snapshots; the first capture of an issue number wins. */
  issues?: DiskIssueSnapshot[];
}

const RecordSchema = z.object({
  put: z.array(DiskSessionSchema).optional(),
  del: z.array(z.string()).optional(),
  issues: z.array(DiskIssueSnapshotSchema).optional(),
});

const HeaderSchema = z.object({
  journal: z.literal(1),
  generation: z.string().min(1),
  format: z.number().int().positive().optional(),
});

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
  return `${JSON.stringify({ journal: 1, generation, format: STORE_FORMAT_VERSION })}\n`;
}

export function encodeRecord(record: JournalRecord): string {
  const json = JSON.stringify(record);
  const sum = crc32(Buffer.from(json, "utf8")).toString(16).padStart(8, "0");
  return `${sum} ${json}\n`;
}

/**
 * A line whose checksum fails is a torn write (null). One whose checksum holds was written
 * whole by a writer, so content that does not parse is corruption, never a torn write.
 */
function decodeLine(line: Buffer, file: string, at: number): JournalRecord | null {
  if (line.length < 9 || line[8] !== 0x20) return null;
  const json = line.subarray(9);
  const sum = crc32(json).toString(16).padStart(8, "0");
  if (sum !== line.subarray(0, 8).toString("latin1")) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString("utf8"));
  } catch (error) {
    throw new StoreCorruptError(file, `journal record at byte ${at} is not JSON`, { cause: error });
  }
  const parsed = RecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.map(String).join(".")}: ${issue.message}` : "invalid";
    throw new StoreCorruptError(file, `journal record at byte ${at} is invalid (${where})`, {
      cause: parsed.error,
    });
  }
  return parsed.data as JournalRecord;
}

function parseHeader(line: string, file: string): string {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (error) {
    throw new StoreCorruptError(file, "the journal header is not recognised", { cause: error });
  }
  const parsed = HeaderSchema.safeParse(raw);
  if (!parsed.success) throw new StoreCorruptError(file, "the journal header is not recognised");
  const format = parsed.data.format ?? 1;
  if (format > STORE_FORMAT_VERSION)
    throw new UnsupportedVersionError(file, format, STORE_FORMAT_VERSION);
  return parsed.data.generation;
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
    handle = await openNoFollow(file, constants.O_RDONLY);
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
    const record = nl < 0 ? null : decodeLine(data.subarray(pos, nl), file, base + pos);
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
  const handle = await openNoFollow(file, constants.O_RDWR);
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
