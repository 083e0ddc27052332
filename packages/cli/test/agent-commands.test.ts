import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  claudeBinPath,
  type ModelServer,
  modelServerEnv,
  startModelServer,
  structuredOutputTurn,
} from "@miyabi/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { demoScript } from "../src/internal/demo-script.js";

const BIN = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

async function setup(script: Parameters<typeof startModelServer>[0]["script"]) {
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-cli-run-")));
  const server = await startModelServer({ script });
  cleanups.push(async () => {
    await server.close();
    await fs.rm(root, { recursive: true, force: true });
  });
  const env = {
    ...modelServerEnv(server, { home: path.join(root, "home") }),
    PATH: process.env.PATH ?? "",
    NO_COLOR: "1",
  };
  // Asynchronous: the model server runs in this process and must keep answering.
  const cli = (...args: string[]) => cliIn(["--dir", path.join(root, "store"), ...args]);
  /** Without --dir: the store is where the command puts it by default. */
  const cliIn = async (args: string[]) => {
    try {
      const r = await promisify(execFile)(process.execPath, [BIN, ...args], {
        cwd: root,
        env,
        encoding: "utf8",
      });
      return { code: 0, out: r.stdout.trim(), err: r.stderr.trim() };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout.trim(), err: e.stderr.trim() };
    }
  };
  return { root, server, cli, cliIn, env };
}

const turns = (server: ModelServer) => server.requests.filter((r) => r.kind === "turn");

describe("miyabi-sessions commands that run Claude", () => {
  it("run, then handoff --run --mode resume continues the same conversation", async () => {
    const { root, server, cli } = await setup([
      { text: "first answer: 7" },
      { text: "second answer" },
    ]);
    const run = await cli(
      "run",
      "--agent",
      "CodeGenAgent",
      "--purpose",
      "Answer",
      "--issue",
      "3",
      "--prompt",
      "Say 7",
      "--claude",
      claudeBinPath(),
      "--worktree",
      path.join(root, "wt"),
      "--json",
    );
    expect(run.code, run.err).toBe(0);
    const session = JSON.parse(run.out);
    expect(session).toMatchObject({
      status: "Completed",
      result: { summary: "first answer: 7", outcome: "success" },
    });
    expect(run.err).toMatch(/CodeGenAgent \[CodeGeneration\].*turns/);

    const handoff = await cli(
      "handoff",
      session.id,
      "--to",
      "ReviewAgent",
      "--phase",
      "Review",
      "--run",
      "--mode",
      "resume",
      "--claude",
      claudeBinPath(),
    );
    expect(handoff.code, handoff.err).toBe(0);
    const child = JSON.parse((await cli("--json", "show", handoff.out)).out);
    expect(child.status).toBe("Completed");
    expect(child.result.claudeSessionId).toBe(session.result.claudeSessionId);
    expect(JSON.stringify(turns(server).at(-1)?.body)).toContain("first answer: 7");

    const logs = await cli("logs", handoff.out);
    expect(logs.out.split("\n").at(-1)).toMatch(/"type":"result"/);
    const followed = await cli("logs", handoff.out, "--follow");
    expect(followed.out).toBe(logs.out);
  });

  it("fails clearly when the claude binary is missing, recording nothing", async () => {
    const { root, cli } = await setup([]);
    const r = await cli(
      "run",
      "--agent",
      "A",
      "--purpose",
      "p",
      "--claude",
      path.join(root, "nope"),
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^miyabi-sessions: Cannot run the Claude Code CLI/);
    await expect(fs.access(path.join(root, "store", "sessions.json"))).rejects.toThrow();
  });

  it("pipeline --budget-usd: once the issue's recorded cost reaches it, no phase starts (exit 3)", async () => {
    // Build fails, so the issue stands before a phase that could run again.
    const { root, server, cli } = await setup([
      { text: "analysed" },
      { error: { status: 500, message: "boom" } },
    ]);
    const config = path.join(root, "pipeline.yml");
    await fs.writeFile(
      config,
      "name: two-step\nsteps:\n  - id: analyse\n    phase: IssueAnalysis\n    agent: AnalystAgent\n  - id: build\n    phase: CodeGeneration\n    agent: CodeGenAgent\n",
    );
    await fs.mkdir(path.join(root, "repo"));
    const common = ["--issue", "5", "--config", config, "--repo", path.join(root, "repo")];
    const flags = [...common, "--no-worktree", "--claude", claudeBinPath()];
    const first = await cli("pipeline", ...flags, "--max-budget-usd", "5");
    expect(first.out).toMatch(/^analyse: AnalystAgent Completed/m);
    const spent = JSON.parse((await cli("--json", "stats")).out).totalCostUsd as number;
    expect(spent).toBeGreaterThan(0);
    const before = turns(server).length;
    const stopped = await cli("pipeline", ...flags, "--budget-usd", String(spent / 2));
    expect(stopped.code).toBe(3);
    expect(stopped.err).toMatch(
      /Spent \$[\d.]+ of the \$[\d.]+ budget for issue #5, so no phase was started; raise --budget-usd/,
    );
    expect(turns(server)).toHaveLength(before);
    const zero = await cli("pipeline", ...flags, "--budget-usd", "0");
    expect(zero.code).toBe(2);
    expect(zero.err).toContain("--budget-usd must be an amount in US dollars above 0");
  });

  it("pipeline: the review gate hands changes back to CodeGen; out of rounds it stops (exit 4) with the findings", async () => {
    const changes = (message: string) =>
      structuredOutputTurn({ verdict: "changes", findings: [{ file: "a.js", line: 2, message }] });
    const { root, cli } = await setup([
      { text: "wrote" },
      changes("Name it hello."),
      { text: "renamed" },
      changes("Add a test."),
    ]);
    const config = path.join(root, "pipeline.yml");
    await fs.writeFile(
      config,
      "steps:\n  - id: build\n    phase: CodeGeneration\n    agent: CodeGenAgent\n  - id: review\n    phase: Review\n    agent: ReviewAgent\n    mode: resume\n    gate: { maxRounds: 1 }\n  - id: test\n    phase: Test\n    agent: TestAgent\n",
    );
    await fs.mkdir(path.join(root, "repo"));
    const r = await cli(
      "pipeline",
      ...["--issue", "6", "--config", config, "--repo", path.join(root, "repo")],
      ...["--no-worktree", "--claude", claudeBinPath()],
    );
    expect(r.code, r.err).toBe(4);
    expect(r.out.split("\n").map((l) => l.split(":")[0])).toEqual([
      "build",
      "review",
      "build",
      "review",
    ]);
    expect(r.err).toContain("The review gate still asks for changes after 1 round(s)");
    expect(r.err).toContain("  - a.js:2: Add a test.");
  });

  it("runs a pipeline from a YAML definition and exits 1 when a phase fails", async () => {
    const { root, cli } = await setup([
      { text: "analysed" },
      { error: { status: 500, message: "boom" } },
    ]);
    const config = path.join(root, "pipeline.yml");
    await fs.writeFile(
      config,
      "name: two-step\nsteps:\n  - id: analyse\n    phase: IssueAnalysis\n    agent: AnalystAgent\n  - id: build\n    phase: CodeGeneration\n    agent: CodeGenAgent\n    mode: resume\n",
    );
    await fs.mkdir(path.join(root, "repo"));
    const r = await cli(
      "pipeline",
      "--issue",
      "5",
      "--title",
      "Thing",
      "--config",
      config,
      "--repo",
      path.join(root, "repo"),
      "--no-worktree",
      "--claude",
      claudeBinPath(),
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^analyse: AnalystAgent Completed/m);
    expect(r.out).toMatch(/^build: CodeGenAgent Failed .*The Claude API failed: API Error: 500/m);
    const stats = JSON.parse((await cli("--json", "stats")).out);
    expect(stats).toMatchObject({ total: 2, handedOff: 1, failed: 1 });

    const bad = path.join(root, "bad.yml");
    await fs.writeFile(bad, "steps:\n  - phase: Deploy\n    agent: X\n");
    const invalid = await cli(
      "pipeline",
      "--issue",
      "5",
      "--config",
      bad,
      "--claude",
      claudeBinPath(),
    );
    expect(invalid.code).toBe(1);
    expect(invalid.err).toMatch(/Pipeline definition .*bad\.yml is invalid: steps\.0\.phase/);
  });
});

describe("miyabi-sessions demo", () => {
  it("runs the four phases offline and shows lineage, stats and changed files", async () => {
    const r = await promisify(execFile)(process.execPath, [BIN, "demo"], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(r.stdout).toMatch(/scripted model server/);
    expect(r.stdout).toMatch(/1: CodeGenAgent \(HandedOff\)[\s\S]*4: DeployAgent \(Completed\)/);
    expect(r.stdout).toMatch(/Total sessions\s+4/);
    // The gated Review's answer is its verdict, told in words rather than as JSON.
    expect(r.stdout).toMatch(/review\s+ReviewAgent\s+Completed[^\n]*\n\s+Review gate: approved\./);
    expect(r.stdout).not.toContain('{"verdict"');
    expect(r.stdout).toMatch(/src\/greet\.js/);
    expect(r.stdout).toMatch(/test\/greet\.test\.js/);
    expect(r.stdout).toMatch(
      /Commits on miyabi\/issue-1[^\n]*\n\s+\w+ Test: TestAgent for #1\n\s+\w+ CodeGeneration: CodeGenAgent for #1/,
    );
    // What next: the sample repository is gone unless --keep.
    expect(r.stdout).toMatch(
      /The sample repository was deleted; run `miyabi-sessions demo --keep` to keep it/,
    );
    const sample = /Sample repository: (\S+)/.exec(r.stdout)?.[1] ?? "";
    await expect(fs.access(sample)).rejects.toThrow();
  });
});

describe("when the runner itself is stopped", () => {
  async function startHangingRun() {
    const { root, cli, env } = await setup([{ hang: true }]);
    const child = spawn(
      process.execPath,
      [
        BIN,
        "--dir",
        path.join(root, "store"),
        "run",
        "--agent",
        "A",
        "--purpose",
        "p",
        "--claude",
        claudeBinPath(),
        "--worktree",
        root,
      ],
      {
        env,
        stdio: "ignore",
      },
    );
    // Wait until the session records its Claude process.
    for (;;) {
      const listed = await cli("--json", "list");
      const session =
        listed.code === 0
          ? (JSON.parse(listed.out) as { id: string; process: { pid: number } | null }[])[0]
          : undefined;
      if (session?.process?.pid)
        return { root, cli, child, session: { id: session.id, claudePid: session.process.pid } };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it("SIGTERM stops Claude's process tree and records the session as cancelled", async () => {
    const { cli, child, session } = await startHangingRun();
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    const shown = JSON.parse((await cli("--json", "show", session.id)).out);
    expect(shown.status).toBe("Failed");
    expect(shown.errorMessage).toMatch(/^cancelled/);
    expect(() => process.kill(session.claudePid, 0)).toThrow();
  });

  it("Ctrl-C (SIGINT) cancels the run and exits 130", async () => {
    const { cli, child, session } = await startHangingRun();
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    const shown = JSON.parse((await cli("--json", "show", session.id)).out);
    expect(shown.status).toBe("Failed");
    expect(shown.errorMessage).toMatch(/^cancelled/);
  });

  it("after SIGKILL the next command finds the session orphaned", async () => {
    const { cli, child, session } = await startHangingRun();
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    try {
      const shown = JSON.parse((await cli("--json", "show", session.id)).out);
      expect(shown.status).toBe("Failed");
      expect(shown.errorMessage).toMatch(
        /^orphaned: the process that ran this session \(pid \d+\)/,
      );
    } finally {
      // The detached Claude process outlives a SIGKILLed runner; end it.
      try {
        process.kill(-session.claudePid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });
});

describe("pipeline in an issue worktree", () => {
  it("creates .worktrees/issue-N on miyabi/issue-N, commits per phase, and lists and removes it", async () => {
    let worktree = "";
    // The demo's scripted agents: CodeGen writes src/greet.js, Test writes a test, the others only read.
    const { root, cli, cliIn } = await setup(demoScript(() => worktree));
    const repo = path.join(root, "repo");
    await fs.mkdir(repo);
    const git = (...args: string[]) =>
      promisify(execFile)("git", args, { cwd: repo, encoding: "utf8" }).then((r) =>
        r.stdout.trim(),
      );
    await git("init", "-q", "-b", "main");
    await git("config", "user.name", "T");
    await git("config", "user.email", "t@example.invalid");
    await fs.writeFile(path.join(repo, "README.md"), "x\n");
    await git("add", "-A");
    await git("commit", "-q", "-m", "initial");
    worktree = path.join(repo, ".worktrees", "issue-9");

    const r = await cli(
      "pipeline",
      "--issue",
      "9",
      "--title",
      "Feature",
      "--repo",
      repo,
      "--claude",
      claudeBinPath(),
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/Worktree \.worktrees\/issue-9 on branch miyabi\/issue-9 \(new\)/);
    // What next: the branch, how to push it and open the pull request.
    expect(r.err).toMatch(/What next: the work is on branch miyabi\/issue-9/);
    expect(r.err).toMatch(/^ {2}git -C \S*repo push -u origin miyabi\/issue-9$/m);
    expect(r.err).toMatch(/^ {2}gh pr create --head miyabi\/issue-9 --fill --body "Closes #9"$/m);
    expect(await git("log", "--format=%s", "main..miyabi/issue-9")).toBe(
      "Test: TestAgent for #9\nCodeGeneration: CodeGenAgent for #9",
    );
    expect(await git("show", "miyabi/issue-9:src/greet.js")).toContain("export function greet");
    expect(await git("status", "--porcelain")).toBe("");
    const sessions = JSON.parse((await cli("--json", "list", "--issue", "9")).out) as {
      context: { worktreePath: string };
      result: { commit: string | null };
    }[];
    expect(sessions.map((s) => s.context.worktreePath)).toEqual(
      Array(4).fill(".worktrees/issue-9"),
    );
    expect(sessions[0]?.result.commit).toBe(await git("rev-parse", "miyabi/issue-9~1"));
    expect(sessions[1]?.result.commit).toBeNull();
    expect(sessions[2]?.result.commit).toBe(await git("rev-parse", "miyabi/issue-9"));

    const listed = await cli("worktree", "--repo", repo, "list");
    expect(listed.out).toMatch(/#9\s+miyabi\/issue-9\s+finished\s+4/);
    const removed = await cli("worktree", "--repo", repo, "remove", "9");
    expect(removed.code, removed.err).toBe(0);
    await expect(fs.access(path.join(repo, ".worktrees", "issue-9"))).rejects.toThrow();
    expect(await git("branch", "--list", "miyabi/issue-9")).toContain("miyabi/issue-9");
    worktree = path.join(repo, ".worktrees", "issue-10");
    // Without --dir, from outside the repository: the store is --repo's .ai/sessions, kept
    // out of git.
    const single = await cliIn([
      "run",
      "--agent",
      "CodeGenAgent",
      "--purpose",
      "Greet",
      "--issue",
      "10",
      "--issue-worktree",
      "--repo",
      repo,
      "--claude",
      claudeBinPath(),
      "--json",
    ]);
    expect(single.code, single.err).toBe(0);
    await fs.access(path.join(repo, ".ai", "sessions", "sessions.json"));
    await expect(fs.access(path.join(root, ".ai"))).rejects.toThrow();
    expect(await git("status", "--porcelain", "--untracked-files=all")).toBe("");
    const ran = JSON.parse(single.out) as {
      context: { worktreePath: string };
      result: { commit: string };
    };
    expect(ran.context.worktreePath).toBe(".worktrees/issue-10");
    expect(ran.result.commit).toBe(await git("rev-parse", "miyabi/issue-10"));
    expect(
      (
        await cli(
          "run",
          "--agent",
          "A",
          "--purpose",
          "p",
          "--issue-worktree",
          "--claude",
          claudeBinPath(),
        )
      ).err,
    ).toMatch(/--issue-worktree needs --issue/);
    const again = await cli("worktree", "--repo", repo, "remove", "9");
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/Issue #9 has no worktree/);
  });
});
