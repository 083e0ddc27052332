import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CacheFaults,
  type CacheServer,
  startCacheServer,
  unreachableCacheEnv,
} from "./cache-server.js";

// @actions/cache and @miyabi/node24 are dependencies of the action package, not of testkit,
// so the client fixture lives there and resolves them from there.
const ACTION_DIR = fileURLToPath(new URL("../../github-action/", import.meta.url));
const FIXTURE = path.join(ACTION_DIR, "test", "fixtures", "cache-client.mjs");
const RESULT_MARKER = "::cache-client-result::";
const TWIRP = "twirp/github.actions.results.api.v1.CacheService/";

// A 64-hex-digit version, as the library computes it (sha256 of paths|compression|salt).
const VERSION = createHash("sha256").update("data|gzip|1.0").digest("hex");

interface ClientResult {
  outcome: "returned" | "threw";
  value?: unknown;
  error?: { name: string; message: string };
  /** Duration of saveCache/restoreCache as measured inside the child. */
  ms: number;
  stdout: string;
}

type Cleanup = (fn: () => Promise<void>) => void;

let scratch = "";
let node24 = "";

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "miyabi-cache-test-"));
  node24 = await resolveNode24();
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function resolveNode24(): Promise<string> {
  const entry = path.join(ACTION_DIR, "node_modules", "@miyabi", "node24", "index.js");
  const mod: unknown = await import(pathToFileURL(entry).href);
  if (typeof mod !== "object" || mod === null || !("node24Path" in mod)) {
    throw new Error(`${entry} does not export node24Path`);
  }
  const node24Path: unknown = mod.node24Path;
  if (typeof node24Path !== "function") throw new Error("node24Path is not a function");
  const result: unknown = node24Path();
  if (typeof result !== "string") throw new Error("node24Path() did not return a string");
  return result;
}

async function server(onCleanup: Cleanup, faults?: CacheFaults): Promise<CacheServer> {
  const started = await startCacheServer(faults ? { faults } : {});
  onCleanup(() => started.close());
  return started;
}

/** A fresh workspace directory holding the given files (paths relative to it). */
async function workspace(files: Record<string, string | Buffer> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(scratch, "ws-"));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

/** Every file under dir as relative path -> sha256, to compare trees byte for byte. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = createHash("sha256")
      .update(await readFile(full))
      .digest("hex");
  }
  return out;
}

type ClientRequest =
  | { op: "save"; paths: string[]; key: string }
  | { op: "restore"; paths: string[]; key: string; restoreKeys?: string[] };

/**
 * Runs the real library in a child with only the given env (plus PATH/HOME), so ambient
 * ACTIONS_* or GITHUB_* variables of the machine running the tests cannot leak in.
 */
function runClient(
  env: Record<string, string>,
  request: ClientRequest,
  cwd: string,
  nodeBin = node24,
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [FIXTURE, JSON.stringify(request)], {
      cwd,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        GITHUB_WORKSPACE: cwd,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) {
        reject(new Error(`cache client exited ${code}\n${stdout}\n${stderr}`));
        return;
      }
      resolve({ ...parseResult(line.slice(RESULT_MARKER.length)), stdout });
    });
  });
}

function parseResult(json: string): Omit<ClientResult, "stdout"> {
  const parsed: unknown = JSON.parse(json);
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    !("outcome" in parsed) ||
    !("ms" in parsed)
  ) {
    throw new Error(`unexpected client result ${json}`);
  }
  return parsed as Omit<ClientResult, "stdout">;
}

function methods(srv: CacheServer): string[] {
  return srv.calls.map((c) => c.method);
}

async function rpc(
  srv: CacheServer,
  method: string,
  body: unknown,
  token = srv.env().ACTIONS_RUNTIME_TOKEN,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${srv.url}${TWIRP}${method}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

function stringProp(value: unknown, name: string): string {
  if (typeof value !== "object" || value === null) throw new Error("not an object");
  const prop: unknown = (value as Record<string, unknown>)[name];
  if (typeof prop !== "string") throw new Error(`${name} is not a string`);
  return prop;
}

/** Saves an entry through the wire protocol alone, the way the library does; returns the upload URL. */
async function seed(srv: CacheServer, key: string, content: Buffer, version = VERSION) {
  const created = await rpc(srv, "CreateCacheEntry", { key, version });
  const uploadUrl = stringProp(created.json, "signed_upload_url");
  const put = await fetch(uploadUrl, {
    method: "PUT",
    headers: { "x-ms-blob-type": "BlockBlob" },
    body: content,
  });
  expect(put.status).toBe(201);
  const size = String(content.length);
  const finalized = await rpc(srv, "FinalizeCacheEntryUpload", { key, version, size_bytes: size });
  expect(finalized.status).toBe(200);
  return uploadUrl;
}

async function lookup(srv: CacheServer, key: string, restoreKeys: string[], version = VERSION) {
  const res = await rpc(srv, "GetCacheEntryDownloadURL", {
    key,
    restore_keys: restoreKeys,
    version,
  });
  return stringProp(res.json, "matched_key");
}

describe("cache service wire protocol", () => {
  it("speaks twirp JSON with proto field names and serves the blob", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished);
    const created = await rpc(srv, "CreateCacheEntry", { key: "k", version: VERSION });
    expect(created).toEqual({
      status: 200,
      json: { ok: true, signed_upload_url: expect.stringMatching(/&sig=/), message: "" },
    });
    const blob = randomBytes(1000);
    const uploadUrl = stringProp(created.json, "signed_upload_url");
    const put = await fetch(uploadUrl, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob" },
      body: blob,
    });
    expect(put.status).toBe(201);

    const finalized = await rpc(srv, "FinalizeCacheEntryUpload", {
      key: "k",
      version: VERSION,
      size_bytes: "1000",
    });
    expect(finalized).toEqual({ status: 200, json: { ok: true, entry_id: "1", message: "" } });
    expect(srv.entries()).toEqual([
      { key: "k", version: VERSION, size: 1000, createdAt: expect.any(Date) },
    ]);

    const found = await rpc(srv, "GetCacheEntryDownloadURL", { key: "k", version: VERSION });
    expect(found.json).toEqual({
      ok: true,
      signed_download_url: expect.any(String),
      matched_key: "k",
    });
    const downloadUrl = stringProp(found.json, "signed_download_url");
    const whole = await fetch(downloadUrl);
    expect(Buffer.from(await whole.arrayBuffer()).equals(blob)).toBe(true);
    const part = await fetch(downloadUrl, { headers: { Range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(Buffer.from(await part.arrayBuffer()).equals(blob.subarray(10, 20))).toBe(true);
  });

  it("refuses a taken key+version with 409 already_exists, even before finalize", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished);
    await rpc(srv, "CreateCacheEntry", { key: "k", version: VERSION });
    const again = await rpc(srv, "CreateCacheEntry", { key: "k", version: VERSION });
    expect(again).toEqual({
      status: 409,
      json: {
        code: "already_exists",
        msg: "cache entry with the same key, version, and scope already exists",
      },
    });
    const otherVersion = await rpc(srv, "CreateCacheEntry", { key: "k", version: "v2" });
    expect(otherVersion.status).toBe(200);
  });

  it("answers a miss with ok=false and every field present", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished);
    const miss = await rpc(srv, "GetCacheEntryDownloadURL", { key: "nope", version: VERSION });
    expect(miss).toEqual({
      status: 200,
      json: { ok: false, signed_download_url: "", matched_key: "" },
    });
  });

  it("matches the exact key, then the newest prefix of the key, then restore keys in order", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished);
    await seed(srv, "deps-linux-aaa", Buffer.from("1"));
    await seed(srv, "deps-linux-bbb", Buffer.from("2"));
    await seed(srv, "deps-linux", Buffer.from("3"));
    await seed(srv, "other-1", Buffer.from("4"));
    await seed(srv, "other-2", Buffer.from("5"));

    expect(await lookup(srv, "deps-linux-aaa", [])).toBe("deps-linux-aaa");
    expect(await lookup(srv, "deps-linux", [])).toBe("deps-linux");
    // The newest entry starting with the key wins, not the first one created.
    expect(await lookup(srv, "deps-linux-", [])).toBe("deps-linux-bbb");
    expect(await lookup(srv, "deps-mac", ["nothing-", "other-", "deps-"])).toBe("other-2");
    expect(await lookup(srv, "deps-mac", ["deps-linux-a"])).toBe("deps-linux-aaa");
    // Version is part of the identity: the same key under another version is a miss.
    expect(await lookup(srv, "deps-linux-aaa", ["deps-"], "f".repeat(64))).toBe("");
  });

  it("does not serve entries that were reserved but never finalized", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished);
    await rpc(srv, "CreateCacheEntry", { key: "pending", version: VERSION });
    expect(await lookup(srv, "pending", [])).toBe("");
    expect(srv.entries()).toEqual([]);
  });

  it("checks the bearer token, the route and the body", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished);
    const noToken = await rpc(srv, "GetCacheEntryDownloadURL", { key: "k", version: VERSION }, "");
    expect(noToken).toEqual({
      status: 401,
      json: { code: "unauthenticated", msg: expect.any(String) },
    });
    const wrongToken = await rpc(
      srv,
      "GetCacheEntryDownloadURL",
      { key: "k", version: VERSION },
      "x",
    );
    expect(wrongToken.status).toBe(401);
    const unknown = await rpc(srv, "DeleteCacheEntry", { key: "k" });
    expect(unknown).toEqual({ status: 404, json: { code: "bad_route", msg: expect.any(String) } });
    const malformed = await rpc(srv, "CreateCacheEntry", "{not json");
    expect(malformed).toEqual({
      status: 400,
      json: { code: "malformed", msg: expect.any(String) },
    });
    const missing = await rpc(srv, "CreateCacheEntry", { key: "k" });
    expect(missing.json).toEqual({ code: "invalid_argument", msg: expect.any(String) });
    expect(methods(srv)).toEqual([
      "GetCacheEntryDownloadURL",
      "GetCacheEntryDownloadURL",
      "DeleteCacheEntry",
      "CreateCacheEntry",
      "CreateCacheEntry",
    ]);
  });

  it("assembles Put Block + Put Block List uploads in list order", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished);
    const created = await rpc(srv, "CreateCacheEntry", { key: "big", version: VERSION });
    const url = new URL(stringProp(created.json, "signed_upload_url"));
    const blocks = [Buffer.from("first-"), Buffer.from("second")];
    const ids = ["YQ==", "Yg=="];
    // Staged out of order: the list, not arrival, decides the layout.
    for (const index of [1, 0]) {
      const blockUrl = new URL(url);
      blockUrl.searchParams.set("comp", "block");
      blockUrl.searchParams.set("blockid", ids[index] ?? "");
      const staged = await fetch(blockUrl, { method: "PUT", body: blocks[index] });
      expect(staged.status).toBe(201);
    }
    url.searchParams.set("comp", "blocklist");
    const list = `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>${ids[0]}</Latest><Latest>${ids[1]}</Latest></BlockList>`;
    expect((await fetch(url, { method: "PUT", body: list })).status).toBe(201);
    await rpc(srv, "FinalizeCacheEntryUpload", { key: "big", version: VERSION, size_bytes: "12" });
    const found = await rpc(srv, "GetCacheEntryDownloadURL", { key: "big", version: VERSION });
    const body = await (await fetch(stringProp(found.json, "signed_download_url"))).text();
    expect(body).toBe("first-second");
  });

  it("checks blob signatures and keeps finalized blobs immutable", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished);
    const uploadUrl = await seed(srv, "k", Buffer.from("original"));
    const found = await rpc(srv, "GetCacheEntryDownloadURL", { key: "k", version: VERSION });
    const url = new URL(stringProp(found.json, "signed_download_url"));
    url.searchParams.set("sig", "forged");
    const forged = await fetch(url);
    expect(forged.status).toBe(403);
    expect(forged.headers.get("x-ms-error-code")).toBe("AuthenticationFailed");
    const overwrite = await fetch(uploadUrl, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob" },
      body: "tampered",
    });
    expect(overwrite.status).toBe(403);
    url.searchParams.set(
      "sig",
      new URL(stringProp(found.json, "signed_download_url")).searchParams.get("sig") ?? "",
    );
    expect(await (await fetch(url)).text()).toBe("original");
  });

  it("injects twirp errors per method and can clear them", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished, {
      rpcErrors: { GetCacheEntryDownloadURL: "internal" },
    });
    const failing = await rpc(srv, "GetCacheEntryDownloadURL", { key: "k", version: VERSION });
    expect(failing).toEqual({
      status: 500,
      json: { code: "internal", msg: "injected fault: internal" },
    });
    srv.setFaults({ createConflict: true });
    expect((await rpc(srv, "CreateCacheEntry", { key: "fresh", version: VERSION })).status).toBe(
      409,
    );
    expect(
      (await rpc(srv, "GetCacheEntryDownloadURL", { key: "k", version: VERSION })).status,
    ).toBe(200);
    srv.setFaults({});
    expect((await rpc(srv, "CreateCacheEntry", { key: "fresh", version: VERSION })).status).toBe(
      200,
    );
  });
});

describe("the real @actions/cache 6.3.0 under Node 24", () => {
  it("saves a directory and restores it byte for byte into an empty workspace", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished);
    const source = await workspace({
      "data/a.txt": "hello\n",
      "data/nested/deep/b.bin": randomBytes(200_000),
      "data/empty": "",
    });
    const saved = await runClient(
      srv.env(),
      { op: "save", paths: ["data"], key: "sessions-1" },
      source,
    );
    expect(saved).toMatchObject({ outcome: "returned", value: 1 });
    expect(methods(srv)).toEqual(["CreateCacheEntry", "BlobUpload", "FinalizeCacheEntryUpload"]);
    expect(srv.entries()).toEqual([
      {
        key: "sessions-1",
        version: expect.stringMatching(/^[0-9a-f]{64}$/),
        size: expect.any(Number),
        createdAt: expect.any(Date),
      },
    ]);

    const target = await workspace();
    const restored = await runClient(
      srv.env(),
      { op: "restore", paths: ["data"], key: "sessions-1" },
      target,
    );
    expect(restored).toMatchObject({ outcome: "returned", value: "sessions-1" });
    expect(await tree(target)).toEqual(await tree(source));
    expect(methods(srv).slice(3)).toEqual(["GetCacheEntryDownloadURL", "BlobDownload"]);
  });

  it("restores the newest entry matching a restore-key prefix", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished);
    const older = await workspace({ "data/which.txt": "older" });
    const newer = await workspace({ "data/which.txt": "newer" });
    expect(
      (await runClient(srv.env(), { op: "save", paths: ["data"], key: "run-1" }, older)).value,
    ).toBe(1);
    expect(
      (await runClient(srv.env(), { op: "save", paths: ["data"], key: "run-2" }, newer)).value,
    ).toBe(2);

    const target = await workspace();
    const restored = await runClient(
      srv.env(),
      { op: "restore", paths: ["data"], key: "run-3", restoreKeys: ["run-"] },
      target,
    );
    expect(restored.value).toBe("run-2");
    expect(restored.stdout).toContain("Cache hit for restore-key: run-2");
    expect(await readFile(path.join(target, "data/which.txt"), "utf8")).toBe("newer");
  });

  it("returns undefined on a miss, including a key saved for other paths", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished);
    const source = await workspace({ "data/a.txt": "a", "other/b.txt": "b" });
    await runClient(srv.env(), { op: "save", paths: ["other"], key: "k" }, source);
    // Same key, different paths -> different version -> no match.
    const target = await workspace();
    const missed = await runClient(srv.env(), { op: "restore", paths: ["data"], key: "k" }, target);
    expect(missed).toMatchObject({ outcome: "returned", value: null });
    expect(await tree(target)).toEqual({});
  });

  it("returns -1 and logs at info level when the key already exists", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished);
    const first = await workspace({ "data/a.txt": "first" });
    const second = await workspace({ "data/a.txt": "second" });
    expect(
      (await runClient(srv.env(), { op: "save", paths: ["data"], key: "k" }, first)).value,
    ).toBe(1);
    const again = await runClient(srv.env(), { op: "save", paths: ["data"], key: "k" }, second);
    expect(again).toMatchObject({ outcome: "returned", value: -1 });
    // core.info, not ::warning:: — the 409 detail only reaches the debug log.
    expect(again.stdout).toContain(
      "\nFailed to save: Unable to reserve cache with key k, another job may be creating this cache.\n",
    );
    expect(again.stdout).toContain(
      "Failed to CreateCacheEntry: Received non-retryable error: Failed request: (409) Conflict: cache entry with the same key, version, and scope already exists",
    );
    expect(srv.entries()).toHaveLength(1);
  });

  it("returns -1 when CreateCacheEntry is refused by the createConflict fault", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished, { createConflict: true });
    const source = await workspace({ "data/a.txt": "a" });
    const saved = await runClient(srv.env(), { op: "save", paths: ["data"], key: "fresh" }, source);
    expect(saved.value).toBe(-1);
    expect(methods(srv)).toEqual(["CreateCacheEntry"]);
  });

  it("returns -1 with warnings when the blob upload fails", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished, { uploadFailure: true });
    const source = await workspace({ "data/a.txt": "a" });
    const saved = await runClient(srv.env(), { op: "save", paths: ["data"], key: "k" }, source);
    expect(saved).toMatchObject({ outcome: "returned", value: -1 });
    expect(saved.stdout).toContain(
      "::warning::uploadCacheArchiveSDK: internal error uploading cache archive",
    );
    expect(saved.stdout).toContain(
      "::warning::Failed to save: Server failed to authenticate the request",
    );
    // One PUT: a 403 is not retried by the Azure SDK, and nothing is finalized.
    expect(methods(srv)).toEqual(["CreateCacheEntry", "BlobUpload"]);
    expect(srv.entries()).toEqual([]);
  });

  it("returns undefined with a warning when the blob download fails", async ({
    onTestFinished,
  }) => {
    const srv = await server(onTestFinished);
    const source = await workspace({ "data/a.txt": "a" });
    await runClient(srv.env(), { op: "save", paths: ["data"], key: "k" }, source);
    srv.setFaults({ downloadFailure: true });
    const target = await workspace();
    const restored = await runClient(
      srv.env(),
      { op: "restore", paths: ["data"], key: "k" },
      target,
    );
    expect(restored).toMatchObject({ outcome: "returned", value: null });
    expect(restored.stdout).toContain(
      "::warning::Failed to restore: downloadCache failed: Cache service responded with 500",
    );
    expect(methods(srv).filter((m) => m === "BlobDownload")).toHaveLength(1);
    expect(await tree(target)).toEqual({});
  });

  it("fails fast when nothing listens: restore -> undefined, save -> -1", async () => {
    const runnerTemp = await mkdtemp(path.join(scratch, "runner-temp-"));
    const env = { ...unreachableCacheEnv(), RUNNER_TEMP: runnerTemp };
    const source = await workspace({ "data/a.txt": "a" });
    const restored = await runClient(env, { op: "restore", paths: ["data"], key: "k" }, source);
    expect(restored).toMatchObject({ outcome: "returned", value: null });
    expect(restored.stdout).toContain(
      "::warning::Failed to restore: Failed to GetCacheEntryDownloadURL: Unable to make request: ECONNREFUSED",
    );
    const saved = await runClient(env, { op: "save", paths: ["data"], key: "k" }, source);
    expect(saved).toMatchObject({ outcome: "returned", value: -1 });
    expect(saved.stdout).toContain("Failed to save: Unable to reserve cache with key k");
    // ECONNREFUSED is a NetworkError, which the twirp client never retries.
    expect(restored.ms).toBeLessThan(3000);
    expect(saved.ms).toBeLessThan(3000);
  });

  describe.concurrent("HTTP 500 from the service (retried 5 times over ~25-35 s)", () => {
    it("CreateCacheEntry -> saveCache returns -1", { timeout: 90_000 }, async ({
      onTestFinished,
    }) => {
      const srv = await server(onTestFinished, { rpcErrors: { CreateCacheEntry: "internal" } });
      const source = await workspace({ "data/a.txt": "a" });
      const saved = await runClient(srv.env(), { op: "save", paths: ["data"], key: "k" }, source);
      expect(saved).toMatchObject({ outcome: "returned", value: -1 });
      expect(methods(srv)).toEqual(Array(5).fill("CreateCacheEntry"));
      expect(saved.stdout).toContain("Attempt 1 of 5 failed with error: Failed request: (500)");
      // Backoff 3000 + [4500,6750) + [6750,10125) + [10125,15188) ms.
      expect(saved.ms).toBeGreaterThan(24_000);
      expect(saved.ms).toBeLessThan(40_000);
    });

    it("GetCacheEntryDownloadURL -> restoreCache returns undefined, never throws", {
      timeout: 90_000,
    }, async ({ onTestFinished }) => {
      const srv = await server(onTestFinished, {
        rpcErrors: { GetCacheEntryDownloadURL: "internal" },
      });
      const target = await workspace();
      const restored = await runClient(
        srv.env(),
        { op: "restore", paths: ["data"], key: "k" },
        target,
      );
      expect(restored).toMatchObject({ outcome: "returned", value: null });
      expect(restored.stdout).toContain(
        "::warning::Failed to restore: Failed to GetCacheEntryDownloadURL: Failed to make request after 5 attempts: Failed request: (500) Internal Server Error: injected fault: internal",
      );
      expect(methods(srv)).toEqual(Array(5).fill("GetCacheEntryDownloadURL"));
      expect(restored.ms).toBeGreaterThan(24_000);
    });
  });
});

describe("the real @actions/cache 6.3.0 under this Node (the unit-test runtime)", () => {
  it("round-trips a directory", async ({ onTestFinished }) => {
    const srv = await server(onTestFinished);
    const source = await workspace({ "data/a.txt": "node20", "data/b.bin": randomBytes(5000) });
    const nodeBin = process.execPath;
    const saved = await runClient(
      srv.env(),
      { op: "save", paths: ["data"], key: "k" },
      source,
      nodeBin,
    );
    expect(saved.value).toBe(1);
    const target = await workspace();
    const restored = await runClient(
      srv.env(),
      { op: "restore", paths: ["data"], key: "k" },
      target,
      nodeBin,
    );
    expect(restored.value).toBe("k");
    expect(await tree(target)).toEqual(await tree(source));
  });
});
