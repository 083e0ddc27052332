import fs from "node:fs/promises"; import os from "node:os"; import path from "node:path";
import { SessionStore } from "@miyabi/core";
import { claudeBinPath, modelServerEnv, startModelServer } from "@miyabi/testkit";
import { DEFAULT_PIPELINE, runPhase } from "/work/wt/runner-jail/packages/runner/dist/index.js";
const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "dbg-")));
const repo = path.join(root, "repo"); await fs.mkdir(repo);
const server = await startModelServer({ script: [{ text: "hi" }] });
const store = await SessionStore.open({ dir: path.join(root, "store") });
const out = await runPhase({ store, issue: {number:1,title:"t",body:"b"}, pipeline: DEFAULT_PIPELINE, repoDir: repo,
  claude: { executable: claudeBinPath(), env: modelServerEnv(server, {home: path.join(root,"home")}), sandbox: process.argv[2] ?? "auto" }});
console.log(out.sessions[0].status, out.sessions[0].errorMessage);
console.log(await store.readLog(out.sessions[0].id));
await store.close(); await server.close();
