// Whole-process cost of one-shot commands as the store grows: `miyabi-sessions stats` and
// `create` on stores of 1k, 10k and 100k sessions (BENCH_SIZES), each beside the same command
// at the smallest size, with the peak memory (max RSS, from /usr/bin/time) of `stats`.
// Medians of alternating runs. Prints figures; asserts nothing.
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { generate } from "../../core/bench/sessions.mjs";
import { serializeDocument } from "../../core/dist/internal/document.js";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const bin = new URL("../dist/cli.mjs", import.meta.url).pathname;
const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-commands-bench-")));
const env = { ...process.env, NO_COLOR: "1" };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall time (ms) and max RSS (MB) of one command run under /usr/bin/time. */
function timed(args) {
  const start = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, bin, ...args], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const kb = Number(r.stderr.trim().split("\n").at(-1));
  return { ms, mb: kb / 1024 };
}

const rows = [];
try {
  for (const n of SIZES) {
    const dir = path.join(root, `store-${n}`);
    await fs.mkdir(dir);
    // A store as the seed writes it; the first command takes it over, untimed.
    await fs.writeFile(path.join(dir, "sessions.json"), serializeDocument(generate(n).sessions));
    timed(["--dir", dir, "stats"]);
    const stats = [];
    const create = [];
    for (let i = 0; i < RUNS; i++) {
      stats.push(timed(["--dir", dir, "stats"]));
      create.push(timed(["--dir", dir, "create", "--agent", "BenchAgent", "--purpose", `b${i}`]));
    }
    rows.push({
      sessions: n,
      stats: median(stats.map((s) => s.ms)),
      create: median(create.map((s) => s.ms)),
      "stats peak MB": median(stats.map((s) => s.mb)),
    });
    await fs.rm(dir, { recursive: true, force: true });
  }
} finally {
  await fs.rm(root, { recursive: true, force: true });
}

const [first] = rows;
console.log(`\nOne-shot commands by store size (${RUNS} alternating runs, medians)`);
console.table(
  rows.map((r) => ({
    sessions: r.sessions,
    "stats ms (x smallest)": `${r.stats.toFixed(0)} (${(r.stats / first.stats).toFixed(2)}x)`,
    "create ms (x smallest)": `${r.create.toFixed(0)} (${(r.create / first.create).toFixed(2)}x)`,
    "stats peak RSS MB": r["stats peak MB"].toFixed(0),
  })),
);
console.log("targets: stats and create at 100k within 1.5x of 1k; peak memory under 200 MB");
if (process.env.BENCH_JSON) {
  await fs.appendFile(process.env.BENCH_JSON, `${JSON.stringify({ bench: "commands", rows })}\n`);
}
