import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { processStartTicks, SessionStore } from "../src/index.js";
import { fixture, tempDir } from "./helpers.js";

// Above Linux's default pid_max, so no process can have it: a runner that is gone.
const DEAD_RUNNER = 4_194_999;

/** A real process leading its own process group, as the runner starts claude. */
async function agentProcess() {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
    detached: true,
    stdio: "ignore",
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  await new Promise((resolve) => child.on("spawn", resolve));
  const pid = child.pid as number;
  const startTicks = await processStartTicks(pid);
  expect(startTicks).not.toBeNull();
  return { pid, startTicks: startTicks as number, exited, child };
}

async function orphanWith(pid: number, startTicks: number) {
  const dir = await tempDir();
  const store = await SessionStore.open({ dir });
  const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
  await store.setProcess(id, { pid, startTicks, runnerPid: DEAD_RUNNER });
  await store.close();
  return { dir, id };
}

describe("reconciling orphaned sessions", () => {
  it("stops the recorded Claude process of an orphaned session", async () => {
    const agent = await agentProcess();
    const { dir, id } = await orphanWith(agent.pid, agent.startTicks);
    const store = await SessionStore.open({ dir });
    expect(await agent.exited).toBe("SIGTERM");
    const session = await store.getSession(id);
    expect(session.status).toBe("Failed");
    expect(session.errorMessage).toMatch(/^orphaned: .*Claude process \(pid \d+\) was stopped/);
    await store.close();
  });

  it("kills the whole process group when a tool of the agent ignores SIGTERM", async () => {
    const child = spawn(process.execPath, [fixture("agent-tree.mjs")], {
      detached: true,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const toolPid = await new Promise<number>((resolve) => {
      let out = "";
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        if (out.includes("\n")) resolve(Number(out.trim()));
      });
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const { dir } = await orphanWith(
      child.pid as number,
      (await processStartTicks(child.pid as number)) as number,
    );
    const store = await SessionStore.open({ dir });
    await exited;
    expect(await processStartTicks(toolPid)).toBeNull();
    await store.close();
  });

  it("leaves alone a process whose start time differs from the recorded one", async () => {
    const agent = await agentProcess();
    try {
      const { dir, id } = await orphanWith(agent.pid, agent.startTicks + 1);
      const store = await SessionStore.open({ dir });
      const session = await store.getSession(id);
      expect(session.status).toBe("Failed");
      expect(session.errorMessage).not.toMatch(/stopped/);
      expect(await processStartTicks(agent.pid)).toBe(agent.startTicks);
      await store.close();
    } finally {
      agent.child.kill("SIGKILL");
      await agent.exited;
    }
  });

  it("treats a runner pid reused by another process as gone", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    const id = await store.create({ agentName: "CodeGenAgent", purpose: "p" });
    const mine = (await processStartTicks(process.pid)) as number;
    // Our own pid, but recorded with another start time: the runner that wrote it is gone.
    await store.setProcess(id, { pid: null, runnerPid: process.pid, runnerStartTicks: mine + 1 });
    expect(await store.reconcileOrphans()).toEqual([id]);
    await store.close();
  });
});
