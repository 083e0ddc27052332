// Store benchmark: `pnpm bench` (after a build). Prints figures beside their references;
// asserts nothing. For stores of 1k, 10k and 100k sessions (BENCH_SIZES): open, create, handoff
// beside the durable floor (one write + fdatasync on an open file in the same directory,
// measured alternately in this process), the in-process reads beside the seed crate's figures
// from issue #13, close, memory, and what the seed's way of writing would cost at that size.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SessionStore } from "../dist/index.js";
import { serializeDocument } from "../dist/internal/document.js";
import { CHAIN, generate } from "./sessions.mjs";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
// The seed crate's in-process figures (ms) from issue #13, measured on the same kind of machine.
const SEED = {
  stats: { 1000: 0.014, 10000: 0.156 },
  lineage: { 1000: 0.36, 10000: 0.36 },
  listActive: { 1000: 0.195 },
};

const now = () => process.hrtime.bigint();
const ms = (ns) => Number(ns) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function sample(fn, reps) {
  const out = [];
  for (let i = 0; i < reps; i++) {
    const start = now();
    await fn(i);
    out.push(ms(now() - start));
  }
  return median(out);
}

/** The durable floor: append one handoff-sized line to an open file and fdatasync it. */
async function floorFile(dir) {
  const handle = await fs.open(path.join(dir, "floor.bin"), "a");
  const line = Buffer.alloc(1200, 0x61);
  return {
    once: async () => {
      await handle.write(line);
      await handle.datasync();
    },
    close: () => handle.close(),
  };
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);
const beside = (ours, ref) =>
  ref === undefined ? fmt(ours) : `${fmt(ours)} (${fmt(ours / ref)}x)`;

const rows = [];
for (const n of SIZES) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-bench-"));
  const { sessions, leaf } = generate(n);
  const text = serializeDocument(sessions);
  await fs.writeFile(path.join(dir, "sessions.json"), text);
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 5);

  // First open of a file someone else wrote (full validation; a large one is compacted then), then
  // of our own compacted file.
  let t = now();
  let store = await SessionStore.open({ dir });
  const openForeign = ms(now() - t);
  await store.compact();
  await store.close();
  // A store opens lazily (the journal header's summary); the first read that needs every
  // session loads them, so "own" is the open plus that first read.
  const some = sessions[Math.floor(n / 2)].id;
  t = now();
  store = await SessionStore.open({ dir });
  await store.getSession(some);
  const openOwn = ms(now() - t);
  globalThis.gc?.();
  const heapStore = process.memoryUsage().heapUsed - heapBefore;

  // Leave the open's garbage out of the per-call figures.
  globalThis.gc?.();
  // Each change alternates with one floor sample, so both see the same disk and load.
  const floor = await floorFile(dir);
  const floors = [];
  // Median time, and median ratio to the floor sample taken just before (robust to the disk's
  // latency drifting during the run).
  const alternate = async (reps, change) => {
    const out = [];
    const ratios = [];
    for (let i = 0; i < reps; i++) {
      let start = now();
      await floor.once();
      const f = ms(now() - start);
      floors.push(f);
      start = now();
      await change(i);
      const t = ms(now() - start);
      out.push(t);
      ratios.push(t / f);
    }
    return { ms: median(out), ratio: median(ratios) };
  };
  const roots = [];
  const create = await alternate(200, async (i) => {
    roots.push(
      await store.create({
        agentName: "CodeGenAgent",
        purpose: `bench ${i}`,
        context: { issueNumber: 1 },
      }),
    );
  });
  let cursor = roots[0];
  const handoff = await alternate(300, async (i) => {
    cursor = await store.handoff(cursor, { toAgent: i % 2 ? "ReviewAgent" : "TestAgent" });
  });
  await floor.close();
  const fsyncFloor = median(floors);
  const get = await sample(() => store.getSession(some), 200);
  const lineage = await sample(async () => {
    const l = await store.getLineage(leaf);
    if (l.length !== CHAIN) throw new Error(`lineage has ${l.length} sessions`);
  }, 50);
  const stats = await sample(() => store.getStats(), 200);
  const active = await sample(() => store.listActive(), 20);
  t = now();
  await store.close();
  const close = ms(now() - t);
  clearInterval(sampler);

  // The seed rewrites the whole file in place four times per handoff.
  const file = path.join(dir, "seed-style.json");
  const seedHandoff = await sample(async () => {
    for (let k = 0; k < 4; k++) await fs.writeFile(file, serializeDocument(sessions));
  }, 3);
  await fs.rm(dir, { recursive: true, force: true });
  rows.push({
    sessions: n,
    "file MB": mb(text.length),
    "open foreign/own ms": `${fmt(openForeign)} / ${fmt(openOwn)}`,
    "fsync floor ms": fmt(fsyncFloor),
    "handoff ms (x floor)": `${fmt(handoff.ms)} (${fmt(handoff.ratio)}x)`,
    "create ms (x floor)": `${fmt(create.ms)} (${fmt(create.ratio)}x)`,
    "getSession ms": fmt(get),
    "stats ms (x seed)": beside(stats, SEED.stats[n]),
    "lineage(1001) ms (x seed)": beside(lineage, SEED.lineage[n]),
    "listActive ms (x seed)": beside(active, SEED.listActive[n]),
    "close ms": fmt(close),
    "heap MB": mb(heapStore),
    "peak RSS MB": mb(peakRss),
    "seed-style handoff ms": fmt(seedHandoff),
  });
}

console.log(
  "\nSession store benchmark: medians; handoff/create beside the fsync floor (one write + fdatasync) measured alternately in this process (x = median of per-pair ratios), reads beside the seed crate's figures (issue #13)",
);
console.table(rows);
// The root bench summary (scripts/bench-summary.mjs) collects every bench's figures here.
if (process.env.BENCH_JSON) {
  await fs.appendFile(process.env.BENCH_JSON, `${JSON.stringify({ bench: "store", rows })}\n`);
}
