// Start-up of a record-only command: `miyabi-sessions stats` on a small store next to
// `node -e 0`, run alternately, medians. Prints figures; asserts nothing.
//   BENCH_RUNS   runs of each (default 21)
//   BENCH_NODE   the node binary to time with (default this one), e.g. Node 24 for the
//                compile cache
//   BENCH_BEFORE another build of the CLI to time beside this one (e.g. an older bundle)
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const node = process.env.BENCH_NODE ?? process.execPath;
const bin = new URL("../dist/cli.mjs", import.meta.url).pathname;
const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-startup-bench-")));
const store = path.join(root, "store");
const env = { ...process.env, NO_COLOR: "1" };

function timed(args) {
  const start = process.hrtime.bigint();
  const r = spawnSync(node, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

for (let i = 0; i < 10; i++) {
  timed([bin, "--dir", store, "create", "--agent", "BenchAgent", "--purpose", `session ${i}`]);
}

const cases = [
  ["node -e 0", ["-e", "0"]],
  ["miyabi-sessions stats", [bin, "--dir", store, "stats"]],
];
if (process.env.BENCH_BEFORE) {
  cases.push(["before: stats", [process.env.BENCH_BEFORE, "--dir", store, "stats"]]);
}
// Warm the page cache and the compile cache once.
for (const [, args] of cases) timed(args);
const samples = cases.map(() => []);
for (let i = 0; i < RUNS; i++) {
  for (const [j, [, args]] of cases.entries()) samples[j].push(timed(args));
}
await fs.rm(root, { recursive: true, force: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples[0]);
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
console.log(
  `\nStart-up on a 10-session store, Node ${version} (${RUNS} alternating runs, medians)`,
);
console.table(
  cases.map(([name], j) => ({
    command: name,
    "median ms": median(samples[j]).toFixed(1),
    "vs node -e 0": `${(median(samples[j]) / base).toFixed(2)}x`,
  })),
);
console.log("target: stats <= 1.5x node -e 0");
// The root bench summary (scripts/bench-summary.mjs) collects every bench's figures here.
if (process.env.BENCH_JSON) {
  const rows = cases.map(([name], j) => ({ command: name, ms: median(samples[j]) }));
  await fs.appendFile(
    process.env.BENCH_JSON,
    `${JSON.stringify({ bench: "startup", node: version, rows })}\n`,
  );
}
