import { messageOf, StoreArtifactError } from "./errors.js";
import type { ActionInputs } from "./inputs.js";
import type { Logger } from "./ports.js";
import {
  type ArtifactApi,
  type ArtifactTransfer,
  restoreStoreFromArtifact,
  STORE_ARTIFACT_PREFIX,
  saveStoreArtifact,
} from "./store-artifact.js";
import type { StoreFallback } from "./store-cache.js";

/*
 * The store's record beyond the cache: each phase keeps it as a workflow artifact (sealed with
 * `store-key`), and a job whose cache entry is gone restores the issue's newest artifact. The
 * sealing, finding and checking live in store-artifact.ts; this is what a job does with them.
 */

/** The artifact service and the REST listing; run() fills it (the client loads on first use). */
export interface StoreArtifacts {
  client: ArtifactTransfer;
  api: ArtifactApi;
}

export interface RecordOptions {
  inputs: Pick<ActionInputs, "githubToken" | "storeKey" | "artifactRetentionDays">;
  /** Absent: no artifact is kept or looked up. */
  artifacts?: StoreArtifacts;
  context: {
    /** "owner/repo". */
    repository: string;
    /** GITHUB_REPOSITORY_ID, which a seal is bound to. */
    repositoryId?: string;
    runId: number;
    runAttempt: number;
  };
  tempDir: string;
  log: Logger;
}

/** Artifacts are kept and looked up unless turned off (retention 0) or unavailable. */
function artifactsOf(o: RecordOptions): StoreArtifacts | undefined {
  return o.inputs.artifactRetentionDays === 0 ? undefined : o.artifacts;
}

function repositoryIdOf(o: RecordOptions, issueNumber: number): string {
  if (o.context.repositoryId) return o.context.repositoryId;
  throw new StoreArtifactError(
    "STORE_ARTIFACT_INVALID",
    `${STORE_ARTIFACT_PREFIX}${issueNumber}`,
    "GITHUB_REPOSITORY_ID is not set, and a store artifact is bound to the repository's id. Run the action in a GitHub Actions job, or set artifact-retention-days to 0 to keep no artifact.",
  );
}

/** The listing, with a failure that says which permission it needs. */
function listingApi(api: ArtifactApi, issueNumber: number): ArtifactApi {
  return {
    async listArtifacts(page) {
      try {
        return await api.listArtifacts(page);
      } catch (error) {
        throw new StoreArtifactError(
          "STORE_ARTIFACT_TRANSFER_FAILED",
          `${STORE_ARTIFACT_PREFIX}${issueNumber}`,
          `${messageOf(error)}: could not list the repository's workflow artifacts to find the store of issue #${issueNumber}, whose cache entry is gone. Give the workflow \`permissions: actions: read\` and re-run the job, or start the pipeline again from its first phase. Nothing was run.`,
          { cause: error },
        );
      }
    },
  };
}

/**
 * restoreStore's fallback: the issue's newest store artifact, verified (sealed with this job's
 * store-key, or checked as untrusted input) before anything is written; undefined when
 * artifacts are off.
 */
export function artifactFallback(o: RecordOptions, issueNumber: number): StoreFallback | undefined {
  const artifacts = artifactsOf(o);
  if (!artifacts) return undefined;
  const [owner = "", repo = ""] = o.context.repository.split("/");
  return async (into) => {
    const restored = await restoreStoreFromArtifact({
      api: listingApi(artifacts.api, issueNumber),
      client: artifacts.client,
      token: o.inputs.githubToken,
      owner,
      repo,
      issueNumber,
      repositoryId: repositoryIdOf(o, issueNumber),
      storeKey: o.inputs.storeKey,
      into,
      tempDir: o.tempDir,
    });
    return restored && { name: restored.artifact.name, sealed: restored.sealed };
  };
}

/** The sentence the summary and comment carry when the store came from an artifact. */
export function restoredNote(artifact: { name: string; sealed: boolean }): string {
  const conversation = artifact.sealed
    ? ""
    : " It was not sealed, so it carried no transcripts: agents that resume start a fresh conversation.";
  return `The Actions cache no longer held this issue's sessions; they were restored from the workflow artifact \`${artifact.name}\`.${conversation}`;
}

export interface KeptArtifact {
  /** The artifact uploaded, when one was. */
  name?: string;
  sealed?: boolean;
  /** What the summary and comment must say (files left out of an unsealed artifact). */
  notes: string[];
  /** Why no artifact was kept; reported with the phase's result, then thrown. */
  error?: unknown;
}

/**
 * Upload the store (the redacted copy the cache entry was saved from) as a workflow artifact,
 * sealed with store-key; without it the conversation stays out and the notes say so. A
 * failure is returned, not thrown, so the phase is reported first.
 */
export async function keepStoreArtifact(
  o: RecordOptions,
  f: { storeDir: string | undefined; issueNumber: number },
): Promise<KeptArtifact> {
  const artifacts = artifactsOf(o);
  if (!artifacts) return { notes: [] };
  if (f.storeDir === undefined) {
    // The copy failed: the cache save's error already says why; there is nothing redacted to keep.
    return { notes: [] };
  }
  return o.log.group("Keeping the sessions as a workflow artifact", () =>
    uploadStore(o, artifacts, { storeDir: f.storeDir as string, issueNumber: f.issueNumber }),
  );
}

async function uploadStore(
  o: RecordOptions,
  artifacts: StoreArtifacts,
  f: { storeDir: string; issueNumber: number },
): Promise<KeptArtifact> {
  try {
    const saved = await saveStoreArtifact({
      client: artifacts.client,
      storeDir: f.storeDir,
      issueNumber: f.issueNumber,
      repositoryId: repositoryIdOf(o, f.issueNumber),
      storeKey: o.inputs.storeKey,
      runId: o.context.runId,
      runAttempt: o.context.runAttempt,
      retentionDays: o.inputs.artifactRetentionDays,
      tempDir: o.tempDir,
    });
    if (saved.ignored.length > 0) {
      o.log.info(`Not in the artifact (not store files): ${saved.ignored.join(", ")}.`);
    }
    o.log.info(
      `Kept the sessions as the ${saved.sealed ? "sealed " : ""}workflow artifact ${saved.name} (${saved.files.length} files, ${o.inputs.artifactRetentionDays} days).`,
    );
    const notes = saved.sealed
      ? []
      : [
          `Transcripts and logs were kept out of the workflow artifact ${saved.name} (no store-key): ${saved.leftOut.length} files. A resume from the artifact starts a fresh conversation; pass a secret as the store-key input to seal them in.`,
        ];
    return { name: saved.name, sealed: saved.sealed, notes };
  } catch (error) {
    return { notes: [], error };
  }
}
