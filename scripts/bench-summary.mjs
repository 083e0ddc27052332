// `pnpm bench`: runs every package's benchmark once (each prints its own tables as it goes),
// then prints one table with each figure beside its reference. Figures, not tests: nothing is
// asserted. Each bench appends its figures as a JSON line to the file in BENCH_JSON.
//   BENCH_SIZES  store sizes for the store and command benches (default 1000,10000,100000)
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-bench-summary-"));
const json = path.join(dir, "figures.jsonl");

const BENCHES = [
  ["core", ["--expose-gc", "bench/store.bench.mjs"]],
  ["cli", ["bench/commands.bench.mjs"]],
  ["cli", ["bench/startup.bench.mjs"]],
  ["cli", ["bench/run-overhead.bench.mjs"]],
  ["github-action", ["bench/job-overhead.bench.mjs"]],
];

try {
  for (const [pkg, args] of BENCHES) {
    console.log(`\n=== packages/${pkg}: node ${args.join(" ")}`);
    const r = spawnSync(process.execPath, args, {
      cwd: path.join(root, "packages", pkg),
      env: { ...process.env, BENCH_JSON: json },
      stdio: "inherit",
    });
    if (r.status !== 0) throw new Error(`packages/${pkg} ${args.at(-1)} exited ${r.status}`);
  }
  const figures = Object.fromEntries(
    (await fs.readFile(json, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .map((f) => [f.bench, f]),
  );
  console.log("\nSummary: each figure beside its reference (medians, ms unless noted)");
  console.table(summary(figures));
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}

function summary({ store, commands, startup, run, bundle }) {
  const k = (n) => `${n / 1000}k`;
  const x = (a, b) => `${(a / b).toFixed(2)}x`;
  const rows = [];
  for (const r of store.rows) {
    const n = k(r.sessions);
    rows.push(
      {
        figure: `handoff, ${n}`,
        ours: r["handoff ms (x floor)"],
        reference: `fsync floor ${r["fsync floor ms"]}`,
      },
      {
        figure: `create (in process), ${n}`,
        ours: r["create ms (x floor)"],
        reference: `fsync floor ${r["fsync floor ms"]}`,
      },
      { figure: `getStats, ${n}`, ours: r["stats ms (x seed)"], reference: "seed crate" },
      {
        figure: `lineage of 1,001, ${n}`,
        ours: r["lineage(1001) ms (x seed)"],
        reference: "seed crate",
      },
      { figure: `listActive, ${n}`, ours: r["listActive ms (x seed)"], reference: "seed crate" },
      { figure: `store bench peak RSS MB, ${n}`, ours: r["peak RSS MB"], reference: "" },
    );
  }
  const [small] = commands.rows;
  for (const r of commands.rows) {
    const n = k(r.sessions);
    rows.push(
      {
        figure: `stats process, ${n}`,
        ours: `${r.stats.toFixed(0)} (${x(r.stats, small.stats)})`,
        reference: `at ${k(small.sessions)}: ${small.stats.toFixed(0)}`,
      },
      {
        figure: `create process, ${n}`,
        ours: `${r.create.toFixed(0)} (${x(r.create, small.create)})`,
        reference: `at ${k(small.sessions)}: ${small.create.toFixed(0)}`,
      },
      {
        figure: `stats process peak RSS MB, ${n}`,
        ours: r["stats peak MB"].toFixed(0),
        reference: "target < 200",
      },
    );
  }
  const [bare, stats] = startup.rows;
  rows.push(
    {
      figure: `stats process, 10 sessions (Node ${startup.node})`,
      ours: `${stats.ms.toFixed(0)} (${x(stats.ms, bare.ms)})`,
      reference: `node -e 0: ${bare.ms.toFixed(0)}`,
    },
    {
      figure: "run, scripted model",
      ours: `${run.ours.toFixed(0)} (+${(run.ours - run.bare).toFixed(0)})`,
      reference:
        `bare claude -p: ${run.bare.toFixed(0)}` +
        (run.jailed == null ? "" : `; in a jail: ${run.jailed.toFixed(0)}`),
    },
    {
      figure: "action bundle cold start (Node 24)",
      ours: `${bundle.bundle.toFixed(0)} (${x(bundle.bundle, bundle.bare)})`,
      reference: `node24 -e "": ${bundle.bare.toFixed(0)}`,
    },
  );
  return rows;
}
