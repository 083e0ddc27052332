import fs from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { SessionStore } from "@miyabi/core";
import {
  DEFAULT_PIPELINE,
  ensureIssueWorktree,
  git,
  type PhaseOutcome,
  resolveClaude,
  runPipeline,
} from "@miyabi/runner";
import { modelServerEnv, startModelServer } from "@miyabi/testkit/model-server";
import type { CommandContext } from "./context.js";
import { DEMO_ISSUE, demoScript } from "./demo-script.js";
import { lineageText, paintStatus, statsText } from "./format.js";
import { progressPrinter } from "./progress.js";
import { plural } from "./text.js";

async function sampleRepo(root: string): Promise<string> {
  const repo = path.join(root, "sample-repo");
  await fs.mkdir(repo);
  const run = (...args: string[]) => git(args, { cwd: repo });
  await run("init", "-q", "-b", "main");
  await run("config", "user.name", "Miyabi Demo");
  await run("config", "user.email", "demo@example.invalid");
  await fs.writeFile(path.join(repo, "README.md"), "# Sample project\n");
  await fs.writeFile(path.join(repo, ".gitignore"), ".ai/\n");
  await fs.writeFile(path.join(repo, "package.json"), '{ "name": "sample", "type": "module" }\n');
  await run("add", "-A");
  await run("commit", "-q", "-m", "Initial commit");
  return repo;
}

/**
 * The Claude Code CLI the demo runs: --claude or $MIYABI_CLAUDE, else the version pinned in
 * this repository's workspace (a development dependency, absent from an npm install), else
 * `claude` on PATH.
 */
async function demoClaude(explicit: string | undefined): Promise<string> {
  const wanted = explicit ?? (process.env.MIYABI_CLAUDE || undefined);
  if (wanted !== undefined) return resolveClaude(wanted);
  try {
    const pkg = createRequire(import.meta.url).resolve("@anthropic-ai/claude-code/package.json");
    return await resolveClaude(path.join(path.dirname(pkg), "bin", "claude.exe"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    return resolveClaude(undefined);
  }
}

/** A gated step's verdict in words: its answer is the verdict's JSON, which reads poorly. */
function gateText(gate: PhaseOutcome["gate"]): string | undefined {
  if (gate?.verdict === "approve") return "Review gate: approved.";
  if (gate?.verdict !== "changes") return undefined;
  const left = gate.exhausted ? "; no rounds left, a person decides" : "";
  return `Review gate: changes requested (${plural(gate.findings.length, "finding")}${left}).`;
}

function phaseLine(out: PhaseOutcome, color: boolean): string {
  return out.sessions
    .map((s) => {
      const r = s.result;
      const figures = r
        ? `${plural(r.numTurns ?? 0, "turn")}, $${(r.totalCostUsd ?? 0).toFixed(4)}`
        : "";
      const said = gateText(out.gate) ?? r?.summary ?? s.errorMessage ?? "";
      return `  ${out.step.id.padEnd(8)} ${s.agentName.padEnd(13)} ${paintStatus(s.status, color)}  ${figures}\n           ${said}`;
    })
    .join("\n");
}

export async function runDemo(
  ctx: CommandContext,
  o: { claude?: string; keep?: boolean },
): Promise<void> {
  const out = ctx.io.out;
  const claude = await demoClaude(o.claude);
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-demo-")));
  const repo = await sampleRepo(root);
  let workdir = repo;
  const server = await startModelServer({ script: demoScript(() => workdir) });
  const storeDir = path.join(repo, ".ai", "sessions");
  const store = await SessionStore.open({ dir: storeDir });
  let branch = "";
  try {
    out(
      "Miyabi demo: the real Claude Code CLI against a scripted model server (no API key, no network).",
    );
    out(`Sample repository: ${repo}`);
    out(`Issue #${DEMO_ISSUE.number}: ${DEMO_ISSUE.title}\n`);
    const progress = progressPrinter({
      write: (t) => process.stdout.write(t),
      tty: ctx.io.tty,
      columns: ctx.io.columns,
      quiet: ctx.globals().quiet,
    });
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: DEMO_ISSUE.number });
    workdir = wt.path;
    branch = wt.branch;
    out(`Worktree ${wt.relativePath} on branch ${wt.branch}\n`);
    const { outcomes } = await runPipeline({
      store,
      issue: DEMO_ISSUE,
      pipeline: DEFAULT_PIPELINE,
      repoDir: repo,
      worktree: wt.relativePath,
      commit: true,
      claude: {
        executable: claude,
        env: {
          ...modelServerEnv(server, { home: path.join(root, "home") }),
          PATH: process.env.PATH ?? "",
        },
        timeoutMs: 120_000,
      },
      onProgress: progress.onProgress,
    });
    progress.done();
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
    out(
      (await git(["log", "--format=  %h %s", `main..${wt.branch}`], { cwd: repo })) || "  (none)",
    );
    out("\nFiles the agents changed:");
    out((await git(["diff", "--stat", `main...${wt.branch}`], { cwd: repo })).replace(/^/gm, "  "));
    if (outcomes.some((x) => x.status === "failed")) ctx.exitCode = 1;
  } finally {
    await store.close();
    await server.close();
    if (o.keep) {
      out(`\nWhat next: the sample repository is kept at ${repo}.`);
      out(`  cd ${repo}`);
      if (branch) out(`  git log --stat main..${branch}     # the agents' commits`);
      out("  miyabi-sessions list                  # its sessions (.ai/sessions)");
      out(`  rm -rf ${root}                        # when you are done`);
    } else {
      await fs.rm(root, { recursive: true, force: true });
      out(
        "\nThe sample repository was deleted; run `miyabi-sessions demo --keep` to keep it and look around.",
      );
      out(
        "On your own repository: miyabi-sessions pipeline --issue N --title ... (needs ANTHROPIC_API_KEY), then push the branch and open the pull request with gh.",
      );
    }
  }
}
