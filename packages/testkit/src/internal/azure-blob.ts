import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/*
 * The Azure Blob REST subset the Actions services' signed URLs are used with, shared by the
 * cache and artifact stand-ins: Put Blob, Put Block + Put Block List (the Azure SDK's
 * uploadStream always stages blocks) and GET/HEAD with byte ranges. Blob URLs are in
 * Azurite's path style (`/{account}/{container}/{blob}`), which the Azure SDK accepts for
 * IP hosts.
 */

/** Azurite's well-known account name; any first path segment would do. */
export const BLOB_ACCOUNT_PATH = "/devstoreaccount1/";

export interface StoredBlob {
  data: Buffer | undefined;
  blocks: Map<string, Buffer>;
}

/** What a signed URL grants access to: the signatures it must carry and whether it is sealed. */
export interface BlobGrant {
  uploadSig: string;
  downloadSig: string;
  /** Finalized blobs are read-only and the only ones that can be downloaded. */
  finalized: boolean;
  blob: StoredBlob;
  /** Extra headers on a successful download (Content-Type, Content-Disposition). */
  downloadHeaders?: Record<string, string>;
}

export interface BlobFaults {
  /** Uploads answer 403 `AuthenticationFailed`, which the Azure SDK does not retry. */
  uploadFailure?: boolean;
  /** Downloads answer 500 `InternalError`. */
  downloadFailure?: boolean;
}

export interface BlobReply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer;
}

/** The call a blob request is recorded as: `BlobUpload` or `BlobDownload`, else undefined. */
export interface BlobCall {
  method: "BlobUpload" | "BlobDownload" | "Unrouted";
  body: Record<string, unknown>;
}

export function newBlob(): StoredBlob {
  return { data: undefined, blocks: new Map() };
}

export function newSignature(): string {
  return randomBytes(24).toString("base64url");
}

/** A signed URL for `blobPath` (container/name below the account) on `baseUrl`. */
export function signedBlobUrl(
  baseUrl: string,
  blobPath: string,
  sig: string,
  permissions: string,
): string {
  const query = new URLSearchParams({ sv: "2024-11-04", sr: "b", sp: permissions, sig });
  return `${baseUrl.replace(/\/$/, "")}${BLOB_ACCOUNT_PATH}${blobPath}?${query.toString()}`;
}

/** Serves one blob request for `grant` (undefined: no such blob) and says how to record it. */
export function serveBlob(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
  grant: BlobGrant | undefined,
  faults: BlobFaults,
): BlobCall {
  const name = url.pathname.slice(BLOB_ACCOUNT_PATH.length);
  let reply: BlobReply;
  let call: BlobCall;
  if (req.method === "PUT") {
    const comp = url.searchParams.get("comp") ?? "";
    call = { method: "BlobUpload", body: { blob: name, comp, bytes: body.length } };
    reply = putBlob(faults, url, req, body, grant);
  } else if (req.method === "GET" || req.method === "HEAD") {
    const range = rangeHeader(req);
    call = { method: "BlobDownload", body: { blob: name, httpMethod: req.method, range } };
    reply = getBlob(faults, url, req.method, range, grant);
  } else {
    call = { method: "Unrouted", body: { httpMethod: req.method, path: url.pathname } };
    reply = blobError(405, "UnsupportedHttpVerb", "The resource doesn't support the HTTP verb.");
  }
  res.writeHead(reply.status, { ...azureHeaders(), ...reply.headers });
  res.end(reply.body);
  return call;
}

function putBlob(
  faults: BlobFaults,
  url: URL,
  req: IncomingMessage,
  body: Buffer,
  grant: BlobGrant | undefined,
): BlobReply {
  if (faults.uploadFailure || !grant) return authFailed();
  if (url.searchParams.get("sig") !== grant.uploadSig || grant.finalized) return authFailed();
  const { blob } = grant;
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
  faults: BlobFaults,
  url: URL,
  method: "GET" | "HEAD",
  range: string | undefined,
  grant: BlobGrant | undefined,
): BlobReply {
  if (!grant || url.searchParams.get("sig") !== grant.downloadSig) return authFailed();
  if (faults.downloadFailure) {
    return blobError(500, "InternalError", "The server encountered an internal error.");
  }
  const data = grant.blob.data;
  if (!data || !grant.finalized) {
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
      ...grant.downloadHeaders,
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
 * Azure's XML error body. The connection stays keep-alive like Azure's: the cache library
 * never reads the body of a failed download, so its process lingers until the server drops
 * the idle socket (5 s here) — a real effect worth seeing in tests.
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
