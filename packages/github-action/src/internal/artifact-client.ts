import { DefaultArtifactClient } from "@actions/artifact";
import type { ArtifactTransfer } from "./store-artifact.js";

/** @actions/artifact's client, as the job's environment configures it. */
export function artifactClient(): ArtifactTransfer {
  return new DefaultArtifactClient();
}
