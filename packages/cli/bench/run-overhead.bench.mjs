// `miyabi-sessions run` next to a bare `claude -p` on the same scripted model server: the
// difference is what recording a session costs. Where bubblewrap is installed, also `claude -p`
// inside a jail like the run's (no session, no proxy): the part of the difference that is the
// containment itself. Prints figures; asserts nothing.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { claudeBinPath, modelServerEnv, startModelServer } from "@miyabi/testkit";

const BWRAP = "/usr/bin/bwrap";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const bin = new URL("../dist/cli.mjs", import.meta.url).pathname;
const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-run-bench-")));
const server = await startModelServer({ script: () => ({ text: "ok" }) });
const env = {
  ...modelServerEnv(server, { home: path.join(root, "home") }),
  PATH: process.env.PATH ?? "",
};
const claude = claudeBinPath();

// stdin is closed for both: an open stdin pipe makes the CLI wait ~3 s for input.
async function timed(file, args) {
  const start = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`)),
    );
  });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bare = [];
const jailed = [];
const ours = [];
const bareArgs = [
  "-p",
  "--output-format",
  "stream-json",
  "--verbose",
  "--permission-mode=acceptEdits",
  "--",
  "hi",
];
const oursArgs = (purpose) => [
  bin,
  ...["--dir", path.join(root, "store"), "run", "--agent", "A", "--purpose", purpose],
  ...["--prompt", "hi", "--claude", claude, "--worktree", root],
];
// The run's jail, less what needs a session: the whole file system read-only, fresh /dev,
// /proc and /tmp, the working tree writable.
const jailArgs = [
  ...["--ro-bind", "/", "/", "--dev", "/dev", "--unshare-pid", "--proc", "/proc"],
  ...["--die-with-parent", "--new-session", "--tmpfs", "/tmp", "--bind", root, root],
  ...["--chdir", root, "--", claude, ...bareArgs],
];
const hasBwrap = await fs.access(BWRAP).then(
  () => true,
  () => false,
);
// Warm every path once (page cache, first-run setup of the CLI's config dir).
await timed(claude, bareArgs);
if (hasBwrap) await timed(BWRAP, jailArgs);
await timed(process.execPath, oursArgs("warm"));
for (let i = 0; i < RUNS; i++) {
  bare.push(await timed(claude, bareArgs));
  if (hasBwrap) jailed.push(await timed(BWRAP, jailArgs));
  ours.push(await timed(process.execPath, oursArgs(`run ${i}`)));
}
await server.close();
await fs.rm(root, { recursive: true, force: true });
const b = median(bare);
const j = hasBwrap ? median(jailed) : null;
const o = median(ours);
console.log(`\nmiyabi-sessions run vs bare claude -p (scripted model, ${RUNS} runs each, medians)`);
console.table([
  {
    "bare claude -p ms": b.toFixed(0),
    "claude -p in a jail ms": j === null ? "(no bwrap)" : j.toFixed(0),
    "miyabi-sessions run ms": o.toFixed(0),
    "overhead ms": (o - b).toFixed(0),
    ratio: (o / b).toFixed(3),
  },
]);
console.log(`overhead +${(o - b).toFixed(0)} ms (target: bare claude -p + 60 ms)`);
// The root bench summary (scripts/bench-summary.mjs) collects every bench's figures here.
if (process.env.BENCH_JSON) {
  await fs.appendFile(
    process.env.BENCH_JSON,
    `${JSON.stringify({ bench: "run", bare: b, jailed: j, ours: o })}\n`,
  );
}
