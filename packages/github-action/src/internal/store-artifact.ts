import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import type { ArtifactClient } from "@actions/artifact";
import type { getOctokit } from "@actions/github";
import { parseDocument } from "@miyabi/core";
import { z } from "zod";
import { ActionInputError, StoreArtifactError, type StoreArtifactErrorCode } from "./errors.js";

/*
 * A record of the session store that outlives the Actions cache (entries unread for 7 days
 * are evicted): each phase also uploads the store as a workflow artifact, and a job whose
 * cache entry is gone looks up the issue's latest one.
 *
 * Artifacts of a public repository can be downloaded by anyone signed in, and any workflow
 * run of the repository (a fork's pull request included) can upload one under any name. So:
 * - with `store-key`, the store is sealed (AES-256-GCM, key from scrypt over the secret with
 *   a random salt, random nonce) and the header, the issue number, the repository and a
 *   purpose string are authenticated, so an artifact cannot be read without the secret, and one that was
 *   altered, sealed with another key or made for another issue is refused before anything is
 *   written;
 * - without it, the conversation (transcripts, and the logs that carry the same stream) stays
 *   out, nothing is signed, and an unsealed artifact is untrusted input like a cache entry:
 *   bounded, only the store's own file names, regular files, sessions.json schema-checked,
 *   and never a transcript (a crafted one would put words in the agent's mouth on resume).
 *
 * File format, version 1 (all integers big-endian):
 *   "MIYABIST" | version u8 | mode u8 (0 plain, 1 sealed) | issue u32
 *   sealed: salt[16] | nonce[12] | keyCheck[16] | AES-256-GCM(gzip(payload)) | tag[16]
 *   plain:  gzip(payload)
 *   payload: manifest length u32 | manifest JSON {files: [{path, size}]} | contents in order
 */

export const STORE_ARTIFACT_VERSION = 1;
export const STORE_ARTIFACT_PREFIX = "miyabi-store-issue-";
/** Retention of store artifacts unless the workflow says otherwise (GitHub's maximum is 90). */
export const DEFAULT_STORE_ARTIFACT_RETENTION_DAYS = 30;
export const MIN_STORE_KEY_LENGTH = 16;

const MAGIC = Buffer.from("MIYABIST", "ascii");
const BASE_HEADER = MAGIC.length + 1 + 1 + 4;
const SALT = 16;
const NONCE = 12;
const KEY_CHECK = 16;
const TAG = 16;
const SEALED_HEADER = BASE_HEADER + SALT + NONCE + KEY_CHECK;
const PURPOSE = "miyabi:session-store-artifact";
// Fixed per format version: parameters read from the file would let a forged header ask
// for gigabytes of scrypt memory before the tag is ever checked.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: typeof SCRYPT,
) => Promise<Buffer>;
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip) as (
  data: Buffer,
  options: { maxOutputLength: number },
) => Promise<Buffer>;

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/**
 * The store's files by relative name, mirroring core's store layout (sessions.json, its
 * journal, and per-session logs, transcripts and patches). The lock is never carried.
 */
const LAYOUT: readonly { pattern: RegExp; conversation: boolean }[] = [
  { pattern: /^sessions\.json$/, conversation: false },
  { pattern: /^sessions\.journal$/, conversation: false },
  { pattern: new RegExp(`^patches/${UUID}\\.patch$`), conversation: false },
  { pattern: new RegExp(`^logs/${UUID}\\.log$`), conversation: true },
  { pattern: new RegExp(`^transcripts/${UUID}\\.jsonl$`), conversation: true },
];
const LAYOUT_DIRS = ["logs", "patches", "transcripts"] as const;

export interface StoreArtifactLimits {
  /** The store's total file bytes (and the artifact's size). */
  maxBytes: number;
  maxFiles: number;
}

export const DEFAULT_STORE_ARTIFACT_LIMITS: StoreArtifactLimits = {
  maxBytes: 512 * 1024 * 1024,
  maxFiles: 100_000,
};

const ManifestSchema = z.object({
  files: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative() })),
});

// ---------------------------------------------------------------------------------------
// Names

/**
 * An artifact name for the store of `issueNumber` saved by this job. Names are unique per
 * workflow run, so the random part keeps matrix legs and re-runs apart.
 */
export function storeArtifactName(options: {
  issueNumber: number;
  runId: number | string;
  runAttempt: number | string;
}): string {
  const random = randomBytes(4).toString("hex");
  return `${STORE_ARTIFACT_PREFIX}${options.issueNumber}-${options.runId}-${options.runAttempt}-${random}.store`;
}

/** True for the names `storeArtifactName` makes for this issue (issue 1 is not issue 12). */
export function isStoreArtifactName(name: string, issueNumber: number): boolean {
  return (
    name.startsWith(`${STORE_ARTIFACT_PREFIX}${issueNumber}-`) && /^[A-Za-z0-9._-]+$/.test(name)
  );
}

// ---------------------------------------------------------------------------------------
// Sealing

/** What a sealed store is bound to, and how large it may be: the same when sealing and unsealing. */
const SealBindingSchema = z.object({
  /** The issue the job works on; an artifact made for another issue is refused. */
  issueNumber: z.number().int().positive(),
  /**
   * The repository's id (GITHUB_REPOSITORY_ID), authenticated with the issue: a store sealed
   * in another repository with the same key (an organisation secret) is refused.
   */
  repositoryId: z.union([z.string().min(1), z.number().int().positive()]).transform(String),
  /** The `store-key` secret input; empty or missing: the store leaves unsealed, without transcripts. */
  storeKey: z.string().optional(),
  limits: z
    .object({ maxBytes: z.number().int().positive(), maxFiles: z.number().int().positive() })
    .default(DEFAULT_STORE_ARTIFACT_LIMITS),
});

export const SealStoreOptionsSchema = SealBindingSchema.extend({
  storeDir: z.string().min(1),
  /** The artifact file to write (its name is the artifact's name). */
  file: z.string().min(1),
});
export type SealStoreOptions = z.input<typeof SealStoreOptionsSchema>;

export interface SealReport {
  file: string;
  sealed: boolean;
  /** Store files in the artifact, by relative name. */
  files: string[];
  /** Files kept out because they hold the conversation and the artifact is not sealed. */
  leftOut: string[];
  /** Anything in the store dir that is not one of the store's files (temp files, links). */
  ignored: string[];
  bytes: number;
}

/** Writes the store of `storeDir` into one artifact file, sealed when a store key is given. */
export async function sealStore(input: SealStoreOptions): Promise<SealReport> {
  const options = SealStoreOptionsSchema.parse(input);
  const key = storeKeyOf(options.storeKey);
  const { members, leftOut, ignored } = await collectStore(options.storeDir, key !== undefined);
  const payload = await buildPayload(options.storeDir, members, options.limits, options.file);
  const compressed = await gzipAsync(payload);
  const header = baseHeader(key ? 1 : 0, options.issueNumber);
  let artifact: Buffer;
  if (key) {
    const salt = randomBytes(SALT);
    const nonce = randomBytes(NONCE);
    const keys = await deriveKeys(key, salt);
    const sealedHeader = Buffer.concat([header, salt, nonce, keys.check]);
    const cipher = createCipheriv("aes-256-gcm", keys.encryption, nonce);
    cipher.setAAD(associatedData(sealedHeader, options.repositoryId));
    const body = Buffer.concat([cipher.update(compressed), cipher.final()]);
    artifact = Buffer.concat([sealedHeader, body, cipher.getAuthTag()]);
  } else {
    artifact = Buffer.concat([header, compressed]);
  }
  await fs.writeFile(options.file, artifact, { flag: "wx", mode: 0o600 });
  return {
    file: options.file,
    sealed: key !== undefined,
    files: members.map((m) => m.path),
    leftOut,
    ignored,
    bytes: artifact.length,
  };
}

/** The store key, or undefined when none is configured; too short a key is an input error. */
function storeKeyOf(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (value.length < MIN_STORE_KEY_LENGTH) {
    throw new ActionInputError(
      `The store-key input is ${value.length} characters long; use at least ${MIN_STORE_KEY_LENGTH} random characters (e.g. the output of \`openssl rand -base64 32\`, kept as a repository secret). Nothing was sealed or opened.`,
    );
  }
  return value;
}

interface Member {
  path: string;
  size: number;
}

async function collectStore(
  storeDir: string,
  sealed: boolean,
): Promise<{ members: Member[]; leftOut: string[]; ignored: string[] }> {
  const members: Member[] = [];
  const leftOut: string[] = [];
  const ignored: string[] = [];
  const visit = async (relative: string) => {
    const stat = await fs.lstat(path.join(storeDir, relative));
    const layout = stat.isFile() ? LAYOUT.find((l) => l.pattern.test(relative)) : undefined;
    if (!layout) ignored.push(relative);
    else if (layout.conversation && !sealed) leftOut.push(relative);
    else members.push({ path: relative, size: stat.size });
  };
  for (const entry of await fs.readdir(storeDir, { withFileTypes: true })) {
    if (entry.isDirectory() && (LAYOUT_DIRS as readonly string[]).includes(entry.name)) {
      for (const name of await fs.readdir(path.join(storeDir, entry.name))) {
        await visit(`${entry.name}/${name}`);
      }
    } else if (entry.name !== "sessions.lock") {
      await visit(entry.name);
    }
  }
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  members.sort((a, b) => byName(a.path, b.path));
  return { members, leftOut: leftOut.sort(byName), ignored: ignored.sort(byName) };
}

async function buildPayload(
  storeDir: string,
  members: Member[],
  limits: StoreArtifactLimits,
  file: string,
): Promise<Buffer> {
  const total = members.reduce((sum, m) => sum + m.size, 0);
  if (members.length > limits.maxFiles || total > limits.maxBytes) {
    throw new StoreArtifactError(
      "STORE_ARTIFACT_INVALID",
      path.basename(file),
      `The session store (${members.length} files, ${total} bytes) exceeds the artifact limits (${limits.maxFiles} files, ${limits.maxBytes} bytes); prune old sessions (miyabi-sessions prune) and re-run the job.`,
    );
  }
  const contents: Buffer[] = [];
  const files: Member[] = [];
  for (const member of members) {
    // Sizes are re-read: a file that grew since the listing must not desync the payload.
    const data = await fs.readFile(path.join(storeDir, member.path));
    contents.push(data);
    files.push({ path: member.path, size: data.length });
  }
  const manifest = Buffer.from(JSON.stringify({ files }), "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(manifest.length);
  return Buffer.concat([length, manifest, ...contents]);
}

function baseHeader(mode: 0 | 1, issueNumber: number): Buffer {
  const header = Buffer.alloc(BASE_HEADER);
  MAGIC.copy(header, 0);
  header.writeUInt8(STORE_ARTIFACT_VERSION, MAGIC.length);
  header.writeUInt8(mode, MAGIC.length + 1);
  header.writeUInt32BE(issueNumber, MAGIC.length + 2);
  return header;
}

/** What a seal vouches for besides its contents: the header (issue included), purpose, repository. */
function associatedData(header: Buffer, repositoryId: string): Buffer {
  return Buffer.concat([header, Buffer.from(`${PURPOSE}\0repository=${repositoryId}`, "utf8")]);
}

async function deriveKeys(
  storeKey: string,
  salt: Buffer,
): Promise<{ encryption: Buffer; check: Buffer }> {
  const derived = await scryptAsync(storeKey, salt, 64, SCRYPT);
  const check = createHmac("sha256", derived.subarray(32))
    .update(`${PURPOSE}:key-check`)
    .digest()
    .subarray(0, KEY_CHECK);
  return { encryption: derived.subarray(0, 32), check };
}

// ---------------------------------------------------------------------------------------
// Unsealing

export const UnsealStoreOptionsSchema = SealBindingSchema.extend({
  /** The artifact file as downloaded. */
  file: z.string().min(1),
  /** A directory that does not exist yet (or is empty); the store's files land there. */
  into: z.string().min(1),
});
export type UnsealStoreOptions = z.input<typeof UnsealStoreOptionsSchema>;

export interface UnsealReport {
  sealed: boolean;
  files: string[];
  bytes: number;
}

/**
 * Verifies a store artifact completely (authenticity when sealed, then names, sizes and
 * sessions.json's schema), and only then writes its files into `into`.
 */
export async function unsealStore(input: UnsealStoreOptions): Promise<UnsealReport> {
  const options = UnsealStoreOptionsSchema.parse(input);
  const name = path.basename(options.file);
  const refuse: Refuse = (code, why, cause) =>
    new StoreArtifactError(code, name, `The store artifact ${name} was refused: ${why}`, { cause });
  const key = storeKeyOf(options.storeKey);
  const stat = await fs.stat(options.file);
  if (stat.size > options.limits.maxBytes + SEALED_HEADER + TAG) {
    throw refuse(
      "STORE_ARTIFACT_INVALID",
      `it is ${stat.size} bytes, above the ${options.limits.maxBytes}-byte limit. Nothing was restored.`,
    );
  }
  const data = await fs.readFile(options.file);
  const header = readHeader(data);
  if (!header) {
    throw refuse(
      "STORE_ARTIFACT_INVALID",
      `it is not a Miyabi store artifact of format version ${STORE_ARTIFACT_VERSION}. Nothing was restored.`,
    );
  }
  if (header.issue !== options.issueNumber) {
    throw refuse(
      "STORE_ARTIFACT_WRONG_ISSUE",
      `it holds the store of issue #${header.issue}, not of issue #${options.issueNumber}. Nothing was restored.`,
    );
  }
  let compressed: Buffer;
  if (header.mode === 1) {
    if (!key) {
      throw refuse(
        "STORE_KEY_REQUIRED",
        "it is sealed, and this job has no store-key. Pass the same secret as the store-key input that sealed it. Nothing was restored.",
      );
    }
    compressed = await openSealed(data, key, options.repositoryId, refuse);
  } else {
    if (key) {
      // With a key configured every genuine artifact is sealed; an unsealed one is a downgrade.
      throw refuse(
        "STORE_ARTIFACT_UNSEALED",
        "it is not sealed, but this job has a store-key, so every artifact it trusts is sealed. It may have been planted by another workflow run; start the pipeline again from its first phase. Nothing was restored.",
      );
    }
    compressed = data.subarray(BASE_HEADER);
  }
  const payload = await inflate(compressed, options.limits, refuse);
  const files = parsePayload(payload, header.mode === 1, options.limits, refuse);
  const sessions = files.find((f) => f.path === "sessions.json");
  if (sessions) validateDocument(sessions.data, refuse);
  await writeFiles(options.into, files, refuse);
  return {
    sealed: header.mode === 1,
    files: files.map((f) => f.path),
    bytes: files.reduce((sum, f) => sum + f.data.length, 0),
  };
}

type Refuse = (code: StoreArtifactErrorCode, why: string, cause?: unknown) => Error;

function readHeader(data: Buffer): { mode: 0 | 1; issue: number } | undefined {
  if (data.length < BASE_HEADER || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (data.readUInt8(MAGIC.length) !== STORE_ARTIFACT_VERSION) return undefined;
  const mode = data.readUInt8(MAGIC.length + 1);
  if (mode !== 0 && mode !== 1) return undefined;
  if (mode === 1 && data.length < SEALED_HEADER + TAG) return undefined;
  return { mode, issue: data.readUInt32BE(MAGIC.length + 2) };
}

async function openSealed(
  data: Buffer,
  key: string,
  repositoryId: string,
  refuse: Refuse,
): Promise<Buffer> {
  const header = data.subarray(0, SEALED_HEADER);
  const salt = data.subarray(BASE_HEADER, BASE_HEADER + SALT);
  const nonce = data.subarray(BASE_HEADER + SALT, BASE_HEADER + SALT + NONCE);
  const check = data.subarray(BASE_HEADER + SALT + NONCE, SEALED_HEADER);
  const keys = await deriveKeys(key, salt);
  if (!timingSafeEqual(keys.check, check)) {
    throw refuse(
      "STORE_KEY_MISMATCH",
      "it was sealed with another store-key (or its header was altered). Use the store-key that sealed it, or start the pipeline again from its first phase. Nothing was restored.",
    );
  }
  const decipher = createDecipheriv("aes-256-gcm", keys.encryption, nonce);
  decipher.setAAD(associatedData(header, repositoryId));
  decipher.setAuthTag(data.subarray(data.length - TAG));
  const body = decipher.update(data.subarray(SEALED_HEADER, data.length - TAG));
  try {
    return Buffer.concat([body, decipher.final()]);
  } catch (error) {
    throw refuse(
      "STORE_ARTIFACT_TAMPERED",
      "it failed authentication: it was altered after it was sealed, or sealed in another repository. Re-run the phase that saved it, or start the pipeline again from its first phase. Nothing was restored.",
      error,
    );
  }
}

async function inflate(
  compressed: Buffer,
  limits: StoreArtifactLimits,
  refuse: Refuse,
): Promise<Buffer> {
  try {
    // The manifest and length prefix fit in the margin; the file contents are checked below.
    return await gunzipAsync(compressed, { maxOutputLength: limits.maxBytes + 16 * 1024 * 1024 });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw refuse(
      "STORE_ARTIFACT_INVALID",
      `its contents do not decompress within the limits (${reason}). Nothing was restored.`,
      error,
    );
  }
}

interface PayloadFile {
  path: string;
  data: Buffer;
}

function parsePayload(
  payload: Buffer,
  sealed: boolean,
  limits: StoreArtifactLimits,
  refuse: Refuse,
): PayloadFile[] {
  const invalid = (why: string) =>
    refuse("STORE_ARTIFACT_INVALID", `${why}. Nothing was restored.`);
  if (payload.length < 4) throw invalid("its contents are truncated");
  const manifestEnd = 4 + payload.readUInt32BE(0);
  if (manifestEnd > payload.length) throw invalid("its manifest is truncated");
  let manifest: z.infer<typeof ManifestSchema>;
  try {
    manifest = ManifestSchema.parse(JSON.parse(payload.subarray(4, manifestEnd).toString("utf8")));
  } catch (error) {
    throw refuse(
      "STORE_ARTIFACT_INVALID",
      `its manifest is not valid (${error instanceof Error ? error.message.slice(0, 200) : String(error)}). Nothing was restored.`,
    );
  }
  if (manifest.files.length > limits.maxFiles) throw invalid("it lists too many files");
  const seen = new Set<string>();
  const files: PayloadFile[] = [];
  let at = manifestEnd;
  for (const entry of manifest.files) {
    const layout = LAYOUT.find((l) => l.pattern.test(entry.path));
    if (!layout) throw invalid(`it names ${JSON.stringify(entry.path)}, which is not a store file`);
    if (layout.conversation && !sealed) {
      throw invalid(
        `it is not sealed but carries ${entry.path}; unsealed artifacts never hold a conversation`,
      );
    }
    if (seen.has(entry.path)) throw invalid(`it names ${entry.path} twice`);
    seen.add(entry.path);
    if (at + entry.size > payload.length) throw invalid(`${entry.path} is truncated`);
    files.push({ path: entry.path, data: payload.subarray(at, at + entry.size) });
    at += entry.size;
  }
  if (at !== payload.length) throw invalid("it carries bytes its manifest does not account for");
  if (at - manifestEnd > limits.maxBytes) throw invalid("its files exceed the size limit");
  return files;
}

function validateDocument(data: Buffer, refuse: Refuse): void {
  try {
    parseDocument(JSON.parse(data.toString("utf8")), "sessions.json");
  } catch (error) {
    throw refuse(
      "STORE_ARTIFACT_INVALID",
      `its sessions.json is not a valid session store (${error instanceof Error ? error.message.slice(0, 300) : String(error)}). Nothing was restored.`,
    );
  }
}

async function writeFiles(into: string, files: PayloadFile[], refuse: Refuse): Promise<void> {
  await fs.mkdir(into, { recursive: true, mode: 0o700 });
  if ((await fs.readdir(into)).length > 0) {
    throw refuse(
      "STORE_ARTIFACT_INVALID",
      `the directory to restore into (${into}) is not empty. Nothing was restored.`,
    );
  }
  const dirs = new Set(files.map((f) => path.posix.dirname(f.path)).filter((d) => d !== "."));
  for (const dir of dirs) await fs.mkdir(path.join(into, dir), { mode: 0o700 });
  // Exclusive creates in a directory this call made: nothing can redirect a write.
  for (const file of files) {
    await fs.writeFile(path.join(into, file.path), file.data, { flag: "wx", mode: 0o600 });
  }
}

// ---------------------------------------------------------------------------------------
// Finding and moving artifacts

/** One artifact of the repository, as the Actions REST API lists it. */
export interface RepoArtifact {
  id: number;
  name: string;
  sizeInBytes: number;
  expired: boolean;
  createdAt: string;
  /** `sha256:<hex>` of the uploaded content, when GitHub knows it. */
  digest: string | null;
  workflowRun: { id: number; repositoryId: number; headRepositoryId: number } | null;
}

/**
 * The Actions REST calls the artifact fallback makes (token needs `actions: read`). To be
 * folded into the GitHubApi port.
 */
export interface ArtifactApi {
  /** One page (1-based, 100 per page) of the repository's artifacts, newest first. */
  listArtifacts(page: number): Promise<RepoArtifact[]>;
}

type Octokit = ReturnType<typeof getOctokit>;

export function octokitArtifactApi(octokit: Octokit, owner: string, repo: string): ArtifactApi {
  return {
    async listArtifacts(page) {
      const { data } = await octokit.rest.actions.listArtifactsForRepo({
        owner,
        repo,
        per_page: 100,
        page,
      });
      return data.artifacts.map((a) => ({
        id: a.id,
        name: a.name,
        sizeInBytes: a.size_in_bytes,
        expired: a.expired,
        createdAt: a.created_at ?? "",
        digest: a.digest ?? null,
        workflowRun:
          a.workflow_run?.id !== undefined &&
          a.workflow_run.repository_id !== undefined &&
          a.workflow_run.head_repository_id !== undefined
            ? {
                id: a.workflow_run.id,
                repositoryId: a.workflow_run.repository_id,
                headRepositoryId: a.workflow_run.head_repository_id,
              }
            : null,
      }));
    },
  };
}

export const FindStoreArtifactOptionsSchema = z.object({
  issueNumber: z.number().int().positive(),
  /** Pages of 100 looked through before giving up. */
  maxPages: z.number().int().positive().default(10),
});
export type FindStoreArtifactOptions = z.input<typeof FindStoreArtifactOptionsSchema>;

/**
 * The issue's newest store artifact that has not expired and was made by a run of this
 * repository's own code (a fork's pull request run can upload artifacts under any name).
 */
export async function findLatestStoreArtifact(
  api: ArtifactApi,
  input: FindStoreArtifactOptions,
): Promise<RepoArtifact | undefined> {
  const options = FindStoreArtifactOptionsSchema.parse(input);
  for (let page = 1; page <= options.maxPages; page++) {
    const artifacts = await api.listArtifacts(page);
    const matches = artifacts.filter(
      (a) =>
        isStoreArtifactName(a.name, options.issueNumber) &&
        !a.expired &&
        a.workflowRun !== null &&
        a.workflowRun.headRepositoryId === a.workflowRun.repositoryId,
    );
    // The list is newest first, so the first page with a match holds the newest one.
    if (matches.length > 0) {
      return matches.reduce((newest, a) =>
        Date.parse(a.createdAt) > Date.parse(newest.createdAt) ? a : newest,
      );
    }
    if (artifacts.length < 100) return undefined;
  }
  return undefined;
}

/** What the fallback uses of @actions/artifact's client. */
export type ArtifactTransfer = Pick<ArtifactClient, "uploadArtifact" | "downloadArtifact">;

export interface UploadStoreArtifactOptions {
  client: ArtifactTransfer;
  /** A file written by `sealStore`; its name is the artifact's name. */
  file: string;
  retentionDays?: number;
}

/** Uploads the artifact file as is (no zip around it). */
export async function uploadStoreArtifact(
  options: UploadStoreArtifactOptions,
): Promise<{ id: number; name: string; size: number }> {
  const name = path.basename(options.file);
  try {
    const result = await options.client.uploadArtifact(
      name,
      [options.file],
      path.dirname(options.file),
      {
        skipArchive: true,
        retentionDays: options.retentionDays ?? DEFAULT_STORE_ARTIFACT_RETENTION_DAYS,
      },
    );
    if (result.id === undefined) throw new Error("the artifact service returned no artifact id");
    return { id: result.id, name, size: result.size ?? 0 };
  } catch (error) {
    throw transferError(name, "upload", error);
  }
}

export interface DownloadStoreArtifactOptions {
  client: ArtifactTransfer;
  artifact: RepoArtifact;
  /** A token with `actions: read` on the repository. */
  token: string;
  owner: string;
  repo: string;
  /** A new, empty directory for the downloaded file. */
  into: string;
}

/** Downloads another run's artifact (by id, through the REST API) and returns the file. */
export async function downloadStoreArtifact(
  options: DownloadStoreArtifactOptions,
): Promise<string> {
  const { artifact } = options;
  const runId = artifact.workflowRun?.id;
  if (runId === undefined) {
    throw transferError(artifact.name, "download", new Error("the artifact has no workflow run"));
  }
  await fs.mkdir(options.into, { recursive: true, mode: 0o700 });
  let digestMismatch: boolean | undefined;
  try {
    ({ digestMismatch } = await options.client.downloadArtifact(artifact.id, {
      path: options.into,
      skipDecompress: true,
      ...(artifact.digest ? { expectedHash: artifact.digest } : {}),
      findBy: {
        token: options.token,
        workflowRunId: runId,
        repositoryOwner: options.owner,
        repositoryName: options.repo,
      },
    }));
  } catch (error) {
    throw transferError(artifact.name, "download", error);
  }
  if (digestMismatch) {
    throw new StoreArtifactError(
      "STORE_ARTIFACT_TAMPERED",
      artifact.name,
      `The store artifact ${artifact.name} does not match the digest GitHub recorded at upload; it was altered in storage or in transit. Nothing was restored; re-run the job.`,
    );
  }
  const entries = await fs.readdir(options.into);
  const [only] = entries;
  if (entries.length !== 1 || only === undefined) {
    throw transferError(
      artifact.name,
      "download",
      new Error(`expected one downloaded file, found ${entries.length}`),
    );
  }
  return path.join(options.into, only);
}

function transferError(name: string, what: "upload" | "download", error: unknown): Error {
  const cause = error instanceof Error ? error.message : String(error);
  return new StoreArtifactError(
    "STORE_ARTIFACT_TRANSFER_FAILED",
    name,
    `${cause}: the ${what} of the store artifact ${name} failed. ${
      what === "upload"
        ? "The cache entry (if saved) still carries the store; give the job `actions: write` (the default for GITHUB_TOKEN) and re-run it to keep a record past the cache's 7 days."
        : "Give the github-token `actions: read` and re-run the job, or start the pipeline again from its first phase."
    }`,
    { cause: error },
  );
}

// ---------------------------------------------------------------------------------------
// The two calls a job makes

export interface SaveStoreArtifactOptions {
  client: ArtifactTransfer;
  storeDir: string;
  issueNumber: number;
  /** GITHUB_REPOSITORY_ID. */
  repositoryId: string | number;
  storeKey?: string;
  /** GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, for the artifact's name. */
  runId: number | string;
  runAttempt: number | string;
  retentionDays?: number;
  /** Where the artifact file is made (RUNNER_TEMP); removed afterwards. */
  tempDir: string;
}

/** Seals the store and uploads it; the report says what was left out and whether it is sealed. */
export async function saveStoreArtifact(
  options: SaveStoreArtifactOptions,
): Promise<SealReport & { id: number; name: string }> {
  const dir = await fs.mkdtemp(path.join(options.tempDir, "miyabi-artifact-"));
  try {
    const file = path.join(dir, storeArtifactName(options));
    const report = await sealStore({
      storeDir: options.storeDir,
      issueNumber: options.issueNumber,
      repositoryId: options.repositoryId,
      storeKey: options.storeKey,
      file,
    });
    const uploaded = await uploadStoreArtifact({
      client: options.client,
      file,
      ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
    });
    return { ...report, id: uploaded.id, name: uploaded.name };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export interface RestoreStoreArtifactOptions {
  api: ArtifactApi;
  client: ArtifactTransfer;
  /** A token with `actions: read`. */
  token: string;
  owner: string;
  repo: string;
  issueNumber: number;
  /** GITHUB_REPOSITORY_ID. */
  repositoryId: string | number;
  storeKey?: string;
  /** A directory that does not exist yet: the store's files land there. */
  into: string;
  /** Where the download goes (RUNNER_TEMP); removed afterwards. */
  tempDir: string;
}

/**
 * The store from the issue's latest artifact, when the cache entry is gone: undefined when
 * there is none; throws StoreArtifactError when the latest one is refused (an older one is
 * never tried instead: the refusal is the news).
 */
export async function restoreStoreFromArtifact(
  options: RestoreStoreArtifactOptions,
): Promise<(UnsealReport & { artifact: RepoArtifact }) | undefined> {
  const artifact = await findLatestStoreArtifact(options.api, { issueNumber: options.issueNumber });
  if (!artifact) return undefined;
  const dir = await fs.mkdtemp(path.join(options.tempDir, "miyabi-artifact-"));
  try {
    const file = await downloadStoreArtifact({
      client: options.client,
      artifact,
      token: options.token,
      owner: options.owner,
      repo: options.repo,
      into: path.join(dir, "download"),
    });
    const report = await unsealStore({
      file,
      issueNumber: options.issueNumber,
      repositoryId: options.repositoryId,
      storeKey: options.storeKey,
      into: options.into,
    });
    return { ...report, artifact };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
