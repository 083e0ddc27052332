import type { ArtifactTransfer } from "./store-artifact.js";

/*
 * @actions/artifact brings archiver, unzip-stream and its share of the Azure SDK. Only a job
 * that ran a phase (or lost its cache entry) moves an artifact, so the module loads on first
 * use, from a chunk of its own, as the cache client does (lazy-cache.ts).
 */
const load = () => import("./artifact-client.js").then((m) => m.artifactClient());

/** The artifact client, loaded when first called. */
export const lazyArtifactClient: ArtifactTransfer = {
  uploadArtifact: async (...args) => (await load()).uploadArtifact(...args),
  downloadArtifact: async (...args) => (await load()).downloadArtifact(...args),
};
