/**
 * A local stand-in for the GitHub Actions artifact service v2 (artifacts v4), shaped after
 * what `@actions/artifact` 6.2.1 sends:
 *
 * - `POST /twirp/github.actions.results.api.v1.ArtifactService/{Method}` (CreateArtifact,
 *   FinalizeArtifact, ListArtifacts, GetSignedArtifactURL, DeleteArtifact) with JSON bodies in
 *   proto field names (int64 as strings, wrappers such as `name_filter` as bare values,
 *   timestamps as RFC 3339), authorised by `Bearer $ACTIONS_RUNTIME_TOKEN`, a JWT whose `scp`
 *   claim names the workflow run and job the call acts for.
 * - Blob URLs on the same server (Azure SDK staged-block upload, plain GET download with the
 *   Content-Type and Content-Disposition the library uses to decide between unzip and a raw
 *   file).
 * - For the REST side (listing a repository's artifacts, the 302 to a download URL, both used
 *   by other runs), `rest` plugs into the GitHub REST stub's `artifacts` option.
 *
 * Artifacts belong to the current workflow run (`startRun` begins another), so a test can
 * play a later run finding an earlier run's artifact, or a fork's run planting one.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import {
  BLOB_ACCOUNT_PATH,
  type BlobFaults,
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
  stringField,
  type TwirpResult,
} from "./internal/twirp.js";

export type ArtifactRpcMethod =
  | "CreateArtifact"
  | "FinalizeArtifact"
  | "ListArtifacts"
  | "GetSignedArtifactURL"
  | "DeleteArtifact";

/** The workflow run artifacts are uploaded from, as the REST API describes it. */
export interface ArtifactRun {
  /** The run's database id (`workflow_run.id`, the `run_id` of REST routes). */
  id: number;
  repositoryId: number;
  /** The repository the run's code came from: another id for a fork's pull request. */
  headRepositoryId: number;
  headBranch: string;
  headSha: string;
}

export interface ArtifactSummary {
  id: number;
  name: string;
  size: number;
  /** `sha256:<hex>` as the library reported it at finalize. */
  digest: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  expired: boolean;
  run: ArtifactRun;
}

/** The REST API's artifact object (GET /repos/{owner}/{repo}/actions/artifacts). */
export interface RestArtifact {
  id: number;
  node_id: string;
  name: string;
  size_in_bytes: number;
  url: string;
  archive_download_url: string;
  expired: boolean;
  digest: string | null;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  workflow_run: {
    id: number;
    repository_id: number;
    head_repository_id: number;
    head_branch: string;
    head_sha: string;
  };
}

/** What the GitHub REST stub needs to serve a repository's artifacts. */
export interface ArtifactRestSource {
  /** Finalized artifacts, newest first, as the REST API lists them. */
  list(apiUrl: string, repoPath: string): RestArtifact[];
  /** A short-lived signed URL for the artifact's content, or undefined when it is gone. */
  downloadUrl(id: number): string | undefined;
}

export interface ArtifactFaults extends BlobFaults {
  rpcErrors?: Partial<Record<ArtifactRpcMethod, "internal" | "unavailable" | "permission_denied">>;
}

export interface ArtifactCall {
  method: string;
  body: unknown;
}

export interface ArtifactServer {
  /** Base URL ending in "/", for ACTIONS_RESULTS_URL. */
  url: string;
  calls: ArtifactCall[];
  /** Finalized artifacts of every run, oldest first. */
  artifacts(): ArtifactSummary[];
  /** The current run (uploads go to it; env() carries its token). */
  run(): ArtifactRun;
  /** Begins a new workflow run, with fields of `run` overriding fresh ones. */
  startRun(run?: Partial<ArtifactRun>): ArtifactRun;
  /** Environment `@actions/artifact` needs to upload to the current run. */
  env(): Record<string, string>;
  /** The stored bytes of an artifact, to inspect or tamper with. */
  content(id: number): Buffer | undefined;
  setContent(id: number, data: Buffer): void;
  /** Marks an artifact expired, as retention does: listed with `expired: true`, not downloadable. */
  expire(id: number): void;
  setFaults(faults: ArtifactFaults): void;
  rest: ArtifactRestSource;
  close(): Promise<void>;
}

const SERVICE_PATH = "/twirp/github.actions.results.api.v1.ArtifactService/";
const CONTAINER = "actions-results/";
const BLOB_PATH = `${BLOB_ACCOUNT_PATH}${CONTAINER}`;
const METHODS: readonly ArtifactRpcMethod[] = [
  "CreateArtifact",
  "FinalizeArtifact",
  "ListArtifacts",
  "GetSignedArtifactURL",
  "DeleteArtifact",
];

interface RunState {
  run: ArtifactRun;
  backendId: string;
  jobBackendId: string;
  token: string;
}

interface StoredArtifact {
  id: number;
  name: string;
  run: RunState;
  blobName: string;
  blob: StoredBlob;
  uploadSig: string;
  downloadSig: string;
  mimeType: string;
  createdAt: Date;
  expiresAt: Date | null;
  expired: boolean;
  finalized: boolean;
  deleted: boolean;
  size: number;
  digest: string | null;
}

interface State {
  url: string;
  runs: RunState[];
  current: RunState;
  artifacts: StoredArtifact[];
  faults: ArtifactFaults;
  calls: ArtifactCall[];
  nextId: number;
}

const DEFAULT_REPOSITORY_ID = 4242;

export async function startArtifactServer(
  options: { run?: Partial<ArtifactRun> } = {},
): Promise<ArtifactServer> {
  const first = newRun(1000, options.run);
  const state: State = {
    url: "",
    runs: [first],
    current: first,
    artifacts: [],
    faults: {},
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
  const finalized = () => state.artifacts.filter((a) => a.finalized && !a.deleted);
  const byId = (id: number) => finalized().find((a) => a.id === id);
  return {
    url: state.url,
    calls: state.calls,
    artifacts: () => finalized().map(summarize),
    run: () => state.current.run,
    startRun: (run) => {
      const last = state.runs.at(-1)?.run.id ?? 1000;
      state.current = newRun(last + 1, { ...pickRepo(state.current.run), ...run });
      state.runs.push(state.current);
      return state.current.run;
    },
    env: () => ({
      ACTIONS_RESULTS_URL: state.url,
      ACTIONS_RUNTIME_TOKEN: state.current.token,
      // Another host counts as GHES, where the library refuses artifacts v4.
      GITHUB_SERVER_URL: "https://github.com",
    }),
    content: (id) => byId(id)?.blob.data,
    setContent: (id, data) => {
      const artifact = byId(id);
      if (!artifact) throw new Error(`no artifact ${id}`);
      artifact.blob.data = data;
    },
    expire: (id) => {
      const artifact = byId(id);
      if (!artifact) throw new Error(`no artifact ${id}`);
      artifact.expired = true;
    },
    setFaults: (faults) => {
      state.faults = faults;
    },
    rest: {
      list: (apiUrl, repoPath) =>
        finalized()
          .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id)
          .map((a) => restJson(a, `${apiUrl}${repoPath}/actions/artifacts/${a.id}`)),
      downloadUrl: (id) => {
        const artifact = byId(id);
        return artifact && !artifact.expired
          ? signedBlobUrl(state.url, `${CONTAINER}${artifact.blobName}`, artifact.downloadSig, "r")
          : undefined;
      },
    },
    close: () => server.close(),
  };
}

function pickRepo(run: ArtifactRun): Partial<ArtifactRun> {
  return {
    repositoryId: run.repositoryId,
    headRepositoryId: run.repositoryId,
    headBranch: run.headBranch,
  };
}

function newRun(id: number, run: Partial<ArtifactRun> = {}): RunState {
  const full: ArtifactRun = {
    id,
    repositoryId: DEFAULT_REPOSITORY_ID,
    headRepositoryId: run.repositoryId ?? DEFAULT_REPOSITORY_ID,
    headBranch: "main",
    headSha: randomBytes(20).toString("hex"),
    ...run,
  };
  const backendId = randomUUID();
  const jobBackendId = randomUUID();
  return {
    run: full,
    backendId,
    jobBackendId,
    token: fakeRuntimeToken({ run: backendId, job: jobBackendId }),
  };
}

function summarize(a: StoredArtifact): ArtifactSummary {
  return {
    id: a.id,
    name: a.name,
    size: a.size,
    digest: a.digest,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    expired: a.expired,
    run: a.run.run,
  };
}

function restJson(a: StoredArtifact, url: string): RestArtifact {
  return {
    id: a.id,
    node_id: Buffer.from(`Artifact:${a.id}`).toString("base64"),
    name: a.name,
    size_in_bytes: a.size,
    url,
    archive_download_url: `${url}/zip`,
    expired: a.expired,
    digest: a.digest,
    created_at: a.createdAt.toISOString(),
    updated_at: a.createdAt.toISOString(),
    expires_at: a.expiresAt?.toISOString() ?? null,
    workflow_run: {
      id: a.run.run.id,
      repository_id: a.run.run.repositoryId,
      head_repository_id: a.run.run.headRepositoryId,
      head_branch: a.run.run.headBranch,
      head_sha: a.run.run.headSha,
    },
  };
}

function blobGrant(state: State, name: string): BlobGrant | undefined {
  const a = state.artifacts.find((x) => x.blobName === name && !x.deleted && !x.expired);
  return (
    a && {
      uploadSig: a.uploadSig,
      downloadSig: a.downloadSig,
      finalized: a.finalized,
      blob: a.blob,
      downloadHeaders: {
        "Content-Type": a.mimeType,
        "Content-Disposition": `attachment; filename="${a.name}"; filename*=UTF-8''${encodeURIComponent(a.name)}`,
      },
    }
  );
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
  const run = state.runs.find((r) => req.headers.authorization === `Bearer ${r.token}`);
  if (!run) return fail("unauthenticated", "invalid or missing bearer token");
  const injected = state.faults.rpcErrors?.[method];
  if (injected) return fail(injected, `injected fault: ${injected}`);
  const request = body.ok && isRecord(body.value) ? body.value : undefined;
  if (!request) return fail("malformed", "the request body is not a JSON object");
  // The token's scope is the run and job; a request naming another run is refused.
  if (
    stringField(request, "workflow_run_backend_id") !== run.backendId ||
    stringField(request, "workflow_job_run_backend_id") !== run.jobBackendId
  ) {
    return fail("permission_denied", "the backend ids do not match the runtime token's scope");
  }
  switch (method) {
    case "CreateArtifact":
      return createArtifact(state, run, request);
    case "FinalizeArtifact":
      return finalizeArtifact(state, run, request);
    case "ListArtifacts":
      return listArtifacts(state, run, request);
    case "GetSignedArtifactURL":
      return signedUrl(state, run, request);
    case "DeleteArtifact":
      return deleteArtifact(state, run, request);
  }
}

function isRpcMethod(method: string): method is ArtifactRpcMethod {
  return (METHODS as readonly string[]).includes(method);
}

function ofRun(state: State, run: RunState): StoredArtifact[] {
  return state.artifacts.filter((a) => a.run === run && !a.deleted);
}

function createArtifact(
  state: State,
  run: RunState,
  request: Record<string, unknown>,
): TwirpResult {
  const name = stringField(request, "name");
  if (!name) return fail("invalid_argument", "name is required");
  if (request.version !== 7 && request.version !== 4) {
    return fail("invalid_argument", `unsupported artifact version ${String(request.version)}`);
  }
  // Names are unique within a run, finalized or not (the hosted service answers 409).
  if (ofRun(state, run).some((a) => a.name === name)) {
    return fail("already_exists", `an artifact with this name already exists on the workflow run`);
  }
  const expires = stringField(request, "expires_at");
  const artifact: StoredArtifact = {
    id: state.nextId++,
    name,
    run,
    blobName: randomBytes(16).toString("hex"),
    blob: newBlob(),
    uploadSig: newSignature(),
    downloadSig: newSignature(),
    mimeType: stringField(request, "mime_type") || "application/zip",
    createdAt: new Date(),
    expiresAt: expires ? new Date(expires) : null,
    expired: false,
    finalized: false,
    deleted: false,
    size: 0,
    digest: null,
  };
  state.artifacts.push(artifact);
  return {
    ok: true,
    body: {
      ok: true,
      signed_upload_url: signedBlobUrl(
        state.url,
        `${CONTAINER}${artifact.blobName}`,
        artifact.uploadSig,
        "cw",
      ),
    },
  };
}

function finalizeArtifact(
  state: State,
  run: RunState,
  request: Record<string, unknown>,
): TwirpResult {
  const name = stringField(request, "name");
  const artifact = ofRun(state, run).find((a) => a.name === name && !a.finalized);
  if (!artifact) return fail("not_found", "no artifact with this name is being uploaded");
  const data = artifact.blob.data;
  if (!data) return fail("failed_precondition", "the artifact content was not uploaded");
  const size = int64Field(request, "size");
  if (size !== data.length) {
    return fail("invalid_argument", `size ${size} does not match the uploaded ${data.length}`);
  }
  const hash = stringField(request, "hash");
  const actual = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  if (hash && hash !== actual) {
    return fail("invalid_argument", `hash ${hash} does not match the uploaded content`);
  }
  artifact.finalized = true;
  artifact.size = data.length;
  artifact.digest = actual;
  return { ok: true, body: { ok: true, artifact_id: String(artifact.id) } };
}

function listArtifacts(state: State, run: RunState, request: Record<string, unknown>): TwirpResult {
  const nameFilter = stringField(request, "name_filter");
  const idFilter = int64Field(request, "id_filter");
  const artifacts = ofRun(state, run)
    .filter((a) => a.finalized && !a.expired)
    .filter((a) => !nameFilter || a.name === nameFilter)
    .filter((a) => !idFilter || a.id === idFilter)
    .map((a) => ({
      workflow_run_backend_id: run.backendId,
      workflow_job_run_backend_id: run.jobBackendId,
      database_id: String(a.id),
      name: a.name,
      size: String(a.size),
      created_at: a.createdAt.toISOString(),
      ...(a.digest ? { digest: a.digest } : {}),
    }));
  return { ok: true, body: { artifacts } };
}

function signedUrl(state: State, run: RunState, request: Record<string, unknown>): TwirpResult {
  const name = stringField(request, "name");
  const artifact = ofRun(state, run).find((a) => a.name === name && a.finalized && !a.expired);
  if (!artifact) return fail("not_found", "no artifact with this name on the workflow run");
  return {
    ok: true,
    body: {
      signed_url: signedBlobUrl(
        state.url,
        `${CONTAINER}${artifact.blobName}`,
        artifact.downloadSig,
        "r",
      ),
    },
  };
}

function deleteArtifact(
  state: State,
  run: RunState,
  request: Record<string, unknown>,
): TwirpResult {
  const name = stringField(request, "name");
  const artifact = ofRun(state, run).find((a) => a.name === name);
  if (!artifact) return fail("not_found", "no artifact with this name on the workflow run");
  artifact.deleted = true;
  return { ok: true, body: { ok: true, artifact_id: String(artifact.id) } };
}
