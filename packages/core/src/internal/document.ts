import { MiyabiError, StoreCorruptError, UnsupportedVersionError } from "./errors.js";
import { readFileNoFollow } from "./fs-util.js";
import {
  type DiskIssueSnapshot,
  type DiskSession,
  STORE_VERSION,
  type StoreDocument,
  StoreDocumentSchema,
} from "./model.js";

/**
 * Upgrades from older format versions, keyed by the version they read. Version 1 is the seed's
 * format and the first one, so the table is empty; a v2 adds `1: (doc) => ...` here.
 */
const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

function describeIssue(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const first = error.issues[0];
  if (!first) return "invalid content";
  const at = first.path.length > 0 ? first.path.map(String).join(".") : "(root)";
  return `${at}: ${first.message}`;
}

/** Validate and migrate a parsed document; `file` names the source in errors. */
export function parseDocument(raw: unknown, file: string): StoreDocument {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new StoreCorruptError(file, "the top level is not an object");
  }
  let doc = raw as Record<string, unknown>;
  let version = doc.version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new StoreCorruptError(
      file,
      `"version" is ${JSON.stringify(version)}, not a format version`,
    );
  }
  if (version > STORE_VERSION) throw new UnsupportedVersionError(file, version, STORE_VERSION);
  while (version < STORE_VERSION) {
    const migrate = MIGRATIONS[version];
    if (!migrate) throw new UnsupportedVersionError(file, version, STORE_VERSION);
    doc = migrate(doc);
    version += 1;
  }
  const parsed = StoreDocumentSchema.safeParse(doc);
  if (!parsed.success) throw new StoreCorruptError(file, describeIssue(parsed.error));
  const seen = new Set<string>();
  for (const session of parsed.data.sessions) {
    if (seen.has(session.id))
      throw new StoreCorruptError(file, `session ${session.id} appears twice`);
    seen.add(session.id);
  }
  return parsed.data;
}

/** Read `sessions.json`'s bytes; `null` when it does not exist yet (a new store). */
export async function readDocumentBytes(file: string): Promise<Buffer | null> {
  try {
    return await readFileNoFollow(file);
  } catch (error) {
    if (error instanceof MiyabiError) throw error;
    throw new StoreCorruptError(file, (error as Error).message, { cause: error });
  }
}

/**
 * Parse `sessions.json`. `trusted` means the bytes are exactly what a compaction of ours wrote
 * (the journal header's stamp matched): every session then already has every field, so the
 * schema pass, the bulk of opening a large store, is skipped. Anything else is fully validated.
 */
export function parseDocumentBytes(bytes: Buffer, file: string, trusted: boolean): StoreDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new StoreCorruptError(file, `it is not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const doc = raw as Partial<StoreDocument> | null;
  if (trusted && doc?.version === STORE_VERSION && Array.isArray(doc.sessions)) {
    return doc as StoreDocument;
  }
  return parseDocument(raw, file);
}

/** Read and fully validate `sessions.json`; `null` when it does not exist yet. */
export async function readDocumentFile(file: string): Promise<StoreDocument | null> {
  const bytes = await readDocumentBytes(file);
  return bytes === null ? null : parseDocumentBytes(bytes, file, false);
}

/**
 * The seed's layout: pretty-printed with two spaces, `sessions` then `version`, then the issue
 * snapshots when there are any (the seed drops unknown top-level keys when it rewrites the file,
 * which only loses captures it has no use for), then any other top-level fields another tool
 * wrote (kept, not understood).
 */
export function serializeDocument(
  sessions: Iterable<DiskSession>,
  issues: Iterable<DiskIssueSnapshot> = [],
  extra: Record<string, unknown> = {},
): string {
  const captured = [...issues];
  const doc = {
    sessions: [...sessions],
    version: STORE_VERSION,
    ...(captured.length > 0 ? { issues: captured } : {}),
    ...extra,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Top-level fields of a document other than the ones this format defines. */
export function extraFields(doc: StoreDocument | null): Record<string, unknown> {
  if (!doc) return {};
  const { sessions: _sessions, version: _version, issues: _issues, ...rest } = doc;
  return rest;
}
