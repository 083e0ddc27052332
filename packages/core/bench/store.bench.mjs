// Store benchmark: `pnpm bench` (after a build). Prints figures beside their references;
// asserts nothing. For stores of 1k, 10k and 100k sessions (BENCH_SIZES): open, create, handoff
// beside the durable floor (one write + fdatasync on an open file in the same directory,
// measured alternately in this process), the in-process reads beside the seed crate's figures
// from issue #13, close, memory, and what the seed's way of writing would cost at that size.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SessionStore } from "../dist/index.js";
import { serializeDocument } from "../dist/internal/document.js";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const CHAIN = 1001;
// The seed crate's in-process figures (ms) from issue #13, measured on the same kind of machine.
const SEED = {
  stats: { 1000: 0.014, 10000: 0.156 },
  lineage: { 1000: 0.36, 10000: 0.36 },
  listActive: { 1000: 0.195 },
};

function session(id, parent, i, status) {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return {
    id,
    agent_name: ["CodeGenAgent", "ReviewAgent", "TestAgent", "DeployAgent"][i % 4],
    purpose: `Benchmark session ${i}`,
    context: {
      issue_number: Math.floor(i / 10),
      current_phase: ["CodeGeneration", "Review", "Test", "PullRequest"][i % 4],
      worktree_path: `.worktrees/issue-${Math.floor(i / 10)}`,
      previous_results: [],
    },
    created_at: at,
    status,
    parent_session: parent,
    child_sessions: [],
    handoff_to: null,
    error_message: null,
    updated_at: at,
    ended_at: status === "Active" ? null : at,
    result: null,
    process: null,
    retry_of: null,
  };
}

/** n sessions: a 1,001-deep handoff chain, the rest in chains of four (the last Active). */
function generate(n) {
  const sessions = [];
  let parent = null;
  for (let i = 0; i < CHAIN; i++) {
    const s = session(
      randomUUID(),
      parent?.id ?? null,
      i,
      i === CHAIN - 1 ? "Active" : "HandedOff",
    );
    if (parent) {
      parent.child_sessions.push(s.id);
      parent.handoff_to = s.agent_name;
    }
    sessions.push(s);
    parent = s;
  }
  const leaf = parent.id;
  for (let i = CHAIN; i < n; i++) {
    const first = i % 4 === 0;
    const prev = sessions.at(-1);
    const s = session(
      randomUUID(),
      first ? null : prev.id,
      i,
      i % 4 === 3 ? "Active" : "HandedOff",
    );
    if (!first) {
      prev.child_sessions.push(s.id);
      prev.handoff_to = s.agent_name;
    }
    sessions.push(s);
  }
  return { sessions, leaf };
}

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

  // First open of a file someone else wrote (full validation), then of our own compacted file.
  let t = now();
  let store = await SessionStore.open({ dir });
  const openForeign = ms(now() - t);
  await store.compact();
  await store.close();
  t = now();
  store = await SessionStore.open({ dir });
  const openOwn = ms(now() - t);
  globalThis.gc?.();
  const heapStore = process.memoryUsage().heapUsed - heapBefore;

  const roots = [];
  const create = await sample(async (i) => {
    roots.push(
      await store.create({
        agentName: "CodeGenAgent",
        purpose: `bench ${i}`,
        context: { issueNumber: 1 },
      }),
    );
  }, 200);
  // Leave the open's garbage out of the per-call figures.
  globalThis.gc?.();
  const floor = await floorFile(dir);
  let cursor = roots[0];
  const handoffs = [];
  const floors = [];
  for (let i = 0; i < 300; i++) {
    let start = now();
    await floor.once();
    floors.push(ms(now() - start));
    start = now();
    cursor = await store.handoff(cursor, { toAgent: i % 2 ? "ReviewAgent" : "TestAgent" });
    handoffs.push(ms(now() - start));
  }
  await floor.close();
  const fsyncFloor = median(floors);
  const handoff = median(handoffs);
  const some = sessions[Math.floor(n / 2)].id;
  await store.getSession(some);
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
    "handoff ms (x floor)": beside(handoff, fsyncFloor),
    "create ms (x floor)": beside(create, fsyncFloor),
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
  "\nSession store benchmark: medians; handoff/create beside the fsync floor measured alternately in this process, reads beside the seed crate's figures (issue #13)",
);
console.table(rows);
