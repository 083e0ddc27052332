import fs from "node:fs/promises";
import path from "node:path";
import { renderIssueReport, SESSION_STATUSES, type SessionStatus } from "@miyabi/core";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type CommandContext, durationArg, examples, intArg, withStore } from "./context.js";
import { NoIssueSessionsError, OutputFileError, UsageError } from "./errors.js";
import { lineageText, sessionDetail, sessionRows, statsText, treeText } from "./format.js";
import { resolveId } from "./ids.js";
import { followLog, prettyLog } from "./logs.js";
import { plural } from "./text.js";

/** `--since`: a duration back from now (7d, 12h) or a date (2025-10-27, an ISO time). */
function sinceArg(now: () => Date) {
  return (value: string): Date => {
    if (/^\d+[smhdw]/.test(value)) return new Date(now().getTime() - durationArg(value));
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) {
      throw new InvalidArgumentError(
        `"${value}" is neither a duration (7d, 12h) nor a date (2025-10-27).`,
      );
    }
    return date;
  };
}

export function readCommands(program: Command, ctx: CommandContext): void {
  program
    .command("show")
    .description("show one session")
    .argument("<id>", "the session (a unique prefix is enough)")
    .action(async (prefix: string) => {
      const s = await withStore(ctx, { create: false }, async (store) =>
        store.getSession(await resolveId(store, prefix)),
      );
      ctx.print(s, () => sessionDetail(s, ctx.io.color));
    });

  examples(
    program
      .command("list")
      .description("list sessions, newest first (--json: oldest first, as stored)")
      .option("--active", "only Active sessions")
      .addOption(
        new Option("--status <status>", "only sessions with this status").choices(SESSION_STATUSES),
      )
      .option("--issue <number>", "only sessions of this issue", intArg("--issue"))
      .option("--agent <name>", "only sessions of this agent")
      .option(
        "--since <when>",
        "only sessions created since a duration ago or a date",
        sinceArg(ctx.io.now),
      )
      .option("--limit <n>", "only the newest n sessions", intArg("--limit", 1)),
    ["miyabi-sessions list --active", "miyabi-sessions list --issue 270 --since 2d --limit 10"],
  ).action(
    async (o: {
      active?: boolean;
      status?: SessionStatus;
      issue?: number;
      agent?: string;
      since?: Date;
      limit?: number;
    }) => {
      const all = await withStore(ctx, { create: false }, (store) =>
        store.list({
          status: o.active ? "Active" : o.status,
          issueNumber: o.issue,
          agentName: o.agent,
        }),
      );
      const since = o.since?.getTime();
      const recent =
        since === undefined ? all : all.filter((s) => Date.parse(s.createdAt) >= since);
      // Stored order is creation order, so the newest n are the last n.
      const kept = o.limit === undefined ? recent : recent.slice(-o.limit);
      ctx.print(kept, () =>
        sessionRows([...kept].reverse(), {
          color: ctx.io.color,
          tty: ctx.io.tty,
          columns: ctx.io.columns,
          now: ctx.io.now(),
        }),
      );
    },
  );

  program
    .command("lineage")
    .description("show the handoff chain from the root to a session (--tree: everything after it)")
    .argument("<id>", "the session (a unique prefix is enough)")
    .option("--tree", "show the session and its descendants as a tree")
    .action(async (prefix: string, o: { tree?: boolean }) => {
      await withStore(ctx, { create: false }, async (store) => {
        const id = await resolveId(store, prefix);
        if (o.tree) {
          const tree = await store.getTree(id);
          ctx.print(tree, () => treeText(tree, ctx.io.color));
        } else {
          const lineage = await store.getLineage(id);
          ctx.print(lineage, () => lineageText(lineage, ctx.io.color));
        }
      });
    });

  program
    .command("stats")
    .description("count sessions by status")
    .action(async () => {
      const stats = await withStore(ctx, { create: false }, (store) => store.getStats());
      ctx.print(stats, () => statsText(stats));
    });

  examples(
    program
      .command("report")
      .description(
        "write an issue's report as Markdown: lineage graph, phase table and costs, as the GitHub Action puts it in the job summary",
      )
      .requiredOption("--issue <number>", "the issue", intArg("--issue", 1))
      .option("--out <file>", "write the report to this file instead of stdout"),
    [
      "miyabi-sessions report --issue 270",
      "miyabi-sessions report --issue 270 --out report.md",
      "miyabi-sessions report --issue 270 | gh issue comment 270 --body-file -",
    ],
  ).action(async (o: { issue: number; out?: string }) => {
    if (ctx.globals().json) {
      throw new UsageError(
        "report writes Markdown; for the issue's sessions as JSON use `list --issue N --json`.",
      );
    }
    // Only enums, validated agent names, numbers and ids reach the report (no agent text, as
    // no session is current), so there is nothing to redact from the user's own store.
    const markdown = await withStore(ctx, { create: false }, async (store) => {
      const sessions = await store.issueSessions(o.issue);
      if (sessions.length === 0) throw new NoIssueSessionsError(o.issue, store.dir);
      return renderIssueReport({ issueNumber: o.issue, sessions, totals: true });
    });
    if (o.out === undefined) {
      ctx.io.out(markdown.replace(/\n$/, ""));
      return;
    }
    const file = path.resolve(o.out);
    try {
      await fs.writeFile(file, markdown);
    } catch (error) {
      throw new OutputFileError(file, error);
    }
    ctx.hint(`Wrote the report of issue #${o.issue} to ${file}`);
  });

  examples(
    program
      .command("logs")
      .description(
        "print a session's log: readable lines on a terminal, Claude's raw stream-json otherwise",
      )
      .argument("<id>", "the session (a unique prefix is enough)")
      .option("-f, --follow", "keep printing as the log grows, until the session ends")
      .addOption(
        new Option(
          "--pretty",
          "turns, tool calls, denials, result and cost as readable lines",
        ).conflicts("raw"),
      )
      .option("--raw", "Claude's stream-json lines as recorded"),
    ["miyabi-sessions logs 550e8400 --pretty", "miyabi-sessions logs 550e8400 --follow"],
  ).action(async (prefix: string, o: { follow?: boolean; pretty?: boolean; raw?: boolean }) => {
    const pretty = o.pretty ?? (o.raw ? false : ctx.io.tty);
    const render = pretty ? prettyLog(ctx.io.color) : (line: string) => [line];
    const id = await withStore(ctx, { create: false }, (store) => resolveId(store, prefix));
    if (o.follow) {
      let pending = "";
      await followLog({
        open: () => ctx.open({ create: false }),
        id,
        write: (text) => {
          const lines = (pending + text).split("\n");
          pending = lines.pop() ?? "";
          for (const line of lines) for (const out of render(line)) ctx.io.out(out);
        },
      });
      return;
    }
    const text = await withStore(ctx, { create: false }, (store) => store.readLog(id));
    const lines = text.replace(/\n$/, "").split("\n");
    if (!pretty) ctx.io.out(lines.join("\n"));
    else for (const line of lines) for (const out of render(line)) ctx.io.out(out);
  });

  examples(
    program
      .command("prune")
      .description("remove finished lineages older than a duration, with their logs")
      .requiredOption("--older-than <duration>", "e.g. 7d, 12h, 2w", durationArg)
      .option("--dry-run", "only say what would be removed"),
    ["miyabi-sessions prune --older-than 30d --dry-run"],
  ).action(async (o: { olderThan: number; dryRun?: boolean }) => {
    const report = await withStore(ctx, { create: false }, (store) =>
      store.prune({ olderThanMs: o.olderThan, dryRun: o.dryRun ?? false }),
    );
    ctx.print(report, () =>
      report.removed.length === 0
        ? "Nothing to prune."
        : `${report.dryRun ? "Would remove" : "Removed"} ${plural(report.removed.length, "session")}:\n${report.removed.join("\n")}`,
    );
  });

  program
    .command("compact")
    .description(
      "fold the journal into sessions.json now (a large store otherwise keeps its journal; do this before archiving a store)",
    )
    .action(async () => {
      const file = await withStore(ctx, { create: false }, async (store) => {
        await store.compact();
        return store.file;
      });
      ctx.print({ compacted: file }, () => `Compacted ${file}`);
    });

  program
    .command("merge")
    .description("fold another store directory (e.g. from a parallel job) into this one")
    .argument("<other-dir>")
    .action(async (other: string) => {
      const report = await withStore(ctx, { create: true }, (store) => store.mergeFrom(other));
      ctx.print(report, () => {
        const lines = [
          `Added ${plural(report.added.length, "session")}, updated ${report.updated.length}.`,
        ];
        for (const c of report.conflicts) {
          lines.push(
            `conflict on ${c.sessionId} ${c.field}: kept ${c.kept}, other side had ${c.other}`,
          );
        }
        return lines.join("\n");
      });
    });
}
