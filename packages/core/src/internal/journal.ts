import { z } from "zod";
import { StoreCorruptError, UnsupportedVersionError } from "./errors.js";
import { checkedJson, crcHex } from "./journal-line.js";
import {
  type DiskIssueSnapshot,
  DiskIssueSnapshotSchema,
  type DiskSession,
  DiskSessionSchema,
  STORE_FORMAT_VERSION,
} from "./model.js";
import type { SessionStats } from "./stats.js";
import { StatsSchema, type StoreSummary, SummarySchema } from "./summary.js";

/**
 * The journal makes each change cost O(change) instead of O(store): a change is one appended
 * line, fsynced before the call returns. Records are idempotent (whole-session upserts and
 * deletes), so replaying a journal over a `sessions.json` that already contains it is harmless;
 * that is what makes compaction crash-safe without a sequence number.
 *
 * Layout: a header line
 * `{"journal":1,"generation":"<id>","format":<STORE_FORMAT_VERSION>,"base":{...},"summary":{...}}`
 * (`format` absent: written before format 2; `base`: the sessions.json the compaction that
 * started this journal wrote; `summary`: that state's stats and running sessions, see
 * summary.ts) and then one line per change, `<crc32 hex> <json>`. A new generation is written
 * whenever the journal is compacted, which tells other processes to reload.
 */

export interface JournalRecord {
  put?: DiskSession[];
  del?: string[];
  /** Issue snapshots; the first capture of an issue number wins. */
  issues?: DiskIssueSnapshot[];
  /** The change this record makes to the store's stats (absent: written by an older release). */
  stats?: SessionStats;
}

const RecordSchema = z.object({
  put: z.array(DiskSessionSchema).optional(),
  // Ids become file names when their files are removed: only session ids are valid.
  del: z.array(DiskSessionSchema.shape.id).optional(),
  issues: z.array(DiskIssueSnapshotSchema).optional(),
  stats: StatsSchema.optional(),
});

/**
 * The file system's identity of a file (decimal strings: they exceed a double's precision). A
 * file still showing the identity recorded right after we wrote it has not been written since:
 * any write or replacement changes its inode, size or change time, which no tool can set.
 */
export interface FileIdentity {
  ino: string;
  size: string;
  ctime_ns: string;
}

/** Identifies the sessions.json a compaction wrote, so a reader can trust it without a schema pass. */
export interface BaseStamp {
  bytes: number;
  crc32: string;
  /** Recorded by releases that open large stores lazily. */
  identity?: FileIdentity;
}

const HeaderSchema = z.object({
  journal: z.literal(1),
  generation: z.string().min(1),
  format: z.number().int().positive().optional(),
  base: z
    .object({
      bytes: z.number().int().nonnegative(),
      crc32: z.string(),
      identity: z.object({ ino: z.string(), size: z.string(), ctime_ns: z.string() }).optional(),
    })
    .optional(),
  summary: SummarySchema.optional(),
});

export interface JournalHeader {
  generation: string;
  base: BaseStamp | null;
  /** The state the header was written for: sessions.json as `base` names it, or none. */
  summary: StoreSummary | null;
}

export interface JournalRead extends JournalHeader {
  records: JournalRecord[];
  /** Byte offset just past the last intact record: where the next record goes. */
  end: number;
  /** Size of the file; larger than `end` when a crash left a torn last line. */
  size: number;
}

export function baseStamp(data: Uint8Array): BaseStamp {
  return { bytes: data.length, crc32: crcHex(data) };
}

export function headerLine(
  generation: string,
  base: BaseStamp | null,
  summary: StoreSummary | null,
): string {
  const header = {
    journal: 1,
    generation,
    format: STORE_FORMAT_VERSION,
    ...(base ? { base } : {}),
    ...(summary ? { summary } : {}),
  };
  return `${JSON.stringify(header)}\n`;
}

export function encodeRecord(record: JournalRecord): Buffer {
  const json = Buffer.from(JSON.stringify(record), "utf8");
  return Buffer.concat([Buffer.from(`${crcHex(json)} `, "latin1"), json, Buffer.from("\n")]);
}

/**
 * A line whose checksum fails is a torn write (null). One whose checksum holds was written
 * whole by a writer, so content that does not parse is corruption, never a torn write.
 */
function decodeLine(line: Buffer, file: string, at: number): JournalRecord | null {
  const json = checkedJson(line);
  if (!json) return null;
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

function parseHeader(line: string, file: string): JournalHeader {
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
  return {
    generation: parsed.data.generation,
    base: parsed.data.base ?? null,
    summary: (parsed.data.summary as StoreSummary | undefined) ?? null,
  };
}

/**
 * Decode a whole journal. A last line that is incomplete or fails its checksum is a write that
 * a crash cut short: it never returned to its caller, so it is skipped. A bad line followed by
 * good ones is corruption.
 */
export function parseJournal(data: Buffer, file: string): JournalRead {
  const firstNl = data.indexOf(0x0a);
  if (firstNl < 0) throw new StoreCorruptError(file, "the journal header is incomplete");
  const header = parseHeader(data.subarray(0, firstNl).toString("utf8"), file);
  const start = firstNl + 1;
  const { records, consumed } = decodeRecords(data.subarray(start), start, file);
  return { ...header, records, end: start + consumed, size: data.length };
}

/** Decode the records in `data`, which starts at byte `base` of the journal. */
export function decodeRecords(
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
