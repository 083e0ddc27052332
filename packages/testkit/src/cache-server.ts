/**
 * A local stand-in for the GitHub Actions cache service v2 ("results" twirp API plus the
 * Azure Blob signed URLs it hands out), shaped after what `@actions/cache` 6.3.0 sends:
 *
 * - `POST /twirp/github.actions.results.api.v1.CacheService/{Method}` with a JSON body in
 *   proto field names (`restore_keys`, `size_bytes` as a string because it is an int64), a
 *   `Authorization: Bearer $ACTIONS_RUNTIME_TOKEN` header, answered with JSON in proto field
 *   names or a twirp error `{ code, msg }`.
 * - Blob URLs on the same server in Azurite's path style (`/{account}/{container}/{blob}`),
 *   which the Azure SDK accepts for IP hosts. The library uploads with the Azure SDK
 *   (Put Blob, or Put Block + Put Block List above 128 MiB) and, because the host is not
 *   `*.blob.core.windows.net`, downloads with a plain GET.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { closeServer, listen, readBody } from "./internal/http.js";

export type CacheRpcMethod =
  | "GetCacheEntryDownloadURL"
  | "CreateCacheEntry"
  | "FinalizeCacheEntryUpload";

/** Twirp error codes, each answered with the HTTP status the twirp spec assigns to it. */
export type TwirpErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "malformed"
  | "deadline_exceeded"
  | "not_found"
  | "bad_route"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "dataloss";

export interface CacheFaults {
  /** CreateCacheEntry answers 409 `already_exists`, exactly as the real service does for a taken key. */
  createConflict?: boolean;
  /**
   * Twirp methods that answer a twirp error instead of working, e.g.
   * `{ CreateCacheEntry: "internal" }` for an HTTP 500. The library retries 500/502/503/504
   * five times with 3 s exponential backoff (about 25-35 s in all) before giving up; other
   * statuses fail at once.
   */
  rpcErrors?: Partial<Record<CacheRpcMethod, TwirpErrorCode>>;
  /** Blob uploads answer 403 `AuthenticationFailed`, which the Azure SDK does not retry. */
  uploadFailure?: boolean;
  /** Blob downloads answer 500 `InternalError`, which the library's plain GET does not retry. */
  downloadFailure?: boolean;
}

export interface CacheEntrySummary {
  key: string;
  version: string;
  size: number;
  createdAt: Date;
}

/**
 * One request the server received. Twirp calls carry their method name and parsed JSON
 * body; blob traffic is recorded as `BlobUpload` / `BlobDownload`, anything else as
 * `Unrouted`, so a test can see the whole conversation.
 */
export interface CacheCall {
  method: string;
  body: unknown;
}

export interface CacheServer {
  /** Base URL ending in "/", for ACTIONS_RESULTS_URL. */
  url: string;
  /** Finalized entries, oldest first. Reserved but never finalized entries are not listed. */
  entries(): CacheEntrySummary[];
  calls: CacheCall[];
  setFaults(faults: CacheFaults): void;
  /** Environment `@actions/cache` needs to use this server through cache service v2. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

const SERVICE_PATH = "/twirp/github.actions.results.api.v1.CacheService/";
// Azurite's well-known account name; any first path segment would do.
const BLOB_PATH = "/devstoreaccount1/actions-cache/";
// Kept verbatim from the hosted service so logs and assertions match production.
const ALREADY_EXISTS_MSG = "cache entry with the same key, version, and scope already exists";

const TWIRP_STATUS: Record<TwirpErrorCode, number> = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  dataloss: 500,
};

interface StoredEntry {
  id: number;
  key: string;
  version: string;
  blobName: string;
  uploadSig: string;
  downloadSig: string;
  createdAt: Date;
  finalized: boolean;
  size: number;
}

interface StoredBlob {
  data: Buffer | undefined;
  blocks: Map<string, Buffer>;
}

interface State {
  url: string;
  token: string;
  faults: CacheFaults;
  entries: StoredEntry[];
  blobs: Map<string, StoredBlob>;
  calls: CacheCall[];
  nextId: number;
}

type TwirpResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; code: TwirpErrorCode; msg: string };

export async function startCacheServer(
  options: { faults?: CacheFaults } = {},
): Promise<CacheServer> {
  const state: State = {
    url: "",
    token: fakeRuntimeToken(),
    faults: options.faults ?? {},
    entries: [],
    blobs: new Map(),
    calls: [],
    nextId: 1,
  };
  const server = createServer((req, res) => {
    route(state, req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { code: "internal", msg: String(error) });
      else res.destroy();
    });
  });
  const port = await listen(server);
  state.url = `http://127.0.0.1:${port}/`;
  // The library archives into $RUNNER_TEMP (default /home/actions/temp, rarely writable).
  const runnerTemp = await mkdtemp(path.join(tmpdir(), "miyabi-cache-runner-"));
  return {
    url: state.url,
    calls: state.calls,
    entries: () => state.entries.filter((e) => e.finalized).map(summarize),
    setFaults: (faults) => {
      state.faults = faults;
    },
    env: () => ({ ...cacheEnv(state.url, state.token), RUNNER_TEMP: runnerTemp }),
    close: async () => {
      await closeServer(server);
      await rm(runnerTemp, { recursive: true, force: true });
    },
  };
}

/**
 * Cache env pointing at 127.0.0.1 port 1, where nothing listens, so every call fails with
 * ECONNREFUSED. It has no RUNNER_TEMP: take it from the harness or a real server's env().
 */
export function unreachableCacheEnv(): Record<string, string> {
  return cacheEnv("http://127.0.0.1:1/", fakeRuntimeToken());
}

function cacheEnv(url: string, token: string): Record<string, string> {
  return {
    ACTIONS_CACHE_SERVICE_V2: "true",
    ACTIONS_RESULTS_URL: url,
    ACTIONS_RUNTIME_TOKEN: token,
    // A non-github.com server URL counts as GHES, which silently forces the v1 protocol.
    GITHUB_SERVER_URL: "https://github.com",
  };
}

/**
 * The cache library only forwards the token as a bearer; it is JWT-shaped (with the
 * `scp` claim the runner issues) so libraries that do decode it, like @actions/artifact,
 * also accept it.
 */
function fakeRuntimeToken(): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = part({ alg: "HS256", typ: "JWT" });
  const payload = part({
    scp: "Actions.ExampleScope Actions.Results:00000000-0000-0000-0000-000000000001:00000000-0000-0000-0000-000000000002",
    iss: "miyabi-testkit",
    exp: Math.floor(Date.now() / 1000) + 24 * 3600,
  });
  return `${header}.${payload}.${randomBytes(32).toString("base64url")}`;
}

function summarize(entry: StoredEntry): CacheEntrySummary {
  return { key: entry.key, version: entry.version, size: entry.size, createdAt: entry.createdAt };
}

async function route(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", state.url);
  const body = await readBody(req);
  if (url.pathname.startsWith(SERVICE_PATH)) {
    handleTwirp(state, req, res, url.pathname.slice(SERVICE_PATH.length), body);
  } else if (url.pathname.startsWith(BLOB_PATH)) {
    handleBlob(state, req, res, url, body);
  } else {
    state.calls.push({ method: "Unrouted", body: { httpMethod: req.method, path: url.pathname } });
    sendTwirpError(res, "bad_route", `no handler for path ${url.pathname}`);
  }
}

// ---------------------------------------------------------------------------------------
// Twirp service

function handleTwirp(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  raw: Buffer,
): void {
  const body = parseJson(raw);
  state.calls.push({ method, body: body.ok ? body.value : raw.toString("utf8") });
  const result = twirpResult(state, req, method, body);
  if (result.ok) sendJson(res, 200, result.body);
  else sendTwirpError(res, result.code, result.msg);
}

function twirpResult(
  state: State,
  req: IncomingMessage,
  method: string,
  body: { ok: true; value: unknown } | { ok: false },
): TwirpResult {
  if (req.method !== "POST") {
    return fail("bad_route", `unsupported method ${req.method ?? ""} (only POST is allowed)`);
  }
  if (!isRpcMethod(method)) return fail("bad_route", `no handler for method ${method}`);
  if (req.headers.authorization !== `Bearer ${state.token}`) {
    return fail("unauthenticated", "invalid or missing bearer token");
  }
  const injected = injectedFault(state.faults, method);
  if (injected) return injected;
  const request = body.ok ? asRecord(body.value) : undefined;
  if (!request) return fail("malformed", "the request body is not a JSON object");
  switch (method) {
    case "GetCacheEntryDownloadURL":
      return getDownloadUrl(state, request);
    case "CreateCacheEntry":
      return createEntry(state, request);
    case "FinalizeCacheEntryUpload":
      return finalizeEntry(state, request);
  }
}

function injectedFault(faults: CacheFaults, method: CacheRpcMethod): TwirpResult | undefined {
  if (method === "CreateCacheEntry" && faults.createConflict) {
    return fail("already_exists", ALREADY_EXISTS_MSG);
  }
  const code = faults.rpcErrors?.[method];
  if (!code) return undefined;
  return fail(code, code === "already_exists" ? ALREADY_EXISTS_MSG : `injected fault: ${code}`);
}

function getDownloadUrl(state: State, request: Record<string, unknown>): TwirpResult {
  const key = stringField(request, "key");
  const version = stringField(request, "version");
  if (!key || !version) return fail("invalid_argument", "key and version are required");
  const restoreKeys = stringArrayField(request, "restore_keys");
  const entry = findEntry(state.entries, key, restoreKeys, version);
  // Go twirp servers emit unpopulated fields, so a miss is a full object with ok=false.
  if (!entry) return { ok: true, body: { ok: false, signed_download_url: "", matched_key: "" } };
  return {
    ok: true,
    body: {
      ok: true,
      signed_download_url: blobUrl(state, entry, entry.downloadSig, "r"),
      matched_key: entry.key,
    },
  };
}

/**
 * The documented lookup order: the exact key, then keys starting with the primary key,
 * then each restore key as a prefix in turn; among prefix matches the newest wins. Only
 * finalized entries of the same version count.
 */
function findEntry(
  entries: readonly StoredEntry[],
  key: string,
  restoreKeys: readonly string[],
  version: string,
): StoredEntry | undefined {
  const candidates = entries.filter((e) => e.finalized && e.version === version);
  const exact = candidates.find((e) => e.key === key);
  if (exact) return exact;
  for (const prefix of [key, ...restoreKeys]) {
    const newest = newestFirst(candidates.filter((e) => e.key.startsWith(prefix)))[0];
    if (newest) return newest;
  }
  return undefined;
}

function newestFirst(entries: StoredEntry[]): StoredEntry[] {
  return entries.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);
}

function createEntry(state: State, request: Record<string, unknown>): TwirpResult {
  const key = stringField(request, "key");
  const version = stringField(request, "version");
  if (!key || !version) return fail("invalid_argument", "key and version are required");
  // A reservation that was never finalized still holds the key, as on the hosted service.
  if (state.entries.some((e) => e.key === key && e.version === version)) {
    return fail("already_exists", ALREADY_EXISTS_MSG);
  }
  const entry: StoredEntry = {
    id: state.nextId++,
    key,
    version,
    blobName: randomBytes(16).toString("hex"),
    uploadSig: randomBytes(24).toString("base64url"),
    downloadSig: randomBytes(24).toString("base64url"),
    createdAt: new Date(),
    finalized: false,
    size: 0,
  };
  state.entries.push(entry);
  state.blobs.set(entry.blobName, { data: undefined, blocks: new Map() });
  return {
    ok: true,
    body: {
      ok: true,
      signed_upload_url: blobUrl(state, entry, entry.uploadSig, "cw"),
      message: "",
    },
  };
}

function finalizeEntry(state: State, request: Record<string, unknown>): TwirpResult {
  const key = stringField(request, "key");
  const version = stringField(request, "version");
  const size = int64Field(request, "size_bytes");
  const entry = state.entries.find((e) => e.key === key && e.version === version && !e.finalized);
  if (!entry) return fail("not_found", "no reserved cache entry for this key and version");
  const data = state.blobs.get(entry.blobName)?.data;
  if (!data) return fail("failed_precondition", "the cache archive was not uploaded");
  if (size !== data.length) {
    return fail(
      "invalid_argument",
      `size_bytes ${size} does not match the uploaded ${data.length}`,
    );
  }
  entry.finalized = true;
  entry.size = data.length;
  return { ok: true, body: { ok: true, entry_id: String(entry.id), message: "" } };
}

function fail(code: TwirpErrorCode, msg: string): TwirpResult {
  return { ok: false, code, msg };
}

function isRpcMethod(method: string): method is CacheRpcMethod {
  return (
    method === "GetCacheEntryDownloadURL" ||
    method === "CreateCacheEntry" ||
    method === "FinalizeCacheEntryUpload"
  );
}

function blobUrl(state: State, entry: StoredEntry, sig: string, permissions: string): string {
  const query = new URLSearchParams({ sv: "2024-11-04", sr: "b", sp: permissions, sig });
  return `${state.url.replace(/\/$/, "")}${BLOB_PATH}${entry.blobName}?${query.toString()}`;
}

// ---------------------------------------------------------------------------------------
// Blob storage (the Azure Blob REST subset the Azure SDK and the library's GET use)

interface BlobReply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer;
}

function handleBlob(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
): void {
  const name = url.pathname.slice(BLOB_PATH.length);
  const target = {
    entry: state.entries.find((e) => e.blobName === name),
    blob: state.blobs.get(name),
  };
  let reply: BlobReply;
  if (req.method === "PUT") {
    const comp = url.searchParams.get("comp") ?? "";
    state.calls.push({ method: "BlobUpload", body: { blob: name, comp, bytes: body.length } });
    reply = putBlob(state.faults, url, req, body, target);
  } else if (req.method === "GET" || req.method === "HEAD") {
    const range = rangeHeader(req);
    state.calls.push({
      method: "BlobDownload",
      body: { blob: name, httpMethod: req.method, range },
    });
    reply = getBlob(state.faults, url, req.method, range, target);
  } else {
    state.calls.push({ method: "Unrouted", body: { httpMethod: req.method, path: url.pathname } });
    reply = blobError(405, "UnsupportedHttpVerb", "The resource doesn't support the HTTP verb.");
  }
  res.writeHead(reply.status, { ...azureHeaders(), ...reply.headers });
  res.end(reply.body);
}

interface BlobTarget {
  entry: StoredEntry | undefined;
  blob: StoredBlob | undefined;
}

function putBlob(
  faults: CacheFaults,
  url: URL,
  req: IncomingMessage,
  body: Buffer,
  { entry, blob }: BlobTarget,
): BlobReply {
  if (faults.uploadFailure || !entry || !blob) return authFailed();
  if (url.searchParams.get("sig") !== entry.uploadSig || entry.finalized) return authFailed();
  const comp = url.searchParams.get("comp");
  if (comp === "block") {
    const id = url.searchParams.get("blockid");
    if (!id) return blobError(400, "InvalidQueryParameterValue", "blockid is missing.");
    blob.blocks.set(id, body);
  } else if (comp === "blocklist") {
    const assembled = assembleBlocks(blob, body.toString("utf8"));
    if (!assembled) return blobError(400, "InvalidBlockList", "The block list is invalid.");
    blob.data = assembled;
    blob.blocks.clear();
  } else if (req.headers["x-ms-blob-type"] === "BlockBlob") {
    blob.data = body;
  } else {
    return blobError(400, "MissingRequiredHeader", "x-ms-blob-type is required.");
  }
  return { status: 201, headers: { "Content-Length": "0" } };
}

/** Put Block List: the XML names staged blocks (<Latest>/<Uncommitted>) in blob order. */
function assembleBlocks(blob: StoredBlob, xml: string): Buffer | undefined {
  const parts: Buffer[] = [];
  for (const match of xml.matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)) {
    const block = blob.blocks.get(match[2] ?? "");
    if (!block) return undefined;
    parts.push(block);
  }
  return Buffer.concat(parts);
}

function getBlob(
  faults: CacheFaults,
  url: URL,
  method: "GET" | "HEAD",
  range: string | undefined,
  { entry, blob }: BlobTarget,
): BlobReply {
  if (!entry || url.searchParams.get("sig") !== entry.downloadSig) return authFailed();
  if (faults.downloadFailure) {
    return blobError(500, "InternalError", "The server encountered an internal error.");
  }
  const data = blob?.data;
  if (!data || !entry.finalized) {
    return blobError(404, "BlobNotFound", "The specified blob does not exist.");
  }
  const slice = byteRange(range, data.length);
  if (slice === "unsatisfiable")
    return blobError(416, "InvalidRange", "The range specified is invalid.");
  const [start, end] = slice ?? [0, data.length - 1];
  return {
    status: slice ? 206 : 200,
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(end - start + 1),
      "Accept-Ranges": "bytes",
      "x-ms-blob-type": "BlockBlob",
      ...(slice ? { "Content-Range": `bytes ${start}-${end}/${data.length}` } : {}),
    },
    ...(method === "GET" ? { body: data.subarray(start, end + 1) } : {}),
  };
}

/** The Azure SDK sends x-ms-range; plain HTTP clients send Range. */
function rangeHeader(req: IncomingMessage): string | undefined {
  const value = req.headers["x-ms-range"] ?? req.headers.range;
  return Array.isArray(value) ? value[0] : value;
}

function byteRange(
  header: string | undefined,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const match = header ? /^bytes=(\d+)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  return start > end || start >= size ? "unsatisfiable" : [start, end];
}

function authFailed(): BlobReply {
  return blobError(
    403,
    "AuthenticationFailed",
    "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
  );
}

function azureHeaders(): Record<string, string> {
  return {
    "x-ms-request-id": randomBytes(16).toString("hex"),
    "x-ms-version": "2024-11-04",
    ETag: `"0x${randomBytes(8).toString("hex").toUpperCase()}"`,
    "Last-Modified": new Date().toUTCString(),
    Date: new Date().toUTCString(),
  };
}

/**
 * Azure's XML error body. The connection stays keep-alive like Azure's: the library never
 * reads the body of a failed download, so its process lingers until the server drops the
 * idle socket (5 s here) — a real effect worth seeing in tests.
 */
function blobError(status: number, code: string, message: string): BlobReply {
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  return {
    status,
    headers: {
      "Content-Type": "application/xml",
      "Content-Length": String(Buffer.byteLength(xml)),
      "x-ms-error-code": code,
    },
    body: Buffer.from(xml),
  };
}

// ---------------------------------------------------------------------------------------
// Plumbing

function sendTwirpError(res: ServerResponse, code: TwirpErrorCode, msg: string): void {
  sendJson(res, TWIRP_STATUS[code], { code, msg });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function stringField(record: Record<string, unknown>, name: string): string {
  const value = record[name];
  return typeof value === "string" ? value : "";
}

function stringArrayField(record: Record<string, unknown>, name: string): string[] {
  const value = record[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** proto3 JSON writes int64 as a string; accept a number too. */
function int64Field(record: Record<string, unknown>, name: string): number {
  const value = record[name];
  if (typeof value === "number") return value;
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : 0;
}
