import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SessionStore } from "@miyabi/core";
import {
  DEFAULT_PIPELINE,
  ensureIssueWorktree,
  type PhaseOutcome,
  runPipeline,
} from "@miyabi/runner";
import {
  claudeBinPath,
  type ModelScript,
  modelServerEnv,
  type ScriptedTurn,
  startModelServer,
} from "@miyabi/testkit";
import type { Command } from "commander";
import { execa } from "execa";
import type { CommandContext } from "./context.js";
import { lineageText, paintStatus, statsText } from "./format.js";
import { progressPrinter } from "./progress.js";

const ISSUE = {
  number: 1,
  title: "Add a greet(name) helper",
  body: "We need a `greet(name)` function in src/greet.js that returns `Hello, <name>!`, with a test.",
};

type Message = { role?: string; content?: unknown };

function texts(content: unknown): string[] {
  if (typeof content === "string") return [content];
  if (!Array.isArray(content)) return [];
  return content.flatMap((b: { type?: string; text?: unknown }) =>
    typeof b?.text === "string" ? [b.text] : [],
  );
}

function hasToolResult(message: Message | undefined): boolean {
  return (
    Array.isArray(message?.content) &&
    message.content.some((b: { type?: string }) => b?.type === "tool_result")
  );
}

/**
 * The scripted model behind the demo. It plays each agent by reading which phase the newest
 * prompt names: first a tool call that does the phase's work, then a closing summary once the
 * tool result comes back.
 */
export function demoScript(workdir: () => string): ModelScript {
  const work: Record<string, { tool?: ScriptedTurn["toolUses"]; summary: string }> = {
    CodeGeneration: {
      tool: [
        {
          name: "Write",
          input: {
            file_path: "src/greet.js",
            // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source the scripted agent writes
            content: "export function greet(name) {\n  return `Hello, ${name}!`;\n}\n",
          },
        },
      ],
      summary: "Added src/greet.js exporting greet(name).",
    },
    Review: {
      tool: [{ name: "Read", input: { file_path: "src/greet.js" } }],
      summary: "Reviewed src/greet.js: small and correct, no changes needed.",
    },
    Test: {
      tool: [
        {
          name: "Write",
          input: {
            file_path: "test/greet.test.js",
            content:
              'import assert from "node:assert/strict";\nimport test from "node:test";\nimport { greet } from "../src/greet.js";\n\ntest("greets by name", () => {\n  assert.equal(greet("Miyabi"), "Hello, Miyabi!");\n});\n',
          },
        },
      ],
      summary: "Added test/greet.test.js covering greet().",
    },
    PullRequest: {
      summary: "Ready for a pull request: adds greet(name) in src/greet.js with a test.",
    },
  };
  return (req) => {
    const body = req.body as { messages?: Message[] };
    const users = (body.messages ?? []).filter((m) => m.role === "user");
    const phase = users
      .flatMap((m) => texts(m.content))
      .reverse()
      .map((t) => /in the "(\w+)" phase/.exec(t)?.[1])
      .find((p) => p !== undefined);
    const plan = work[phase ?? ""] ?? { summary: "Nothing to do in this phase." };
    if (hasToolResult(users.at(-1)) || !plan.tool) return { text: plan.summary };
    return {
      toolUses: plan.tool.map((t) => ({
        ...t,
        input: {
          ...(t.input as object),
          file_path: path.join(workdir(), (t.input as { file_path: string }).file_path),
        },
      })),
    };
  };
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await execa("git", args, { cwd, env: { GIT_TERMINAL_PROMPT: "0" } })).stdout;
}

async function sampleRepo(root: string): Promise<string> {
  const repo = path.join(root, "sample-repo");
  await fs.mkdir(repo);
  await git(repo, "init", "-q", "-b", "main");
  await git(repo, "config", "user.name", "Miyabi Demo");
  await git(repo, "config", "user.email", "demo@example.invalid");
  await fs.writeFile(path.join(repo, "README.md"), "# Sample project\n");
  await fs.writeFile(path.join(repo, ".gitignore"), ".ai/\n");
  await fs.writeFile(path.join(repo, "package.json"), '{ "name": "sample", "type": "module" }\n');
  await git(repo, "add", "-A");
  await git(repo, "commit", "-q", "-m", "Initial commit");
  return repo;
}

function phaseLine(out: PhaseOutcome, color: boolean): string {
  return out.sessions
    .map((s) => {
      const r = s.result;
      const figures = r ? `${r.numTurns ?? "?"} turns, $${(r.totalCostUsd ?? 0).toFixed(4)}` : "";
      return `  ${out.step.id.padEnd(8)} ${s.agentName.padEnd(13)} ${paintStatus(s.status, color)}  ${figures}\n           ${r?.summary ?? s.errorMessage ?? ""}`;
    })
    .join("\n");
}

export function demoCommand(program: Command, ctx: CommandContext): void {
  program
    .command("demo")
    .description(
      "run the default pipeline (CodeGen -> Review -> Test -> Deploy) on a sample issue in a temporary git repository, with the real Claude Code CLI talking to a built-in scripted model: offline, no API key",
    )
    .option(
      "--claude <path>",
      "Claude Code CLI to run (default: the pinned one installed with this repository)",
    )
    .option("--keep", "keep the temporary directory to look around afterwards")
    .action(async (o: { claude?: string; keep?: boolean }) => {
      const out = ctx.io.out;
      const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-demo-")));
      const repo = await sampleRepo(root);
      let workdir = repo;
      const server = await startModelServer({ script: demoScript(() => workdir) });
      const storeDir = path.join(repo, ".ai", "sessions");
      const store = await SessionStore.open({ dir: storeDir });
      try {
        out(
          "Miyabi demo: the real Claude Code CLI against a scripted model server (no API key, no network).",
        );
        out(`Sample repository: ${repo}`);
        out(`Issue #${ISSUE.number}: ${ISSUE.title}\n`);
        const printer = progressPrinter({
          write: (t) => process.stdout.write(t),
          tty: process.stdout.isTTY === true,
        });
        const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: ISSUE.number });
        workdir = wt.path;
        out(`Worktree ${wt.relativePath} on branch ${wt.branch}\n`);
        const { outcomes } = await runPipeline({
          store,
          issue: ISSUE,
          pipeline: DEFAULT_PIPELINE,
          repoDir: repo,
          worktree: wt.relativePath,
          commit: true,
          claude: {
            executable: o.claude ?? claudeBinPath(),
            env: {
              ...modelServerEnv(server, { home: path.join(root, "home") }),
              PATH: process.env.PATH ?? "",
            },
            timeoutMs: 120_000,
          },
          onProgress: printer.onProgress,
        });
        printer.done();
        out("\nPhases:");
        for (const outcome of outcomes) out(phaseLine(outcome, ctx.io.color));
        const last = outcomes.at(-1)?.sessions[0];
        if (last) {
          out("\nLineage (root -> current):");
          out(lineageText(await store.getLineage(last.id), ctx.io.color));
        }
        out("\nStats:");
        out(statsText(await store.getStats()));
        out(`\nCommits on ${wt.branch} (one per phase that changed files):`);
        out((await git(repo, "log", "--format=  %h %s", `main..${wt.branch}`)) || "  (none)");
        out("\nFiles the agents changed:");
        out((await git(repo, "diff", "--stat", `main...${wt.branch}`)).replace(/^/gm, "  "));
        if (outcomes.some((x) => x.status === "failed")) ctx.exitCode = 1;
      } finally {
        await store.close();
        await server.close();
        if (o.keep)
          out(`\nKept ${root} (sessions in ${path.relative(root, storeDir)}/sessions.json)`);
        else await fs.rm(root, { recursive: true, force: true });
      }
    });
}
