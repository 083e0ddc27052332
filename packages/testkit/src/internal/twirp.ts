import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

/* Twirp plumbing the Actions "results" service stand-ins (cache, artifacts) share. */

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

export type TwirpResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; code: TwirpErrorCode; msg: string };

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

export function fail(code: TwirpErrorCode, msg: string): TwirpResult {
  return { ok: false, code, msg };
}

export function sendTwirp(res: ServerResponse, result: TwirpResult): void {
  if (result.ok) sendJson(res, 200, result.body);
  else sendJson(res, TWIRP_STATUS[result.code], { code: result.code, msg: result.msg });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}

export function stringField(record: Record<string, unknown>, name: string): string {
  const value = record[name];
  return typeof value === "string" ? value : "";
}

export function stringArrayField(record: Record<string, unknown>, name: string): string[] {
  const value = record[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** proto3 JSON writes int64 as a string; accept a number too. */
export function int64Field(record: Record<string, unknown>, name: string): number {
  const value = record[name];
  if (typeof value === "number") return value;
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : 0;
}

/**
 * A runtime token shaped like the runner's: a JWT whose `scp` claim names the workflow run
 * and job backend ids (`Actions.Results:<run>:<job>`). @actions/cache only forwards it as a
 * bearer; @actions/artifact decodes it to find the run it uploads to.
 */
export function fakeRuntimeToken(
  backendIds = {
    run: "00000000-0000-0000-0000-000000000001",
    job: "00000000-0000-0000-0000-000000000002",
  },
): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = part({ alg: "HS256", typ: "JWT" });
  const payload = part({
    scp: `Actions.ExampleScope Actions.Results:${backendIds.run}:${backendIds.job}`,
    iss: "miyabi-testkit",
    exp: Math.floor(Date.now() / 1000) + 24 * 3600,
  });
  return `${header}.${payload}.${randomBytes(32).toString("base64url")}`;
}
