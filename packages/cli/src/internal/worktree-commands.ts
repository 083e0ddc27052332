import type { Command } from "commander";
import { type CommandContext, intArg, withStore } from "./context.js";
import { WorktreeCommandError } from "./errors.js";
import { table } from "./format.js";
import { plural } from "./text.js";

interface Row {
  path: string;
  branch: string | null;
  issue: number | null;
  dirty: boolean;
  /** Sessions of the issue that are still Active (the worktree is in use). */
  active: number;
  sessions: number;
}

// The runner (git, execa) is loaded only when a worktree command runs.
const runner = () => import("@miyabi/runner");

async function rows(ctx: CommandContext, repo: string | undefined): Promise<Row[]> {
  const { listIssueWorktrees } = await runner();
  const worktrees = (await listIssueWorktrees(repo ?? process.cwd())).filter(
    (w) => w.issueNumber !== null,
  );
  const sessions = await withStore(ctx, { create: true, repo }, (store) => store.list());
  return worktrees.map((w) => {
    const mine = sessions.filter((s) => s.context.issueNumber === w.issueNumber);
    return {
      path: w.path,
      branch: w.branch,
      issue: w.issueNumber,
      dirty: w.dirty,
      active: mine.filter((s) => s.status === "Active").length,
      sessions: mine.length,
    };
  });
}

export function worktreeCommands(program: Command, ctx: CommandContext): void {
  const wt = program
    .command("worktree")
    .description("list, prune and remove the git worktrees of issues (.worktrees/issue-<N>)")
    .option("--repo <path>", "the git repository (default: the one around the current directory)");
  const repo = () => wt.opts<{ repo?: string }>().repo;

  wt.command("list")
    .description("issue worktrees with their branch and session state")
    .action(async () => {
      const list = await rows(ctx, repo());
      ctx.print(list, () =>
        list.length === 0
          ? "No issue worktrees."
          : table(
              ["ISSUE", "BRANCH", "STATE", "SESSIONS", "PATH"],
              list.map((r) => [
                `#${r.issue}`,
                r.branch ?? "(detached)",
                r.active > 0 ? "in use" : r.dirty ? "dirty" : "finished",
                String(r.sessions),
                r.path,
              ]),
            ),
      );
    });

  wt.command("prune")
    .description("remove clean worktrees whose issue has no Active session (branches are kept)")
    .option("--dry-run", "only say what would be removed")
    .action(async (o: { dryRun?: boolean }) => {
      const done = (await rows(ctx, repo())).filter((r) => r.active === 0 && !r.dirty);
      if (!o.dryRun) {
        const { pruneWorktrees, removeIssueWorktree } = await runner();
        const repoDir = repo() ?? process.cwd();
        for (const r of done) await removeIssueWorktree({ repoDir, path: r.path });
        await pruneWorktrees(repoDir);
      }
      ctx.print(done, () =>
        done.length === 0
          ? "Nothing to prune."
          : `${o.dryRun ? "Would remove" : "Removed"}:\n${done.map((r) => `  #${r.issue} ${r.path}`).join("\n")}`,
      );
    });

  wt.command("remove")
    .description(
      "remove one issue's worktree (refused while its sessions are Active or it is dirty)",
    )
    .argument("<issue>", "issue number", intArg("<issue>"))
    .option("--force", "remove even with uncommitted changes")
    .action(async (issue: number, o: { force?: boolean }) => {
      const repoDir = repo() ?? process.cwd();
      const row = (await rows(ctx, repo())).find((r) => r.issue === issue);
      if (!row) throw new WorktreeCommandError(`Issue #${issue} has no worktree in ${repoDir}.`);
      if (row.active > 0) {
        throw new WorktreeCommandError(
          `Issue #${issue} still has ${plural(row.active, "Active session")}; finish or fail them first.`,
        );
      }
      const { removeIssueWorktree } = await runner();
      await removeIssueWorktree({ repoDir, path: row.path, force: o.force ?? false });
      ctx.io.out(`Removed ${row.path} (branch ${row.branch ?? "-"} kept)`);
    });
}
