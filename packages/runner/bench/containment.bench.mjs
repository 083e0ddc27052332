// What the agent's containment costs per run and per Bash call, with the real CLI against the
// scripted model server. Usage (after `pnpm turbo run build --filter=@miyabi/runner...`):
//   node bench/containment.bench.mjs [runs]
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SessionStore } from "@miyabi/core";
import { claudeBinPath, modelServerEnv, startModelServer } from "@miyabi/testkit";
import { execa } from "execa";
import { PipelineSchema, probeSandbox, runPhase } from "../dist/index.js";
import { startCredentialProxy } from "../dist/internal/proxy.js";

const runs = Number(process.argv[2] ?? 5);
const BASH_CALLS = 10;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function temp() {
  return fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-bench-")));
}

/** The CLI alone, straight at the model server or through the credential proxy. */
async function direct(viaProxy) {
  const root = await temp();
  const server = await startModelServer({ script: [{ text: "ok" }] });
  const env = { ...modelServerEnv(server, { home: root }), PATH: process.env.PATH };
  const proxy = viaProxy
    ? await startCredentialProxy({
        upstream: server.url,
        credential: { name: "ANTHROPIC_API_KEY", value: env.ANTHROPIC_API_KEY },
      })
    : null;
  if (proxy) Object.assign(env, { ANTHROPIC_BASE_URL: proxy.url, ANTHROPIC_API_KEY: proxy.dummy });
  const started = performance.now();
  await execa(claudeBinPath(), ["-p", "--output-format", "stream-json", "--verbose", "--", "hi"], {
    cwd: root,
    env,
    extendEnv: false,
    stdin: "ignore",
  });
  const ms = performance.now() - started;
  await proxy?.close();
  await server.close();
  await fs.rm(root, { recursive: true, force: true });
  return ms;
}

/** A whole runPhase (store, proxy, snapshot, jail or not), optionally with Bash calls. */
async function phase(sandbox, bashCalls) {
  const root = await temp();
  const repo = path.join(root, "repo");
  await fs.mkdir(repo);
  const script = [
    ...(bashCalls
      ? [
          {
            toolUses: Array.from({ length: bashCalls }, () => ({
              name: "Bash",
              input: { command: "true" },
            })),
          },
        ]
      : []),
    { text: "ok" },
  ];
  const server = await startModelServer({ script });
  const store = await SessionStore.open({ dir: path.join(root, "store") });
  const pipeline = PipelineSchema.parse({
    steps: [{ id: "test", phase: "Test", agent: "TestAgent", allowedTools: ["Bash(true)"] }],
  });
  const started = performance.now();
  const out = await runPhase({
    store,
    issue: { number: 1, title: "bench", body: "bench" },
    pipeline,
    repoDir: repo,
    claude: {
      executable: claudeBinPath(),
      env: modelServerEnv(server, { home: path.join(root, "home") }),
      sandbox,
    },
  });
  const ms = performance.now() - started;
  if (out.status !== "completed")
    throw new Error(`bench run failed: ${out.sessions[0]?.errorMessage}`);
  await store.close();
  await server.close();
  await fs.rm(root, { recursive: true, force: true });
  return ms;
}

const configs = [
  ["CLI alone, straight to the model server", () => direct(false)],
  ["CLI alone, through the credential proxy", () => direct(true)],
  ["runPhase, sandbox off (proxy, env, snapshot)", () => phase("off", 0)],
  ["runPhase, sandbox auto (bwrap jail)", () => phase("auto", 0)],
  [`runPhase, sandbox off, ${BASH_CALLS} Bash calls`, () => phase("off", BASH_CALLS)],
  [`runPhase, sandbox auto, ${BASH_CALLS} Bash calls`, () => phase("auto", BASH_CALLS)],
];

console.log(`sandbox usable: ${JSON.stringify(await probeSandbox())}; ${runs} rounds, medians`);
// Rounds interleave the configurations, so a busy moment of a shared machine hits them all.
const times = configs.map(() => []);
for (const [, fn] of configs) await fn(); // warm-up: page cache, first bwrap start
for (let round = 0; round < runs; round++) {
  for (const [i, [, fn]] of configs.entries()) times[i].push(await fn());
}
const [cli, proxied, off, on, offBash, onBash] = times.map((t, i) => {
  const m = median(t);
  console.log(
    `${configs[i][0].padEnd(46)} median ${m.toFixed(0).padStart(5)} ms  (${t.map((x) => x.toFixed(0)).join(", ")})`,
  );
  return m;
});
console.log(`proxy per run:            ${(proxied - cli).toFixed(0)} ms`);
console.log(`jail per run:             ${(on - off).toFixed(0)} ms`);
console.log(`per Bash call, no jail:   ${((offBash - off) / BASH_CALLS).toFixed(1)} ms`);
console.log(`per Bash call, in jail:   ${((onBash - on) / BASH_CALLS).toFixed(1)} ms`);
