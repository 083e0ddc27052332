import type { Cache } from "./ports.js";

/*
 * @actions/cache brings the Azure SDK, protobuf and an XML parser: about a third of the
 * bundle. Most jobs that start (an event that triggers nothing) never touch the cache, so the
 * module loads on first use, from a chunk of its own.
 */
const load = () => import("./actions-cache.js").then((m) => m.actionsCache);

/** The Cache seam over the Actions cache service, loaded when first called. */
export const actionsCache: Cache = {
  download: async (...args) => (await load()).download(...args),
  save: async (...args) => (await load()).save(...args),
};
