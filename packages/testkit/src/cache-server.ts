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
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  BLOB_ACCOUNT_PATH,
  type BlobGrant,
  newBlob,
  newSignature,
  type StoredBlob,
  signedBlobUrl,
} from "./internal/azure-blob.js";
import { isRecord } from "./internal/http.js";
import { startResultsServer } from "./internal/results-server.js";
import {
  fail,
  fakeRuntimeToken,
  int64Field,
  stringArrayField,
  stringField,
  type TwirpErrorCode,
  type TwirpResult,
} from "./internal/twirp.js";

export type { TwirpErrorCode } from "./internal/twirp.js";

export type CacheRpcMethod =
  | "GetCacheEntryDownloadURL"
  | "CreateCacheEntry"
  | "FinalizeCacheEntryUpload";

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
const CONTAINER = "actions-cache/";
const BLOB_PATH = `${BLOB_ACCOUNT_PATH}${CONTAINER}`;
// Kept verbatim from the hosted service so logs and assertions match production.
const ALREADY_EXISTS_MSG = "cache entry with the same key, version, and scope already exists";

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

interface State {
  url: string;
  token: string;
  faults: CacheFaults;
  entries: StoredEntry[];
  blobs: Map<string, StoredBlob>;
  calls: CacheCall[];
  nextId: number;
}

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
  const server = await startResultsServer({
    servicePath: SERVICE_PATH,
    blobPath: BLOB_PATH,
    calls: state.calls,
    rpc: (req, method, body) => twirpResult(state, req, method, body),
    blob: (name) => blobGrant(state, name),
    faults: () => state.faults,
  });
  state.url = server.url;
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
      await server.close();
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

function summarize(entry: StoredEntry): CacheEntrySummary {
  return { key: entry.key, version: entry.version, size: entry.size, createdAt: entry.createdAt };
}

// ---------------------------------------------------------------------------------------
// Twirp service

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
  const request = body.ok && isRecord(body.value) ? body.value : undefined;
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
    uploadSig: newSignature(),
    downloadSig: newSignature(),
    createdAt: new Date(),
    finalized: false,
    size: 0,
  };
  state.entries.push(entry);
  state.blobs.set(entry.blobName, newBlob());
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

function isRpcMethod(method: string): method is CacheRpcMethod {
  return (
    method === "GetCacheEntryDownloadURL" ||
    method === "CreateCacheEntry" ||
    method === "FinalizeCacheEntryUpload"
  );
}

function blobUrl(state: State, entry: StoredEntry, sig: string, permissions: string): string {
  return signedBlobUrl(state.url, `${CONTAINER}${entry.blobName}`, sig, permissions);
}

// ---------------------------------------------------------------------------------------
// Blob storage

function blobGrant(state: State, name: string): BlobGrant | undefined {
  const entry = state.entries.find((e) => e.blobName === name);
  const blob = state.blobs.get(name);
  return entry && blob
    ? {
        uploadSig: entry.uploadSig,
        downloadSig: entry.downloadSig,
        finalized: entry.finalized,
        blob,
      }
    : undefined;
}
