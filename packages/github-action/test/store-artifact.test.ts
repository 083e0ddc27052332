/**
 * The store's record outside the cache: sealing and unsealing (real crypto, real files),
 * untrusted unsealed artifacts, and the real @actions/artifact client against testkit's
 * artifact service stand-in, found again through the REST API as a later run would.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { getOctokit } from "@actions/github";
import { SessionStore } from "@miyabi/core";
import { node24Path } from "@miyabi/node24";
import { startArtifactServer, startGitHubStub } from "@miyabi/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ActionInputError, StoreArtifactError } from "../src/internal/errors.js";
import {
  type ArtifactApi,
  type ArtifactTransfer,
  downloadStoreArtifact,
  findLatestStoreArtifact,
  isStoreArtifactName,
  octokitArtifactApi,
  type RepoArtifact,
  restoreStoreFromArtifact,
  saveStoreArtifact,
  sealStore,
  storeArtifactName,
  unsealStore,
  uploadStoreArtifact,
} from "../src/internal/store-artifact.js";

const KEY = "correct horse battery staple 42";
const REPO_ID = "186853002";
const SECRET_TALK = "the agent said: the password hint is tuna";
const run = promisify(execFile);

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "miyabi-artifact-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A real store: one session with a log, a transcript and a patch, and a stray temp file. */
async function makeStore(): Promise<{ dir: string; sessionId: string; claudeId: string }> {
  const dir = path.join(tmp, "store");
  const store = await SessionStore.open({ dir });
  const sessionId = await store.create({
    agentName: "CodeGenAgent",
    purpose: "issue 7",
    context: { issueNumber: 7, currentPhase: "CodeGeneration", worktreePath: null },
  });
  await store.appendLog(sessionId, `${JSON.stringify({ type: "assistant", text: SECRET_TALK })}\n`);
  await store.close();
  const claudeId = randomUUID();
  await mkdir(path.join(dir, "transcripts"), { recursive: true });
  await writeFile(
    path.join(dir, "transcripts", `${claudeId}.jsonl`),
    `{"text":"${SECRET_TALK}"}\n`,
  );
  await mkdir(path.join(dir, "patches"), { recursive: true });
  await writeFile(path.join(dir, "patches", `${sessionId}.patch`), "diff --git a/x b/x\n");
  await writeFile(path.join(dir, "sessions.json.tmp-123"), "half-written");
  return { dir, sessionId, claudeId };
}

async function treeOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = await readFile(full, "utf8");
  }
  return out;
}

async function sealed(options: { key?: string; issue?: number } = {}) {
  const { dir, sessionId, claudeId } = await makeStore();
  const file = path.join(
    tmp,
    "out",
    storeArtifactName({ issueNumber: 7, runId: 1, runAttempt: 1 }),
  );
  await mkdir(path.dirname(file), { recursive: true });
  const report = await sealStore({
    repositoryId: REPO_ID,
    storeDir: dir,
    issueNumber: options.issue ?? 7,
    storeKey: options.key ?? KEY,
    file,
  });
  return { dir, file, report, sessionId, claudeId };
}

async function expectRefused(
  promise: Promise<unknown>,
  code: string | RegExp,
  into: string,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreArtifactError);
  expect((error as StoreArtifactError).code).toMatch(code);
  // Nothing was written: the target does not exist or is empty.
  const left = await readdir(into).catch(() => []);
  expect(left).toEqual([]);
}

describe("sealing with a store key", () => {
  it("round-trips every store file and keeps the conversation unreadable", async () => {
    const { dir, file, report, sessionId, claudeId } = await sealed();
    expect(report.sealed).toBe(true);
    expect(report.leftOut).toEqual([]);
    expect(report.ignored).toEqual(["sessions.json.tmp-123"]);
    expect(report.files).toEqual(
      expect.arrayContaining([
        "sessions.json",
        `logs/${sessionId}.log`,
        `transcripts/${claudeId}.jsonl`,
        `patches/${sessionId}.patch`,
      ]),
    );
    const bytes = await readFile(file);
    expect(bytes.includes(Buffer.from("tuna"))).toBe(false);
    expect(bytes.includes(Buffer.from(sessionId))).toBe(false);

    const into = path.join(tmp, "restored");
    const result = await unsealStore({
      repositoryId: REPO_ID,
      file,
      issueNumber: 7,
      storeKey: KEY,
      into,
    });
    expect(result.sealed).toBe(true);
    const original = await treeOf(dir);
    delete original["sessions.json.tmp-123"];
    delete original["sessions.lock"];
    expect(await treeOf(into)).toEqual(original);
    // The restored directory opens as a store with the session in it.
    const store = await SessionStore.open({ dir: into });
    expect((await store.getSession(sessionId)).agentName).toBe("CodeGenAgent");
    await store.close();
  });

  it("refuses the artifact when any byte of it is flipped, before writing anything", async () => {
    const { file } = await sealed();
    const original = await readFile(file);
    // Every byte of the plain header, and random bytes of each sealed region (salt, nonce,
    // key check, ciphertext, tag): each unseal of those costs one scrypt.
    const pick = (from: number, to: number) => from + Math.floor(Math.random() * (to - from));
    const regions = [
      [14, 30],
      [30, 42],
      [42, 58],
      [58, original.length - 16],
      [original.length - 16, original.length],
    ] as const;
    const positions = [
      ...Array.from({ length: 14 }, (_, i) => i),
      ...regions.flatMap(([from, to]) => [pick(from, to), pick(from, to)]),
    ];
    for (const at of positions) {
      const copy = Buffer.from(original);
      copy[at] = (copy[at] ?? 0) ^ (1 << Math.floor(Math.random() * 8));
      const tampered = path.join(tmp, `tampered-${at}`);
      await writeFile(tampered, copy);
      const into = path.join(tmp, `into-${at}`);
      await expectRefused(
        unsealStore({
          repositoryId: REPO_ID,
          file: tampered,
          issueNumber: 7,
          storeKey: KEY,
          into,
        }),
        /^STORE_(ARTIFACT_(TAMPERED|INVALID|WRONG_ISSUE|UNSEALED)|KEY_MISMATCH)$/,
        into,
      );
    }
    // A flipped ciphertext byte is exactly what authentication catches.
    const copy = Buffer.from(original);
    copy[70] = (copy[70] ?? 0) ^ 0xff;
    await writeFile(path.join(tmp, "body"), copy);
    await expectRefused(
      unsealStore({
        repositoryId: REPO_ID,
        file: path.join(tmp, "body"),
        issueNumber: 7,
        storeKey: KEY,
        into: path.join(tmp, "b"),
      }),
      "STORE_ARTIFACT_TAMPERED",
      path.join(tmp, "b"),
    );
  });

  it("refuses another key, another issue, a renumbered header, and a missing key", async () => {
    const { file } = await sealed();
    const into = path.join(tmp, "into");
    await expectRefused(
      unsealStore({
        repositoryId: REPO_ID,
        file,
        issueNumber: 7,
        storeKey: "another key entirely, 32 chars",
        into,
      }),
      "STORE_KEY_MISMATCH",
      into,
    );
    await expectRefused(
      unsealStore({
        repositoryId: REPO_ID,
        file,
        issueNumber: 8,
        storeKey: KEY,
        into,
      }),
      "STORE_ARTIFACT_WRONG_ISSUE",
      into,
    );
    // Rewriting the issue number in the header to pass issue 7's store off as issue 8's.
    const renumbered = Buffer.from(await readFile(file));
    renumbered.writeUInt32BE(8, 10);
    await writeFile(path.join(tmp, "renumbered"), renumbered);
    await expectRefused(
      unsealStore({
        repositoryId: REPO_ID,
        file: path.join(tmp, "renumbered"),
        issueNumber: 8,
        storeKey: KEY,
        into,
      }),
      "STORE_ARTIFACT_TAMPERED",
      into,
    );
    await expectRefused(
      unsealStore({ repositoryId: REPO_ID, file, issueNumber: 7, into }),
      "STORE_KEY_REQUIRED",
      into,
    );
  });

  it("refuses a short store key as an input error", async () => {
    const { dir } = await makeStore();
    await expect(
      sealStore({
        repositoryId: REPO_ID,
        storeDir: dir,
        issueNumber: 7,
        storeKey: "short",
        file: path.join(tmp, "x"),
      }),
    ).rejects.toBeInstanceOf(ActionInputError);
  });
});

describe("without a store key", () => {
  it("leaves the conversation out, says so, and restores the rest", async () => {
    const { file, report, sessionId, claudeId } = await sealed({ key: "" });
    expect(report.sealed).toBe(false);
    expect(report.leftOut).toEqual([`logs/${sessionId}.log`, `transcripts/${claudeId}.jsonl`]);
    const into = path.join(tmp, "restored");
    const result = await unsealStore({
      repositoryId: REPO_ID,
      file,
      issueNumber: 7,
      into,
    });
    expect(result.sealed).toBe(false);
    const kept = Object.keys(await treeOf(into)).sort();
    expect(kept).toContain("sessions.json");
    expect(kept).toContain(`patches/${sessionId}.patch`);
    expect(kept.filter((f) => f.startsWith("logs/") || f.startsWith("transcripts/"))).toEqual([]);
    expect(JSON.stringify(await treeOf(into))).not.toContain("tuna");
  });

  it("is refused by a job that has a store key (no downgrade)", async () => {
    const { file } = await sealed({ key: "" });
    const into = path.join(tmp, "into");
    await expectRefused(
      unsealStore({
        repositoryId: REPO_ID,
        file,
        issueNumber: 7,
        storeKey: KEY,
        into,
      }),
      "STORE_ARTIFACT_UNSEALED",
      into,
    );
  });

  it("ignores links in the store instead of following them", async () => {
    const { dir } = await makeStore();
    const id = randomUUID();
    await symlink("/etc/hostname", path.join(dir, "patches", `${id}.patch`));
    const report = await sealStore({
      repositoryId: REPO_ID,
      storeDir: dir,
      issueNumber: 7,
      file: path.join(tmp, "a"),
    });
    expect(report.ignored).toContain(`patches/${id}.patch`);
    expect(report.files).not.toContain(`patches/${id}.patch`);
  });
});

/** An unsealed artifact as anyone could craft it: header, then gzip of manifest and contents. */
function craft(files: { path: string; data: string; size?: number }[], extra = ""): Buffer {
  const manifest = Buffer.from(
    JSON.stringify({
      files: files.map((f) => ({ path: f.path, size: f.size ?? Buffer.byteLength(f.data) })),
    }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32BE(manifest.length);
  const payload = Buffer.concat([
    length,
    manifest,
    ...files.map((f) => Buffer.from(f.data)),
    Buffer.from(extra),
  ]);
  const header = Buffer.alloc(14);
  header.write("MIYABIST", 0, "ascii");
  header.writeUInt8(1, 8);
  header.writeUInt8(0, 9);
  header.writeUInt32BE(7, 10);
  return Buffer.concat([header, gzipSync(payload)]);
}

describe("an unsealed artifact is untrusted input", () => {
  const validDoc = async () => (await treeOf((await makeStore()).dir))["sessions.json"] ?? "";
  const uuid = "0b6c4d39-5f6e-4c43-9a55-2c8e07d1c2a1";

  it.each([
    ["a parent-relative name", [{ path: "../escape", data: "x" }]],
    ["an absolute name", [{ path: "/tmp/escape", data: "x" }]],
    ["a name climbing out of a store folder", [{ path: `patches/../../${uuid}.patch`, data: "x" }]],
    ["agent settings", [{ path: ".claude/settings.json", data: "{}" }]],
    ["a name outside the layout", [{ path: "patches/notes.txt", data: "x" }]],
    ["a transcript", [{ path: `transcripts/${uuid}.jsonl`, data: "{}" }]],
    ["a log", [{ path: `logs/${uuid}.log`, data: "{}" }]],
    [
      "a duplicate name",
      [
        { path: `patches/${uuid}.patch`, data: "a" },
        { path: `patches/${uuid}.patch`, data: "b" },
      ],
    ],
    ["a size past the end", [{ path: `patches/${uuid}.patch`, data: "a", size: 99 }]],
    ["a sessions.json that is not a store", [{ path: "sessions.json", data: '{"version":"x"}' }]],
  ])("refuses %s", async (_name, files) => {
    const file = path.join(tmp, "crafted");
    await writeFile(file, craft(files));
    const into = path.join(tmp, "into");
    await expectRefused(
      unsealStore({ repositoryId: REPO_ID, file, issueNumber: 7, into }),
      "STORE_ARTIFACT_INVALID",
      into,
    );
    expect(await readdir(tmp)).not.toContain("escape");
  });

  it("refuses bytes the manifest does not account for", async () => {
    const file = path.join(tmp, "crafted");
    await writeFile(file, craft([{ path: "sessions.json", data: await validDoc() }], "hidden"));
    const into = path.join(tmp, "into");
    await expectRefused(
      unsealStore({ repositoryId: REPO_ID, file, issueNumber: 7, into }),
      "STORE_ARTIFACT_INVALID",
      into,
    );
  });

  it("stops decompressing at the size limit", async () => {
    const file = path.join(tmp, "bomb");
    await writeFile(file, craft([{ path: `patches/${uuid}.patch`, data: "0".repeat(4_000_000) }]));
    const into = path.join(tmp, "into");
    await expectRefused(
      unsealStore({
        repositoryId: REPO_ID,
        file,
        issueNumber: 7,
        into,
        limits: { maxBytes: 1000, maxFiles: 10 },
      }),
      "STORE_ARTIFACT_INVALID",
      into,
    );
  });

  it("accepts a well-formed one and writes only into a new directory", async () => {
    const file = path.join(tmp, "crafted");
    const doc = await validDoc();
    await writeFile(file, craft([{ path: "sessions.json", data: doc }]));
    const into = path.join(tmp, "into");
    await mkdir(into);
    await writeFile(path.join(into, "occupied"), "");
    await expect(
      unsealStore({ repositoryId: REPO_ID, file, issueNumber: 7, into }),
    ).rejects.toMatchObject({
      code: "STORE_ARTIFACT_INVALID",
    });
    const fresh = path.join(tmp, "fresh");
    await unsealStore({
      repositoryId: REPO_ID,
      file,
      issueNumber: 7,
      into: fresh,
    });
    expect(await treeOf(fresh)).toEqual({ "sessions.json": doc });
  });
});

describe("names and the latest artifact", () => {
  it("tells issue 1 from issue 12", () => {
    const name = storeArtifactName({ issueNumber: 12, runId: 99, runAttempt: 2 });
    expect(name).toMatch(/^miyabi-store-issue-12-99-2-[0-9a-f]{8}\.store$/);
    expect(isStoreArtifactName(name, 12)).toBe(true);
    expect(isStoreArtifactName(name, 1)).toBe(false);
  });

  const artifact = (over: Partial<RepoArtifact> & { name: string }): RepoArtifact => ({
    id: Math.floor(Math.random() * 1e6),
    sizeInBytes: 10,
    expired: false,
    createdAt: "2026-01-01T00:00:00Z",
    digest: null,
    workflowRun: { id: 1, repositoryId: 5, headRepositoryId: 5 },
    ...over,
  });

  it("picks the newest of this issue from this repository's own runs", async () => {
    const pages: RepoArtifact[][] = [
      [
        artifact({ name: "miyabi-store-issue-70-1-1-aa.store", createdAt: "2026-01-09T00:00:00Z" }),
        artifact({
          name: "miyabi-store-issue-7-9-1-ff.store",
          createdAt: "2026-01-08T00:00:00Z",
          workflowRun: { id: 9, repositoryId: 5, headRepositoryId: 666 },
        }),
        artifact({
          name: "miyabi-store-issue-7-8-1-ee.store",
          createdAt: "2026-01-07T00:00:00Z",
          expired: true,
        }),
        ...Array.from({ length: 97 }, (_, i) => artifact({ name: `other-${i}` })),
      ],
      [
        artifact({ name: "miyabi-store-issue-7-3-1-bb.store", createdAt: "2026-01-03T00:00:00Z" }),
        artifact({ name: "miyabi-store-issue-7-4-1-cc.store", createdAt: "2026-01-04T00:00:00Z" }),
      ],
    ];
    const api: ArtifactApi = { listArtifacts: async (page) => pages[page - 1] ?? [] };
    const found = await findLatestStoreArtifact(api, { issueNumber: 7 });
    expect(found?.name).toBe("miyabi-store-issue-7-4-1-cc.store");
    expect(await findLatestStoreArtifact(api, { issueNumber: 8 })).toBeUndefined();
    expect(await findLatestStoreArtifact(api, { issueNumber: 7, maxPages: 1 })).toBeUndefined();
  });
});

/**
 * The real client in a child process under `node`, with the environment a job step has
 * (the library reads GITHUB_API_URL when it is first imported).
 */
function childClient(node: string, env: () => Record<string, string>): ArtifactTransfer {
  const fixture = fileURLToPath(new URL("./fixtures/artifact-client.mjs", import.meta.url));
  const call = async (op: keyof ArtifactTransfer, args: unknown[]) => {
    const { stdout } = await run(node, [fixture, JSON.stringify({ op, args })], {
      env: { ...process.env, ...env() },
      cwd: tmp,
    });
    const line = stdout.trim().split("\n").at(-1) ?? "";
    const result = JSON.parse(line.replace("::artifact-client-result::", "")) as
      | { outcome: "returned"; value: never }
      | { outcome: "threw"; error: { message: string } };
    if (result.outcome === "threw") throw new Error(result.error.message);
    return result.value;
  };
  return {
    uploadArtifact: (...args) => call("uploadArtifact", args),
    downloadArtifact: (...args) => call("downloadArtifact", args),
  };
}

describe.each([
  ["Node 20", process.execPath],
  ["Node 24", node24Path()],
])("through the real @actions/artifact client under %s", (_label, node) => {
  it("uploads a sealed store in one run and a later run finds and restores it", async (t) => {
    const server = await startArtifactServer({ run: { repositoryId: 5 } });
    const stub = await startGitHubStub({ owner: "octo", repo: "widgets", artifacts: server.rest });
    t.onTestFinished(async () => {
      await stub.close();
      await server.close();
    });
    const client = childClient(node, () => ({ ...server.env(), GITHUB_API_URL: stub.url }));
    const api = octokitArtifactApi(
      getOctokit("ghs_test", { baseUrl: stub.url }),
      "octo",
      "widgets",
    );
    const where = {
      api,
      client,
      token: "ghs_test",
      owner: "octo",
      repo: "widgets",
      issueNumber: 7,
      repositoryId: REPO_ID,
      tempDir: tmp,
    };
    // Nothing uploaded yet: no artifact, nothing restored.
    expect(
      await restoreStoreFromArtifact({ ...where, into: path.join(tmp, "none") }),
    ).toBeUndefined();

    const { dir } = await makeStore();
    const saved = await saveStoreArtifact({
      repositoryId: REPO_ID,
      client,
      storeDir: dir,
      issueNumber: 7,
      storeKey: KEY,
      runId: 1,
      runAttempt: 1,
      retentionDays: 3,
      tempDir: tmp,
    });
    expect(saved).toMatchObject({ sealed: true, leftOut: [] });
    expect(server.artifacts()).toMatchObject([{ id: saved.id, name: saved.name }]);
    expect(server.artifacts()[0]?.expiresAt).not.toBeNull();

    // A week later: the cache entry is gone, and a fork's run planted a newer artifact.
    server.startRun({ headRepositoryId: 666 });
    const planted = path.join(
      tmp,
      "planted",
      storeArtifactName({ issueNumber: 7, runId: 2, runAttempt: 1 }),
    );
    await mkdir(path.dirname(planted));
    await writeFile(planted, craft([{ path: "sessions.json", data: "{}" }]));
    await uploadStoreArtifact({ client, file: planted });
    server.startRun();

    const into = path.join(tmp, "restored");
    const restored = await restoreStoreFromArtifact({ ...where, storeKey: KEY, into });
    expect(restored).toMatchObject({ sealed: true, artifact: { id: saved.id } });
    const original = await treeOf(dir);
    delete original["sessions.json.tmp-123"];
    delete original["sessions.lock"];
    expect(await treeOf(into)).toEqual(original);
    // Without the key the sealed artifact is refused, not skipped.
    await expect(
      restoreStoreFromArtifact({ ...where, into: path.join(tmp, "nokey") }),
    ).rejects.toMatchObject({
      code: "STORE_KEY_REQUIRED",
    });
    // The temporary downloads are gone.
    expect((await readdir(tmp)).filter((n) => n.startsWith("miyabi-artifact-"))).toEqual([]);

    const latest = await findLatestStoreArtifact(api, { issueNumber: 7 });
    if (!latest) throw new Error("no artifact found");
    const uploaded = { id: saved.id };
    // Altered in storage: the digest GitHub recorded at upload no longer matches.
    const content = server.content(uploaded.id) ?? Buffer.alloc(0);
    content[content.length - 1] = (content[content.length - 1] ?? 0) ^ 1;
    await expect(
      downloadStoreArtifact({ ...where, artifact: latest, into: path.join(tmp, "download-2") }),
    ).rejects.toMatchObject({ code: "STORE_ARTIFACT_TAMPERED" });
  });
});

it("says which transfer failed and why, cause first", async (t) => {
  const server = await startArtifactServer();
  t.onTestFinished(() => server.close());
  const client = childClient(process.execPath, () => server.env());
  const { file } = await sealed();
  server.setFaults({ rpcErrors: { CreateArtifact: "permission_denied" } });
  const error = await uploadStoreArtifact({ client, file }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StoreArtifactError);
  expect(error).toMatchObject({ code: "STORE_ARTIFACT_TRANSFER_FAILED" });
  expect((error as Error).message).toMatch(
    /^Failed to CreateArtifact: .*403.*the upload of the store artifact/,
  );
  expect(server.artifacts()).toEqual([]);
});
