import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runClaudeProcess } from "../src/internal/claude.js";
import { pidAlive } from "./helpers.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

describe("runClaudeProcess", () => {
  it("ends at the timeout although a grandchild outside the group holds stdout open", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-proc-"));
    dirs.push(dir);
    const pidFile = path.join(dir, "grandchild.pid");
    // The grandchild leaves the process group (setsid), as a daemonised tool would, and
    // keeps the inherited stdout.
    const script = `setsid sh -c 'echo $$ > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; exec sleep 600' & while [ ! -f ${pidFile} ]; do :; done; echo '{"type":"x"}'; exec sleep 600`;
    const started = Date.now();
    const out = await runClaudeProcess({
      executable: "/bin/sh",
      args: ["-c", script],
      cwd: dir,
      env: { PATH: process.env.PATH ?? "" },
      timeoutMs: 1_000,
      killGraceMs: 500,
      logFile: path.join(dir, "log"),
      secrets: [],
    });
    const grandchild = Number(await fs.readFile(pidFile, "utf8"));
    try {
      expect(out.timedOut).toBe(true);
      expect(out.signal).toBe("SIGTERM");
      // The pipe held by the grandchild did not keep the run open until the grandchild ended.
      expect(pidAlive(grandchild)).toBe(true);
      expect(Date.now() - started).toBeLessThan(600_000);
      expect(await fs.readFile(path.join(dir, "log"), "utf8")).toContain('{"type":"x"}');
    } finally {
      process.kill(grandchild, "SIGKILL");
    }
  });
});
