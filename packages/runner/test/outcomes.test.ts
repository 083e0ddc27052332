import fs from "node:fs/promises";
import path from "node:path";
import { claudeBinPath } from "@miyabi/testkit";
import { describe, expect, it } from "vitest";
import {
  buildClaudeArgs,
  DEFAULT_PIPELINE,
  type ProgressEvent,
  resolveSettings,
  runPipeline,
  runSession,
} from "../src/index.js";
import { runClaudeProcess } from "../src/internal/claude.js";
import { initRepo, issue, lastUserText, phase, pidAlive, rig, sh, turns } from "./helpers.js";

/** Two Writes in the first reply, then a closing text. */
function twoWrites(target: () => string) {
  return rig((_req, index) =>
    index === 0
      ? {
          toolUses: [
            { name: "Write", input: { file_path: `${target()}-a.txt`, content: "a\n" } },
            { name: "Write", input: { file_path: `${target()}-b.txt`, content: "b\n" } },
          ],
        }
      : { text: "Wrote both files." },
  );
}

describe("denied tool calls are not success", () => {
  it("records a run whose Writes were denied (--permission-mode manual) as partial, with the tools", async () => {
    let dir = "";
    const r = await twoWrites(() => path.join(dir, "note"));
    dir = r.repo;
    const events: ProgressEvent[] = [];
    // Without Write among the allowed tools, manual mode asks, and nobody can answer.
    const out = await phase(r, {
      claude: r.claude("home", { permissionMode: "manual", allowedTools: ["Read"] }),
      onProgress: (e) => events.push(e),
    });
    expect(out.status).toBe("partial");
    const [s] = out.sessions;
    expect(s?.status).toBe("Completed");
    expect(s?.result).toMatchObject({
      outcome: "partial",
      permissionDenials: [{ tool: "Write", count: 2 }],
    });
    expect(s?.result?.summary).toContain("Wrote both files.");
    expect(s?.result?.summary).toContain(
      "2 tool calls denied by Claude's permission rules: Write (2).",
    );
    await expect(fs.access(path.join(dir, "note-a.txt"))).rejects.toThrow();
    const tools = events.filter((e) => e.kind === "tool").map((e) => e.message);
    expect(tools.filter((m) => m.startsWith("tool: Write denied"))).toHaveLength(2);
    expect(events.find((e) => e.kind === "result")?.message).toMatch(
      /^done after \d+ turns, 2 tool calls denied$/,
    );
    // On disk in the seed's style.
    const [disk] = (await r.store.snapshot()).sessions;
    expect(disk?.result?.permission_denials).toEqual([{ tool: "Write", count: 2 }]);
  });

  it("records a Write outside the working directory under acceptEdits as partial; the pipeline stops there", async () => {
    let outside = "";
    const r = await twoWrites(() => outside);
    outside = path.join(r.root, "outside");
    const run = await runPipeline({
      store: r.store,
      issue,
      pipeline: DEFAULT_PIPELINE,
      repoDir: r.repo,
      claude: r.claude("home", { allowedTools: ["Read", "Edit"] }),
    });
    expect(run.done).toBe(false);
    expect(run.outcomes.map((o) => [o.step.id, o.status, o.next?.id])).toEqual([
      ["codegen", "partial", "review"],
    ]);
    expect(run.outcomes[0]?.sessions[0]?.result?.permissionDenials).toEqual([
      { tool: "Write", count: 2 },
    ]);
    await expect(fs.access(`${outside}-a.txt`)).rejects.toThrow();
  });
});

describe("messages", () => {
  it("says '1 turn' and names a turn limit without Claude's subtype or a double period", async () => {
    const r = await rig((_req, index) =>
      index === 0
        ? { toolUses: [{ name: "Read", input: { file_path: "/etc/hostname" } }] }
        : { text: "never reached" },
    );
    const events: ProgressEvent[] = [];
    const out = await phase(r, {
      claude: r.claude("home", { maxTurns: 1 }),
      onProgress: (e) => events.push(e),
    });
    const [s] = out.sessions;
    expect(s?.status).toBe("Failed");
    expect(s?.errorMessage).toBe(
      "Claude reached its turn limit of 1 turn before finishing; raise the limit (max turns) or narrow the task",
    );
    expect(s?.result?.outcome).toBe("failure");

    const one = await rig([{ text: "Nothing to do." }]);
    const seen: ProgressEvent[] = [];
    await phase(one, { onProgress: (e) => seen.push(e) });
    expect(seen.find((e) => e.kind === "result")?.message).toBe("done after 1 turn");
    for (const e of [...events, ...seen]) {
      expect(e.message).not.toMatch(/\.\.(?!\.)|\(success\)|\(error_/);
    }
  });
});

describe("a full disk under the log", () => {
  it("stops the run and reports the write error instead of crashing the runner", async () => {
    const r = await rig([{ text: "hello" }]);
    const settings = resolveSettings(r.claude());
    const run = await runClaudeProcess({
      executable: claudeBinPath(),
      args: buildClaudeArgs({ settings, prompt: "say hello" }),
      cwd: r.repo,
      env: { ...settings.env, PATH: process.env.PATH ?? "" },
      timeoutMs: 60_000,
      killGraceMs: 1_000,
      logFile: "/dev/full",
      secrets: [],
    });
    expect((run.logError as NodeJS.ErrnoException | null)?.code).toBe("ENOSPC");
    expect(() => process.kill(-(run.pid as number), 0)).toThrow();
  });
});

describe("nothing paid for is lost", () => {
  it("keeps a turn-limited phase's changes as a WIP commit, and the retry continues from it", async () => {
    let repo = "";
    const r = await rig((req, index) => {
      if (index === 0)
        return {
          toolUses: [
            { name: "Write", input: { file_path: path.join(repo, "hello.txt"), content: "hi\n" } },
          ],
        };
      // The turn limit ends the first run after its tool call: the next turn is the retry's.
      return { text: `retry saw: ${lastUserText(req.body)}` };
    });
    repo = r.repo;
    await initRepo(repo);
    const first = await phase(r, { commit: true, claude: r.claude("home", { maxTurns: 1 }) });
    const [failed] = first.sessions;
    expect(failed?.status).toBe("Failed");
    const wip = failed?.result?.commit as string;
    expect(wip).toMatch(/^[0-9a-f]{40}$/);
    expect(failed?.result?.outcome).toBe("failure");
    const message = await sh(repo, "log", "-1", "--format=%B", wip);
    expect(message).toMatch(/^WIP CodeGeneration: CodeGenAgent for #42\n/);
    expect(message).toContain("turn limit");
    expect(message).toContain(`Miyabi session ${failed?.id}`);
    expect(await sh(repo, "show", "--name-only", "--format=", wip)).toBe("hello.txt");
    expect(await sh(repo, "status", "--porcelain")).toBe("");

    // The same step runs again as a retry of the failed session, told about the kept work.
    const second = await phase(r, { commit: true });
    const [retry] = second.sessions;
    expect(retry).toMatchObject({ status: "Completed", retryOf: failed?.id });
    expect(retry?.result?.summary).toContain(`work-in-progress commit ${wip.slice(0, 12)}`);
    expect(await fs.readFile(path.join(repo, "hello.txt"), "utf8")).toBe("hi\n");
  });

  it("keeps a timed-out phase's edit on the branch", async () => {
    let repo = "";
    const r = await rig((_req, index) =>
      index === 0
        ? {
            toolUses: [
              { name: "Write", input: { file_path: path.join(repo, "part.txt"), content: "1\n" } },
            ],
          }
        : { hang: true },
    );
    repo = r.repo;
    await initRepo(repo);
    const out = await phase(r, {
      commit: true,
      claude: r.claude("home", { timeoutMs: 5_000, killGraceMs: 1_000 }),
    });
    const [s] = out.sessions;
    expect(s?.result?.outcome).toBe("timeout");
    expect(s?.result?.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(await sh(repo, "log", "-1", "--format=%s")).toBe(
      "WIP CodeGeneration: CodeGenAgent for #42",
    );
    expect(await sh(repo, "show", "HEAD:part.txt")).toBe("1");
  });

  it("records the session Failed, result kept, when committing fails after the agent finished", async () => {
    let repo = "";
    const r = await rig(async (_req, index) => {
      if (index === 0)
        return {
          toolUses: [
            { name: "Write", input: { file_path: path.join(repo, "x.txt"), content: "x\n" } },
          ],
        };
      // The agent leaves a stale lock behind, as a killed `git` would.
      if (index === 1) await fs.writeFile(path.join(repo, ".git", "index.lock"), "");
      return { text: "Wrote x.txt" };
    });
    repo = r.repo;
    await initRepo(repo);
    const out = await phase(r, { commit: true });
    const [s] = out.sessions;
    expect(out.status).toBe("failed");
    expect(s?.status).toBe("Failed");
    expect(s?.errorMessage).toMatch(
      /^Recording the agent's work failed after Claude finished: git add .*index\.lock': File exists/s,
    );
    expect(s?.errorMessage).not.toMatch(/\.\./);
    expect(s?.result).toMatchObject({ outcome: "failure", summary: "Wrote x.txt", numTurns: 2 });
    expect(s?.result?.claudeSessionId).toBeTruthy();
    // Recorded Failed, so the step can be retried once the lock is gone.
    await fs.rm(path.join(repo, ".git", "index.lock"));
    const retry = await phase(r, { commit: true });
    expect(retry.sessions[0]).toMatchObject({ status: "Completed", retryOf: s?.id });
    expect(await sh(repo, "show", "--name-only", "--format=", "HEAD")).toBe("x.txt");
  });

  it("fails the session with the cause when the log cannot be written (ENOSPC), without crashing", async () => {
    const r = await rig([{ text: "hello" }]);
    const id = await r.store.create({
      agentName: "CodeGenAgent",
      purpose: "disk full",
      context: { issueNumber: 42, currentPhase: "CodeGeneration" },
    });
    // The log stream follows this link to a device that answers every write with ENOSPC.
    const log = r.store.logPath(id);
    await fs.mkdir(path.dirname(log), { recursive: true });
    await fs.symlink("/dev/full", log);
    const s = await runSession({
      store: r.store,
      sessionId: id,
      executable: claudeBinPath(),
      prompt: "say hello",
      settings: resolveSettings(r.claude()),
      cwd: r.repo,
      mode: "fresh",
    });
    expect(s.status).toBe("Failed");
    expect(s.errorMessage).toMatch(/^The session log .* could not be written \(ENOSPC: /);
    expect(s.result?.outcome).toBe("failure");
    const pid = s.result?.pid as number;
    expect(pidAlive(pid)).toBe(false);
    expect(turns(r.server).length).toBeLessThanOrEqual(1);
  });
});
