import path from "node:path";
import * as cache from "@actions/cache";
// @actions/cache (pinned in package.json) exports only restoreCache, which extracts with
// `tar -P`; its own lookup and download client is reached by path, so the action extracts
// the archive itself (safe-extract.ts).
import {
  downloadCache,
  getCacheEntry,
} from "../../node_modules/@actions/cache/lib/internal/cacheHttpClient.js";
import {
  getCacheVersion,
  getCompressionMethod,
} from "../../node_modules/@actions/cache/lib/internal/cacheUtils.js";
import { getCacheServiceVersion } from "../../node_modules/@actions/cache/lib/internal/config.js";
import { internalCacheTwirpClient } from "../../node_modules/@actions/cache/lib/internal/shared/cacheTwirpClient.js";
import type { Cache, DownloadedEntry, SaveResult } from "./ports.js";
import type { Compression } from "./safe-extract.js";

/**
 * Look up the entry for `paths` (exactly `primaryKey`, else the newest entry starting with a
 * restore key) and download its archive into `dir`, unextracted; undefined on a miss.
 * Service failures throw, their cause in the message.
 */
async function download(
  paths: string[],
  primaryKey: string,
  restoreKeys: string[],
  dir: string,
): Promise<DownloadedEntry | undefined> {
  const compression = (await getCompressionMethod()) as Compression;
  const archive = path.join(dir, compression === "gzip" ? "cache.tgz" : "cache.tzst");
  if (getCacheServiceVersion() === "v2") {
    const response = await internalCacheTwirpClient().GetCacheEntryDownloadURL({
      key: primaryKey,
      restoreKeys,
      version: getCacheVersion(paths, compression as never, false),
    });
    if (!response.ok) return undefined;
    await downloadCache(response.signedDownloadUrl, archive, { useAzureSdk: true });
    return { key: response.matchedKey, archive, compression };
  }
  const entry = await getCacheEntry([primaryKey, ...restoreKeys], paths, {
    compressionMethod: compression as never,
    enableCrossOsArchive: false,
  });
  if (!entry?.archiveLocation || !entry.cacheKey) return undefined;
  await downloadCache(entry.archiveLocation, archive);
  return { key: entry.cacheKey, archive, compression };
}

/** A workflow command line as @actions/core writes it, unescaped. */
function commandText(line: string, command: string): string | undefined {
  const start = `::${command}::`;
  if (!line.startsWith(start)) return undefined;
  return line.slice(start.length).replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%");
}

/*
 * saveCache reports a refused save only by returning -1: its generic warning ("another job may
 * be creating this cache") goes to the log and the cause (ECONNRESET, a 500, a 409) to a debug
 * line. Both are read off what it writes meanwhile, so the job's error can lead with the cause.
 */
async function save(paths: string[], key: string): Promise<SaveResult> {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = function (
    this: typeof process.stdout,
    chunk: unknown,
    ...rest: unknown[]
  ) {
    if (typeof chunk === "string") lines.push(...chunk.split(/\r?\n/));
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  let id: number;
  try {
    id = await cache.saveCache(paths, key);
  } finally {
    process.stdout.write = write;
  }
  if (id !== -1) return { ok: true };
  const debug = lines
    .map((line) => commandText(line, "debug"))
    .filter((text): text is string => text !== undefined);
  const reported = lines
    .map((line) => commandText(line, "warning") ?? commandText(line, "error"))
    .filter((text): text is string => text !== undefined);
  const root = debug
    .filter((text) => /^Failed to (?:reserve|upload|finalize|save)/i.test(text))
    .map((text) => text.replace(/^Failed to \w+ cache: (?:\w*Error: )?/i, ""))
    .at(-1);
  // The root cause when the library logged one; else its own words.
  const parts = root ? [root] : reported.filter((t) => t !== "");
  return {
    ok: false,
    cause: parts.length > 0 ? [...new Set(parts)].join("; ") : "the cache service did not take it",
  };
}

/** The Cache seam over the Actions cache service. */
export const actionsCache: Cache = { download, save };
