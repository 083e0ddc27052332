import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SessionStore } from "../src/index.js";
import { fixture, tempDir } from "./helpers.js";

interface Worker {
  child: ChildProcess;
  acknowledged: string[];
  exit: Promise<number | null>;
  /** Resolves once `count` calls have been acknowledged in all, or the worker has exited. */
  acks(count: number): Promise<void>;
}

function startWorker(args: string[]): Worker {
  const child = spawn(process.execPath, [fixture("worker.mjs"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acknowledged: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const wake = (all: boolean) => {
    for (const w of waiters.splice(0)) {
      if (all || acknowledged.length >= w.count) w.resolve();
      else waiters.push(w);
    }
  };
  let buffer = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith("ok ")) acknowledged.push(line.slice(3));
    wake(false);
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<number | null>((resolve) =>
    child.on("exit", (code, signal) => {
      if (code !== 0 && signal !== "SIGKILL") console.error(stderr);
      wake(true);
      resolve(code);
    }),
  );
  let exited = false;
  void exit.then(() => {
    exited = true;
  });
  const acks = (count: number) =>
    exited || acknowledged.length >= count
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ count, resolve }));
  return { child, acknowledged, exit, acks };
}

describe("several processes on one store", () => {
  it("loses no handoff when four processes hand off hundreds of times each", async () => {
    const dir = await tempDir();
    const perWorker = 150;
    const workers = Array.from({ length: 4 }, () =>
      startWorker([dir, "chain", String(perWorker), "65536"]),
    );
    const codes = await Promise.all(workers.map((w) => w.exit));
    expect(codes).toEqual([0, 0, 0, 0]);

    const store = await SessionStore.open({ dir });
    const stats = await store.getStats();
    expect(stats.total).toBe(4 * (perWorker + 1));
    expect(stats.handedOff).toBe(4 * perWorker);
    expect(stats.active).toBe(4);
    for (const w of workers) {
      const last = w.acknowledged.at(-1) as string;
      const lineage = await store.getLineage(last);
      expect(lineage.map((s) => s.id)).toEqual(w.acknowledged);
    }
    await store.close();
  });
});

describe("kill -9 at random moments", () => {
  it("leaves a store that loads and holds every call that had returned", async () => {
    const dir = await tempDir();
    const acknowledged = new Set<string>();
    const rounds = 25;
    for (let round = 0; round < rounds; round++) {
      // A small compaction threshold makes kills land inside compactions too.
      const pair = [
        startWorker([dir, "chain", "400", "8192"]),
        startWorker([dir, "chain", "400", "8192"]),
      ];
      // Kill only once both writers are acknowledging calls, after a random number of further
      // acknowledgements, so the kill lands at a random point of the work however busy the
      // machine is (a fixed delay left slow runs with too few acknowledged calls).
      await Promise.all(pair.map((w) => w.acks(1)));
      const [first, second] = pair as [Worker, Worker];
      await first.acks(first.acknowledged.length + Math.floor(Math.random() * 30));
      await second.acks(second.acknowledged.length + Math.floor(Math.random() * 5));
      for (const w of pair) w.child.kill("SIGKILL");
      await Promise.all(pair.map((w) => w.exit));
      for (const w of pair) for (const id of w.acknowledged) acknowledged.add(id);

      const store = await SessionStore.open({ dir, reconcileOrphans: false });
      const sessions = new Map((await store.list()).map((s) => [s.id, s]));
      for (const id of acknowledged)
        expect(sessions.has(id), `session ${id} lost after round ${round}`).toBe(true);
      for (const s of sessions.values()) {
        for (const child of s.childSessions) expect(sessions.get(child)?.parentSession).toBe(s.id);
      }
      await store.close();
    }
    expect(acknowledged.size).toBeGreaterThan(rounds);
    // The lock of a killed holder is recovered rather than blocking forever.
    const files = await fs.readdir(dir);
    expect(files.filter((f) => f.includes("tmp"))).toEqual([]);
    const doc = JSON.parse(await fs.readFile(path.join(dir, "sessions.json"), "utf8"));
    expect(doc.sessions.length).toBe(
      (await fs.readFile(path.join(dir, "sessions.json"), "utf8")).match(/"agent_name"/g)?.length,
    );
  }, 480_000);
});
