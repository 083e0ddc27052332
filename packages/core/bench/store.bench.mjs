// Store benchmark: `pnpm bench` (after a build). Prints figures; asserts nothing.
// For stores of 1k, 10k and 100k sessions: open, create, handoff, lineage of a 1,000-deep chain,
// stats and listActive, and what the seed's way (rewrite the whole file four times per handoff)
// would cost at that size.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SessionStore, serializeDocument } from "../dist/index.js";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const CHAIN = 1000;

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

/** n sessions: a 1,000-deep handoff chain, the rest in chains of four (the last Active). */
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

async function time(fn, reps) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / 1e6 / reps;
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);

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

  let store;
  const open = await time(async () => {
    await store?.close();
    store = await SessionStore.open({ dir });
  }, 3);
  globalThis.gc?.();
  const heapStore = process.memoryUsage().heapUsed - heapBefore;

  const roots = [];
  const create = await time(async (i) => {
    roots.push(
      await store.create({
        agentName: "CodeGenAgent",
        purpose: `bench ${i}`,
        context: { issueNumber: 1 },
      }),
    );
  }, 200);
  let cursor = roots[0];
  const handoff = await time(async (i) => {
    cursor = await store.handoff(cursor, { toAgent: i % 2 ? "ReviewAgent" : "TestAgent" });
  }, 200);
  const lineage = await time(async () => {
    const l = await store.getLineage(leaf);
    if (l.length !== CHAIN) throw new Error(`lineage has ${l.length} sessions`);
  }, 20);
  const stats = await time(() => store.getStats(), 20);
  const active = await time(() => store.listActive(), 5);
  const close = await time(() => store.close(), 1);
  clearInterval(sampler);

  // The seed rewrites the whole file in place four times per handoff.
  const file = path.join(dir, "seed-style.json");
  const seedHandoff = await time(async () => {
    for (let k = 0; k < 4; k++) await fs.writeFile(file, serializeDocument(sessions));
  }, 3);
  await fs.rm(dir, { recursive: true, force: true });
  rows.push({
    sessions: n,
    "file MB": mb(text.length),
    "open ms": fmt(open),
    "create ms/op": fmt(create),
    "handoff ms/op": fmt(handoff),
    "lineage(1000) ms": fmt(lineage),
    "stats ms": fmt(stats),
    "listActive ms": fmt(active),
    "close ms": fmt(close),
    "heap MB": mb(heapStore),
    "peak RSS MB": mb(peakRss),
    "seed-style handoff ms": fmt(seedHandoff),
  });
}

console.log("\nSession store benchmark (handoff and create include an fsync of the journal)");
console.table(rows);
const first = rows[0];
const last = rows.at(-1);
if (first && last && first !== last) {
  const ratio = Number(last["handoff ms/op"]) / Number(first["handoff ms/op"]);
  console.log(
    `handoff at ${last.sessions} vs ${first.sessions} sessions: ${ratio.toFixed(2)}x (target <= 3x); open ${last.sessions}: ${last["open ms"]} ms (target < 1000 ms)`,
  );
}
