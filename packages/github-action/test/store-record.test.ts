/**
 * The store's record beyond the cache, wired into a job: real sealing and checks, the job's
 * fakes for the cache, GitHub and the runner, and an in-memory artifact service. The real
 * @actions/artifact client and service stand-in are in store-artifact.test.ts and the e2e.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPhaseJob, SessionsNotRestoredError, StoreArtifactError } from "../src/index.js";
import type {
  ArtifactApi,
  ArtifactTransfer,
  RepoArtifact,
} from "../src/internal/store-artifact.js";
import type { StoreArtifacts } from "../src/internal/store-record.js";
import { fakeRunner, type JobRun, job, type World, world } from "./fakes.js";
import { removeScratch } from "./harness.js";

const STORE_KEY = "unit-store-key-0123456789";

/** Artifacts as the service keeps them: bytes by id, listed newest first. */
class FakeArtifacts implements StoreArtifacts {
  readonly stored: { id: number; name: string; data: Buffer; createdAt: string }[] = [];
  listFault: Error | undefined;

  readonly client = {
    uploadArtifact: async (name: string, files: string[]) => {
      const data = await readFile(files[0] as string);
      const id = this.stored.length + 1;
      const createdAt = new Date(Date.UTC(2026, 0, 1, 0, id)).toISOString();
      this.stored.push({ id, name, data, createdAt });
      return { id, size: data.length };
    },
    downloadArtifact: async (id: number, options?: { path?: string }) => {
      const found = this.stored.find((a) => a.id === id);
      if (!found || !options?.path) throw new Error(`no artifact ${id}`);
      await mkdir(options.path, { recursive: true });
      await writeFile(path.join(options.path, found.name), found.data);
      return { downloadPath: options.path, digestMismatch: false };
    },
  } as unknown as ArtifactTransfer;

  readonly api: ArtifactApi = {
    listArtifacts: async (page) => {
      if (this.listFault) throw this.listFault;
      if (page > 1) return [];
      return [...this.stored].reverse().map(
        (a): RepoArtifact => ({
          id: a.id,
          name: a.name,
          sizeInBytes: a.data.length,
          expired: false,
          createdAt: a.createdAt,
          digest: null,
          workflowRun: { id: 1, repositoryId: 42, headRepositoryId: 42 },
        }),
      );
    },
  };
}

let w: World;
let artifacts: FakeArtifacts;

afterAll(removeScratch);
beforeEach(async () => {
  w = await world();
  artifacts = new FakeArtifacts();
});
afterEach(async () => {
  await w.cleanup();
});

async function recordJob(inputs: Record<string, string>, runner = fakeRunner().runner) {
  const j = await job(w, inputs, { runner, artifacts });
  j.options.context = { ...j.options.context, repositoryId: "42" };
  return j;
}

const run = (j: JobRun) => runPhaseJob(j.options);

describe("the store as a workflow artifact", () => {
  it("each phase keeps a sealed artifact; with the cache entry gone the next phase restores it and says so", async () => {
    const first = await run(await recordJob({ phase: "codegen", "store-key": STORE_KEY }));
    expect(artifacts.stored).toHaveLength(1);
    expect(artifacts.stored[0]?.name).toMatch(/^miyabi-store-issue-7-100-1-[0-9a-f]{8}\.store$/);
    // Sealed: the session's words are not readable in the artifact.
    expect(artifacts.stored[0]?.data.includes("codegen done")).toBe(false);
    expect(w.summaries[0]).toContain(
      `Also kept as the sealed workflow artifact \`${artifacts.stored[0]?.name}\``,
    );
    expect(w.summaries[0]).not.toContain("kept out of the workflow artifact");

    w.cache.entries.clear();
    const { runner, calls } = fakeRunner();
    const j = await recordJob(
      { phase: "review", "store-key": STORE_KEY, "cache-key": first["cache-key"] },
      runner,
    );
    const second = await run(j);
    expect(second.status).toBe("success");
    expect(second["parent-session-id"]).toBe(first["session-id"]);
    expect(calls.map((c) => c.step)).toEqual(["review"]);
    expect(w.summaries[1]).toContain(
      `they were restored from the workflow artifact \`${artifacts.stored[0]?.name}\``,
    );
    expect(j.log.lines).toContain(
      `The cache had no entry: restored the sessions from the workflow artifact ${artifacts.stored[0]?.name} (sealed).`,
    );
    expect(artifacts.stored).toHaveLength(2);
  });

  it("without store-key the artifact is not sealed, carries no transcripts, and the summary says so", async () => {
    const { runner } = fakeRunner();
    const j = await recordJob({ phase: "codegen" }, runner);
    await run(j);
    const data = artifacts.stored[0]?.data ?? Buffer.alloc(0);
    expect(data.subarray(0, 8).toString()).toBe("MIYABIST");
    expect(data[9]).toBe(0);
    expect(w.summaries[0]).toMatch(
      /Transcripts and logs were kept out of the workflow artifact miyabi-store-issue-7-\S+ \(no store-key\): \d+ files\. A resume from the artifact starts a fresh conversation/,
    );
    expect(w.github.comments[0]?.body).toContain("kept out of the workflow artifact");
  });

  it("a comment on an issue whose cache entries are all gone continues from the artifact", async () => {
    const first = await run(await recordJob({ phase: "codegen", "store-key": STORE_KEY }));
    w.cache.entries.clear();
    const j = await recordJob({ "store-key": STORE_KEY });
    j.options.event = {
      name: "issue_comment",
      issueNumber: 7,
      payload: {
        action: "created",
        issue: { number: 7 },
        comment: { id: 55, body: "/miyabi", user: { login: "alice", type: "User" } },
        sender: { login: "alice" },
      },
    };
    const next = await run(j);
    expect(next["parent-session-id"]).toBe(first["session-id"]);
  });

  it("a labelled first phase with no cache entry starts a new store without listing artifacts", async () => {
    await run(await recordJob({ phase: "codegen", "store-key": STORE_KEY }));
    w.cache.entries.clear();
    artifacts.listFault = new Error("must not be called");
    const first = await run(await recordJob({ phase: "codegen", "store-key": STORE_KEY }));
    expect(first.status).toBe("success");
    expect(first["parent-session-id"]).toBe("");
  });

  it("a tampered artifact is refused: nothing is restored or run", async () => {
    const first = await run(await recordJob({ phase: "codegen", "store-key": STORE_KEY }));
    const stored = artifacts.stored[0];
    if (!stored) throw new Error("no artifact");
    stored.data[stored.data.length - 20] = (stored.data[stored.data.length - 20] ?? 0) ^ 1;
    w.cache.entries.clear();
    const { runner, calls } = fakeRunner();
    const j = await recordJob(
      { phase: "review", "store-key": STORE_KEY, "cache-key": first["cache-key"] },
      runner,
    );
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreArtifactError);
    expect(error).toMatchObject({ code: "STORE_ARTIFACT_TAMPERED" });
    expect((error as Error).message).toMatch(/failed authentication.*Nothing was restored\./);
    expect(calls).toEqual([]);
    expect(artifacts.stored).toHaveLength(1);
  });

  it("another store-key is refused as such", async () => {
    const first = await run(await recordJob({ phase: "codegen", "store-key": STORE_KEY }));
    w.cache.entries.clear();
    const j = await recordJob({
      phase: "review",
      "store-key": "another-key-0123456789",
      "cache-key": first["cache-key"],
    });
    await expect(run(j)).rejects.toMatchObject({ code: "STORE_KEY_MISMATCH" });
  });

  it("no artifact either: the job fails saying both are gone; a listing it may not make names the permission", async () => {
    const j = await recordJob({ phase: "review", "cache-key": "miyabi-sessions-issue-7-1-1-1-x" });
    const error = await run(j).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionsNotRestoredError);
    expect((error as Error).message).toContain("and the issue has no store artifact either");

    artifacts.listFault = new Error("Resource not accessible by integration");
    const denied = await recordJob({
      phase: "review",
      "cache-key": "miyabi-sessions-issue-7-1-1-1-x",
    });
    await expect(run(denied)).rejects.toThrow(
      /^Resource not accessible by integration: could not list the repository's workflow artifacts .* `permissions: actions: read`/,
    );
  });

  it("artifact-retention-days 0 keeps none and looks none up", async () => {
    await run(await recordJob({ phase: "codegen", "artifact-retention-days": "0" }));
    expect(artifacts.stored).toEqual([]);
    expect(w.summaries[0]).not.toContain("workflow artifact");
    artifacts.listFault = new Error("must not be called");
    const j = await recordJob({
      phase: "review",
      "artifact-retention-days": "0",
      "cache-key": "miyabi-sessions-issue-7-1-1-1-x",
    });
    await expect(run(j)).rejects.toThrow(/^The previous phase's sessions are not in the cache/);
  });

  it("an upload that fails is reported after the phase, then fails the job", async () => {
    artifacts.client.uploadArtifact = async () => {
      throw new Error("Failed to CreateArtifact: 403 Forbidden");
    };
    const j = await recordJob({ phase: "codegen", "store-key": STORE_KEY });
    await expect(run(j)).rejects.toMatchObject({ code: "STORE_ARTIFACT_TRANSFER_FAILED" });
    expect(j.outputs?.status).toBe("failed");
    expect(j.outputs?.["cache-key"]).not.toBe("");
    expect(w.summaries[0]).toContain("Failed to CreateArtifact: 403 Forbidden");
  });
});
