import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { UnsafeArchiveError } from "./errors.js";

/*
 * A cache entry is untrusted input: anyone whose workflow can write the repository's cache
 * can craft one. @actions/cache extracts with `tar -P` (absolute and `../` names honoured,
 * symlinks and devices created), so the action reads the archive itself: regular files and
 * directories only, every member inside the directory it was saved from and within that
 * directory's layout (for a store: nothing hidden, so no `.claude/` or `.git*`), bounded in
 * count and size, written with exclusive creates into a fresh directory that holds nothing
 * else, so no member can write through another.
 */

export type Compression = "gzip" | "zstd" | "zstd-without-long";

export interface ExtractLimits {
  /** Total bytes of file contents. */
  maxBytes: number;
  /** Members (files and directories). */
  maxEntries: number;
}

export const DEFAULT_LIMITS: ExtractLimits = { maxBytes: 4 * 1024 ** 3, maxEntries: 200_000 };

/** What an entry may hold, below the directory it was saved from. */
export interface Layout {
  /** Path components of a member below that directory, at most. */
  maxDepth: number;
  /** Why a member (as path components below that directory) does not belong, or undefined. */
  refuse(parts: readonly string[]): string | undefined;
}

/** A session store: its files and one level of folders (logs, transcripts, patches), none hidden. */
export const STORE_LAYOUT: Layout = {
  maxDepth: 2,
  refuse: (parts) =>
    parts.some((part) => part.startsWith("."))
      ? "is a hidden file, which no store holds"
      : undefined,
};

export interface ExtractOptions {
  /** The archive file as the cache service sent it. */
  archive: string;
  compression: Compression;
  /** The directory member names are relative to (@actions/cache: the workspace). */
  root: string;
  /** The store's directory when the archive was made; only members inside it are taken. */
  storeDir: string;
  /** A new, empty directory: the store's contents land here. */
  into: string;
  layout: Layout;
  limits?: ExtractLimits;
}

export interface ExtractReport {
  files: number;
  directories: number;
  bytes: number;
}

const BLOCK = 512;
/** Files up to this size are read whole and written in one call: a store holds thousands. */
const SMALL_FILE = 1024 * 1024;
const PARALLEL_WRITES = 32;

/** Pulls exact byte counts out of a stream, holding at most one chunk beyond them. */
class ByteReader {
  #chunks: Buffer[] = [];
  #held = 0;
  #iterator: AsyncIterator<Buffer>;
  #done = false;

  constructor(stream: Readable) {
    this.#iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#held < n && !this.#done) {
      const next = await this.#iterator.next();
      if (next.done) this.#done = true;
      else {
        this.#chunks.push(next.value);
        this.#held += next.value.length;
      }
    }
    return this.#held >= n;
  }

  /** Exactly `n` bytes (n > 0), or null at a clean end of the stream. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.#fill(n))) {
      if (this.#held === 0) return null;
      throw new UnsafeArchiveError("the archive ends in the middle of a member");
    }
    const parts: Buffer[] = [];
    let left = n;
    // Slices of the held chunks: a 512-byte header must not copy a whole 64 KB chunk.
    while (left > 0) {
      const head = this.#chunks[0] as Buffer;
      const take = Math.min(left, head.length);
      parts.push(head.subarray(0, take));
      if (take === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
      left -= take;
    }
    this.#held -= n;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  /** Read the rest of the stream, discarding it. */
  async drain(): Promise<void> {
    this.#chunks = [];
    this.#held = 0;
    while (!this.#done) {
      if ((await this.#iterator.next()).done) this.#done = true;
    }
  }

  /** Pass `n` bytes to `sink` piecewise, so a large file is never held whole. */
  async stream(n: number, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#held === 0 && !(await this.#fill(1))) {
        throw new UnsafeArchiveError("the archive ends in the middle of a file");
      }
      const head = this.#chunks.shift() as Buffer;
      const take = Math.min(left, head.length);
      await sink(head.subarray(0, take));
      if (take < head.length) this.#chunks.unshift(head.subarray(take));
      this.#held -= take;
      left -= take;
    }
  }
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? field.length : nul).toString("utf8");
}

function octal(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  // GNU base-256: a set high bit, big-endian after it (sizes of 8 GiB and more).
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = (field[0] ?? 0) & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return value;
  }
  const digits = text(block, start, length).trim();
  if (!/^[0-7]*$/.test(digits)) throw new UnsafeArchiveError("a header has a malformed number");
  return digits === "" ? 0 : Number.parseInt(digits, 8);
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return sum === octal(block, 148, 8);
}

/** `length key=value\n` records of a pax header. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number.parseInt(data.subarray(at, space).toString("ascii"), 10);
    if (space === -1 || !Number.isInteger(length) || length <= 0 || at + length > data.length) {
      throw new UnsafeArchiveError("a pax header is malformed");
    }
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

const TYPE_NAMES: Record<string, string> = {
  "1": "a hard link",
  "2": "a symbolic link",
  "3": "a character device",
  "4": "a block device",
  "6": "a FIFO",
};

/**
 * Where a member goes below `into`, or an error: names resolve against `root` as tar would,
 * and must land inside `storeDir` without a hidden component and within the depth limit.
 */
export function memberTarget(
  name: string,
  o: Pick<ExtractOptions, "root" | "storeDir" | "layout">,
): string {
  if (name.includes("\0") || name.includes("\\")) {
    throw new UnsafeArchiveError(`the member "${name}" has a character no store file has`);
  }
  if (path.isAbsolute(name)) {
    throw new UnsafeArchiveError(`the member "${name}" has an absolute name`);
  }
  const relative = path.relative(o.storeDir, path.resolve(o.root, name));
  if (relative === "") return "";
  const parts = relative.split(path.sep);
  if (parts[0] === ".." || path.isAbsolute(relative)) {
    throw new UnsafeArchiveError(`the member "${name}" lies outside the session store`);
  }
  if (parts.length > o.layout.maxDepth) {
    throw new UnsafeArchiveError(`the member "${name}" is nested deeper than the entry's files`);
  }
  const refused = o.layout.refuse(parts);
  if (refused) throw new UnsafeArchiveError(`the member "${name}" ${refused}`);
  return relative;
}

function decompressor(archive: string, compression: Compression) {
  const [command, args] =
    compression === "gzip"
      ? ["gzip", ["-dc", archive]]
      : ["zstd", [...(compression === "zstd" ? ["--long=30"] : []), "-dc", archive]];
  return spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Extract the entry in `archive` into `into` (which must exist and be empty). Throws an
 * UnsafeArchiveError naming the first member that breaks a rule; the caller discards `into`.
 * Every member is checked in a first pass that writes nothing. When every name lies below
 * `root` (a store saved from inside the workspace), GNU tar then extracts the checked archive
 * (a store holds thousands of small files, which it writes several times faster); names that
 * climb out of `root` (`../`, a directory saved from outside the workspace) are written here.
 */
export async function extractStore(o: ExtractOptions): Promise<ExtractReport> {
  const checked = await pass(o, false);
  if (checked.climbs) return (await pass(o, true)).report;
  await nativeExtract(o);
  return checked.report;
}

/** `tar -x` of the checked archive into a staging directory, the store's part moved to `into`. */
async function nativeExtract(o: ExtractOptions): Promise<void> {
  const stage = await fs.mkdtemp(path.join(path.dirname(o.into), ".stage-"));
  try {
    const source = decompressor(o.archive, o.compression);
    const tar = spawn(
      "tar",
      ["-x", "-f", "-", "-C", stage, "--no-same-owner", "--no-same-permissions"],
      { stdio: [source.stdout, "ignore", "pipe"] },
    );
    // tar reads the decompressor's output itself; this process's end of it would otherwise
    // stay open, unread, for ever.
    source.stdout.destroy();
    let stderr = "";
    tar.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const [unpacked, untarred] = await Promise.all(
      [source, tar].map(
        (child) =>
          new Promise<number | null>((resolve, reject) => {
            child.on("error", reject);
            child.on("exit", resolve);
          }),
      ),
    );
    if (unpacked !== 0 || untarred !== 0) {
      throw new UnsafeArchiveError(`tar could not extract it (${stderr.trim() || "no message"})`);
    }
    const stored = path.join(stage, path.relative(o.root, o.storeDir));
    if (
      await fs.lstat(stored).then(
        (st) => st.isDirectory(),
        () => false,
      )
    ) {
      await fs.rename(stored, o.into);
    }
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

/** One read of the archive: checks every member, and writes them when `write` is set. */
async function pass(
  o: ExtractOptions,
  write: boolean,
): Promise<{ report: ExtractReport; climbs: boolean }> {
  const limits = o.limits ?? DEFAULT_LIMITS;
  const child = decompressor(o.archive, o.compression);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  try {
    const reader = new ByteReader(child.stdout);
    const read = await readMembers(reader, o, limits, write);
    // The zero blocks padding the archive after its end are read too, else the pipe (and the
    // child's "close") would stay open.
    await reader.drain();
    const code = await exited;
    if (code !== 0) {
      throw new UnsafeArchiveError(`it does not decompress (${stderr.trim() || `exit ${code}`})`);
    }
    return read;
  } catch (error) {
    // Unread output would keep the pipe, and so the child's "close", open for ever.
    child.stdout.destroy();
    child.kill("SIGKILL");
    await exited.catch(() => null);
    throw error;
  }
}

async function readSome(reader: ByteReader, n: number): Promise<Buffer> {
  const data = await reader.read(n);
  if (data === null) throw new UnsafeArchiveError("the archive ends in the middle of a member");
  return data;
}

interface Pass {
  report: ExtractReport;
  /** Some name climbs out of `root` (`../`): GNU tar would not extract it there. */
  climbs: boolean;
  /** Names seen, to refuse a second member of the same name before tar overwrites. */
  seen: Set<string>;
  write: boolean;
  writes: Promise<void>[];
}

async function readMembers(
  reader: ByteReader,
  o: ExtractOptions,
  limits: ExtractLimits,
  write: boolean,
): Promise<{ report: ExtractReport; climbs: boolean }> {
  const writes: Promise<void>[] = [];
  const state: Pass = {
    report: { files: 0, directories: 0, bytes: 0 },
    climbs: false,
    seen: new Set(),
    write,
    writes,
  };
  try {
    await readInto(reader, o, limits, state);
    await Promise.all(writes);
    return { report: state.report, climbs: state.climbs };
  } catch (error) {
    // Let the writes in flight finish (or fail) before the caller discards the directory.
    await Promise.allSettled(writes);
    throw error;
  }
}

/*
 * Pax keywords a store's archive carries (GNU tar --posix). Any other (linkpath, sparse
 * maps, xattrs, a global header) could make tar read the archive differently from this
 * parser, so it is refused.
 */
const PAX_KEYS = new Set([
  "path",
  "size",
  "mtime",
  "atime",
  "ctime",
  "uid",
  "gid",
  "uname",
  "gname",
]);

async function readInto(
  reader: ByteReader,
  o: ExtractOptions,
  limits: ExtractLimits,
  state: Pass,
): Promise<void> {
  const { report, writes } = state;
  const made = new Set<string>([o.into]);
  const mkdir = async (dir: string) => {
    if (made.has(dir)) return;
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    made.add(dir);
  };
  let pax = new Map<string, string>();
  let longName: string | undefined;
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header === null || header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw new UnsafeArchiveError("a header's checksum does not match");
    const type = String.fromCharCode(header[156] as number);
    const headerSize = octal(header, 124, 12);
    if (type === "x" || type === "L") {
      if (headerSize > 1024 * 1024) throw new UnsafeArchiveError("an extended header is too large");
      const padded = Math.ceil(headerSize / BLOCK) * BLOCK;
      const data = padded === 0 ? Buffer.alloc(0) : await readSome(reader, padded);
      if (type === "x") {
        pax = paxRecords(data.subarray(0, headerSize));
        const odd = [...pax.keys()].find((key) => !PAX_KEYS.has(key));
        if (odd) throw new UnsafeArchiveError(`a member has the pax keyword "${odd}"`);
      }
      if (type === "L") longName = text(data, 0, headerSize);
      continue;
    }
    const paxSize = pax.get("size");
    if (paxSize !== undefined && !/^\d+$/.test(paxSize)) {
      throw new UnsafeArchiveError("a pax size is malformed");
    }
    const size = paxSize === undefined ? headerSize : Number(paxSize);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const prefix = text(header, 345, 155);
    const ustarName = prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100);
    const name = pax.get("path") ?? longName ?? ustarName;
    pax = new Map();
    longName = undefined;
    const unsafeType = TYPE_NAMES[type];
    if (unsafeType) throw new UnsafeArchiveError(`the member "${name}" is ${unsafeType}`);
    const isFile = type === "0" || type === "\0" || type === "7";
    if (!isFile && type !== "5") {
      throw new UnsafeArchiveError(`the member "${name}" has the unknown type "${type}"`);
    }
    if (report.files + report.directories >= limits.maxEntries) {
      throw new UnsafeArchiveError(`it holds more than ${limits.maxEntries} members`);
    }
    const relative = memberTarget(name, o);
    const target = path.join(o.into, relative);
    if (path.relative(o.root, path.resolve(o.root, name)).split(path.sep)[0] === "..") {
      state.climbs = true;
    }

    if (!isFile) {
      report.directories++;
      if (size !== 0) throw new UnsafeArchiveError(`the directory "${name}" has contents`);
      // Existing is fine (tar lists a directory after files in it at times); mkdir never
      // follows a link, and this tree holds none.
      if (relative !== "" && state.write) await mkdir(target);
      continue;
    }
    if (relative === "") throw new UnsafeArchiveError(`the member "${name}" replaces the store`);
    // tar would let the second overwrite the first: refused before anything is written.
    if (state.seen.has(relative))
      throw new UnsafeArchiveError(`the member "${name}" appears twice`);
    state.seen.add(relative);
    report.files++;
    report.bytes += size;
    if (report.bytes > limits.maxBytes) {
      throw new UnsafeArchiveError(`its files hold more than ${limits.maxBytes} bytes`);
    }
    if (!state.write) {
      await reader.stream(size, async () => {});
      if (padded > size) await readSome(reader, padded - size);
      continue;
    }
    await mkdir(path.dirname(target));
    // "wx": a second member of the same name is refused rather than overwriting the first.
    const twice = (error: unknown) => {
      throw new UnsafeArchiveError(`the member "${name}" appears twice`, { cause: error });
    };
    if (size <= SMALL_FILE) {
      const data = size === 0 ? Buffer.alloc(0) : await readSome(reader, size);
      // Small files are written while the next members are read, a bounded number at once.
      writes.push(fs.writeFile(target, data, { flag: "wx", mode: 0o644 }).catch(twice));
      if (writes.length >= PARALLEL_WRITES) await Promise.all(writes.splice(0));
    } else {
      const handle = await fs.open(target, "wx", 0o644).catch(twice);
      try {
        await reader.stream(size, async (chunk) => {
          await handle.write(chunk);
        });
      } finally {
        await handle.close();
      }
    }
    if (padded > size) await readSome(reader, padded - size);
  }
}
