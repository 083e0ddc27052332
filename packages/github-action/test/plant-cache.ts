/**
 * An attacker's cache entry: any workflow of the repository can write one, under any key it
 * likes and with any archive, through the same service calls @actions/cache makes. Planted in
 * the testkit's cache server with the version a job computes for `paths`.
 */
import { stat } from "node:fs/promises";
import { saveCache } from "../node_modules/@actions/cache/lib/internal/cacheHttpClient.js";
import {
  getCacheVersion,
  getCompressionMethod,
} from "../node_modules/@actions/cache/lib/internal/cacheUtils.js";
import { internalCacheTwirpClient } from "../node_modules/@actions/cache/lib/internal/shared/cacheTwirpClient.js";

/** Upload `archive` (zstd- or gzip-compressed tar, as the runner's tools would make it). */
export async function plantEntry(
  cacheEnv: Record<string, string>,
  key: string,
  paths: string[],
  archive: string,
): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, cacheEnv);
  try {
    const version = getCacheVersion(paths, await getCompressionMethod(), false);
    const client = internalCacheTwirpClient();
    const created = await client.CreateCacheEntry({ key, version });
    if (!created.ok) throw new Error(`CreateCacheEntry refused ${key}: ${created.message}`);
    await saveCache(-1, archive, created.signedUploadUrl, { useAzureSdk: true });
    const { size } = await stat(archive);
    const done = await client.FinalizeCacheEntryUpload({ key, version, sizeBytes: `${size}` });
    if (!done.ok) throw new Error(`FinalizeCacheEntryUpload refused ${key}`);
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}
