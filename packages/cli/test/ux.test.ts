/**
 * The CLI as gh users expect it: usage errors exit 2 on one line, id prefixes, list order and
 * filters, help, completion, plurals, suggestions; and local stores land in the repository.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-ux-")));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...options.env };
  delete env.MIYABI_SESSIONS_DIR;
  delete env.FORCE_COLOR;
  Object.assign(env, options.env);
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? dir,
    encoding: "utf8",
    env,
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** The CLI on an explicit store in the scratch directory. */
const inStore = (...args: string[]) => cli(["--dir", path.join(dir, "store"), ...args]);

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

describe("--sandbox", () => {
  it("required: without bubblewrap on PATH the run fails before anything is recorded", async () => {
    // A PATH with node and git but no bwrap.
    const bin = path.join(dir, "bin");
    await fs.mkdir(bin);
    await fs.symlink(process.execPath, path.join(bin, "node"));
    await fs.symlink(
      git(dir, "--exec-path").replace(/\/libexec\/git-core$/, "/bin/git"),
      path.join(bin, "git"),
    );
    const r = cli(
      ["--dir", path.join(dir, "store"), "run", "--agent", "A", "--purpose", "p", "--prompt", "hi"],
      { env: { PATH: bin, MIYABI_SANDBOX: "required", MIYABI_CLAUDE: process.execPath } },
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bubblewrap/);
    // Nothing recorded: not even the store was created.
    await expect(fs.stat(path.join(dir, "store"))).rejects.toThrow(/ENOENT/);
  });
});

describe("usage errors", () => {
  it("exit 2 with one line each, for parse errors and for what the command checks itself", () => {
    inStore("create", "--agent", "A", "--purpose", "p");
    const cases: [string[], RegExp][] = [
      [["prune", "--older-than", "soon"], /"soon" is not a duration/],
      [["create", "--agent", "", "--purpose", "p"], /an agent name cannot be empty/],
      [["create", "--agent", "../evil", "--purpose", "p"], /not a valid agent name/],
      [["handoff", "abc", "--to", ""], /an agent name cannot be empty/],
      [
        ["run", "--agent", "A", "--purpose", "p", "--issue-worktree"],
        /--issue-worktree needs --issue/,
      ],
      [["create", "--agent", "A"], /required option '--purpose <text>' not specified/],
      [["list", "--limit", "0"], /--limit must be a positive whole number/],
      [["list", "--since", "someday"], /neither a duration .* nor a date/],
      [["frobnicate"], /unknown command 'frobnicate'\. \(see/],
      [["run", "--agent", "A", "--purpose", "p", "--sandbox", "maybe"], /--sandbox/],
    ];
    for (const [args, message] of cases) {
      const r = inStore(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err.split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.err, args.join(" ")).toMatch(/^miyabi-sessions: /);
      expect(r.err, args.join(" ")).toMatch(message);
    }
  });

  it("suggest a command or option only when it is close to what was typed", () => {
    expect(inStore("lsit").err).toMatch(/Did you mean list\?/);
    expect(inStore("stat").err).toMatch(/Did you mean stats\?/);
    expect(inStore("list", "--limt", "2").err).toMatch(/Did you mean --limit\?/);
    for (const far of ["mer", "x", "lineages-of-everything"]) {
      const r = inStore(far);
      expect(r.code).toBe(2);
      expect(r.err, far).not.toMatch(/Did you mean/);
    }
  });
});

describe("ids", () => {
  it("accept any unique prefix, and list the matches of an ambiguous one", async () => {
    const ids = Array.from(
      { length: 12 },
      () => inStore("create", "--agent", "A", "--purpose", "p").out,
    );
    const [first] = ids;
    if (!first) throw new Error("no session");
    // The shortest prefix that only `first` has.
    let n = 1;
    while (ids.filter((id) => id.startsWith(first.slice(0, n))).length > 1) n += 1;
    const shown = JSON.parse(inStore("--json", "show", first.slice(0, n)).out);
    expect(shown.id).toBe(first);
    expect(inStore("complete", first.slice(0, 8).toUpperCase()).out).toBe(`Completed ${first}`);
    const handoff = inStore("handoff", first.slice(0, 8), "--to", "ReviewAgent");
    expect(handoff.code, handoff.err).toBe(0);

    // Two ids sharing a first character exist among 12 (16 possible first characters).
    const shared = ids.map((id) => id[0]).find((c, i, all) => all.indexOf(c) !== i) ?? "";
    const ambiguous = inStore("show", shared);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toMatch(
      new RegExp(`^miyabi-sessions: "${shared}" fits \\d+ sessions \\(${shared}`),
    );
    expect(ambiguous.err.split("\n")).toHaveLength(1);
    const none = inStore("show", "ffffffff-ffff");
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/No session ffffffff-ffff/);
  });
});

describe("list", () => {
  it("shows the newest first, keeps --json in stored order, and applies --limit and --since", async () => {
    const ids = ["one", "two", "three"].map(
      (p) => inStore("create", "--agent", "A", "--purpose", p).out,
    );
    const rows = inStore("list").out.split("\n").slice(1);
    expect(rows.map((r) => r.split(/\s+/).at(-1))).toEqual(["three", "two", "one"]);
    const json = JSON.parse(inStore("--json", "list").out) as { id: string }[];
    expect(json.map((s) => s.id)).toEqual(ids);
    const limited = JSON.parse(inStore("--json", "list", "--limit", "2").out) as { id: string }[];
    expect(limited.map((s) => s.id)).toEqual(ids.slice(1));
    expect(JSON.parse(inStore("--json", "list", "--since", "1h").out)).toHaveLength(3);
    expect(JSON.parse(inStore("--json", "list", "--since", "2999-01-01").out)).toHaveLength(0);
  });
});

describe("help and completion", () => {
  it("marks required options, shows examples and the global options in each command's help", () => {
    const help = inStore("create", "--help").out;
    expect(help).toMatch(/--agent <name> +agent name, e\.g\. CodeGenAgent \(required\)/);
    expect(help).toMatch(/--purpose <text> +what the session is for \(required\)/);
    expect(help).toMatch(/Examples:\n {2}\$ miyabi-sessions create --agent/);
    expect(help).toMatch(/Global Options:[\s\S]*--dir <path>[\s\S]*--quiet/);
    expect(inStore("run", "--help").out).toMatch(
      /--claude <path> +Claude Code CLI[^-]*\(env: MIYABI_CLAUDE\)/,
    );
  });

  it("prints bash, zsh and fish completion that bash can load and use", () => {
    const script = path.join(dir, "completion.bash");
    const bash = inStore("completion", "bash");
    expect(bash.code).toBe(0);
    expect(inStore("completion", "zsh").out).toMatch(/^#compdef miyabi-sessions/);
    expect(inStore("completion", "fish").out).toMatch(/complete -c miyabi-sessions .*-a list/);
    expect(inStore("completion", "tcsh").code).toBe(2);
    spawnSync("sh", ["-c", `cat > ${script}`], { input: bash.out });
    const complete = (...words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _miyabi_sessions; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: "utf8" },
      ).stdout.trim();
    expect(complete("miyabi-sessions", "li").split(" ").sort()).toEqual(["lineage", "list"]);
    expect(complete("miyabi-sessions", "list", "--st")).toBe("--status");
    expect(complete("miyabi-sessions", "list", "--status", "Co")).toBe("Completed");
    expect(complete("miyabi-sessions", "worktree", "pr")).toBe("prune");
    expect(complete("miyabi-sessions", "create", "--d")).toBe("--dir");
  });
});

describe("colours", () => {
  it("follow FORCE_COLOR and NO_COLOR when not on a terminal", () => {
    const id = inStore("create", "--agent", "A", "--purpose", "p").out;
    const ESC = String.fromCharCode(27);
    expect(inStore("show", id).out).not.toContain(ESC);
    const forced = cli(["--dir", path.join(dir, "store"), "show", id], {
      env: { FORCE_COLOR: "1" },
    });
    expect(forced.out).toContain(`${ESC}[36mActive${ESC}[39m`);
    const off = cli(["--dir", path.join(dir, "store"), "show", id], { env: { FORCE_COLOR: "0" } });
    expect(off.out).not.toContain(ESC);
  });
});

describe("words", () => {
  it("gets plurals right", () => {
    const id = inStore("create", "--agent", "A", "--purpose", "p").out;
    inStore("fail", id, "--error", "x");
    const pruned = inStore("prune", "--older-than", "0s", "--dry-run");
    expect(pruned.out).toMatch(/^Would remove 1 session:/);
  });
});

describe("where a local store lands", () => {
  async function repo(): Promise<string> {
    const root = path.join(dir, "project");
    await fs.mkdir(path.join(root, "src", "deep"), { recursive: true });
    git(root, "init", "-q", "-b", "main");
    return root;
  }

  it("uses .ai/sessions at the top of the enclosing repository and keeps it out of git", async () => {
    const root = await repo();
    const r = cli(["create", "--agent", "A", "--purpose", "p"], {
      cwd: path.join(root, "src", "deep"),
    });
    expect(r.code, r.err).toBe(0);
    await fs.access(path.join(root, ".ai", "sessions", "sessions.json"));
    await expect(fs.access(path.join(root, "src", "deep", ".ai"))).rejects.toThrow();
    expect(await fs.readFile(path.join(root, ".git", "info", "exclude"), "utf8")).toMatch(
      /^\.ai\/$/m,
    );
    expect(git(root, "status", "--porcelain", "--untracked-files=all")).toBe("");
    // Once only, however many times the store is opened.
    cli(["create", "--agent", "A", "--purpose", "again"], { cwd: root });
    const exclude = await fs.readFile(path.join(root, ".git", "info", "exclude"), "utf8");
    expect(exclude.match(/^\.ai\/$/gm)).toHaveLength(1);
    expect(JSON.parse(cli(["--json", "stats"], { cwd: path.join(root, "src") }).out).total).toBe(2);
  });

  it("from an issue worktree, uses the main checkout's store", async () => {
    const root = await repo();
    git(
      root,
      "-c",
      "user.name=t",
      "-c",
      "user.email=t@example.invalid",
      "commit",
      "-q",
      "--allow-empty",
      "-m",
      "init",
    );
    git(
      root,
      "worktree",
      "add",
      "-q",
      "-b",
      "miyabi/issue-1",
      path.join(root, ".worktrees", "issue-1"),
    );
    cli(["create", "--agent", "A", "--purpose", "p"], {
      cwd: path.join(root, ".worktrees", "issue-1"),
    });
    await fs.access(path.join(root, ".ai", "sessions", "sessions.json"));
    await expect(fs.access(path.join(root, ".worktrees", "issue-1", ".ai"))).rejects.toThrow();
  });

  it("follows --repo, MIYABI_SESSIONS_DIR and --dir in that order of strength", async () => {
    const root = await repo();
    const elsewhere = path.join(dir, "elsewhere");
    await fs.mkdir(elsewhere);
    // --repo names the repository of commands that take it; `worktree list` reads its store.
    const listed = cli(["worktree", "--repo", root, "list"], { cwd: elsewhere });
    expect(listed.code, listed.err).toBe(0);
    await fs.access(path.join(root, ".ai", "sessions"));
    await expect(fs.access(path.join(elsewhere, ".ai"))).rejects.toThrow();
    const envDir = path.join(dir, "env-store");
    cli(["create", "--agent", "A", "--purpose", "p"], {
      cwd: root,
      env: { MIYABI_SESSIONS_DIR: envDir },
    });
    await fs.access(path.join(envDir, "sessions.json"));
    const flagDir = path.join(dir, "flag-store");
    cli(["--dir", flagDir, "create", "--agent", "A", "--purpose", "p"], {
      cwd: root,
      env: { MIYABI_SESSIONS_DIR: envDir },
    });
    await fs.access(path.join(flagDir, "sessions.json"));
  });
});

describe("logs", () => {
  const LOG = [
    '{"type":"system","subtype":"init","session_id":"c0ffee00-0000-4000-8000-000000000000","model":"claude-sonnet-4-5","tools":["Write"]}',
    '{"type":"assistant","message":{"content":[{"type":"text","text":"I will write the file."},{"type":"tool_use","id":"toolu_1","name":"Write","input":{"file_path":"/etc/passwd","content":"x"}}]}}',
    '{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,"content":"Claude requested permissions to write to /etc/passwd, but you haven\'t granted it yet."}]}}',
    '{"type":"assistant","message":{"content":[{"type":"text","text":"I could not write it."}]}}',
    '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.0123,"duration_ms":4200,"result":"Could not write.","permission_denials":[{"tool_name":"Write","tool_use_id":"toolu_1","tool_input":{}}]}',
  ];

  async function sessionWithLog(): Promise<string> {
    const id = inStore("create", "--agent", "A", "--purpose", "p").out;
    await fs.writeFile(path.join(dir, "store", "logs", `${id}.log`), `${LOG.join("\n")}\n`);
    return id;
  }

  it("--pretty shows turns, tool calls with denials marked, the result and cost; raw when piped", async () => {
    const id = await sessionWithLog();
    inStore("complete", id);
    const pretty = inStore("logs", id.slice(0, 8), "--pretty").out.split("\n");
    expect(pretty).toEqual([
      "start  model claude-sonnet-4-5, Claude session c0ffee00-0000-4000-8000-000000000000",
      "turn 1  I will write the file.",
      "turn 1  Write /etc/passwd",
      expect.stringMatching(/^ +✗ Write denied: Claude requested permissions/),
      "turn 2  I could not write it.",
      "result success  1 turn, $0.0123, 4.2s",
      "        Could not write.",
      "        denied: Write ×1",
    ]);
    expect(inStore("logs", id).out).toBe(LOG.join("\n"));
  });

  it("--follow ends on a record-only session and on an orphaned one", async () => {
    const recordOnly = await sessionWithLog();
    // Active, never run by a process: nothing will write more.
    await fs.rm(path.join(dir, "store", "logs", `${recordOnly}.log`));
    const followed = inStore("logs", recordOnly, "--follow");
    expect(followed.code, followed.err).toBe(0);

    // A runner that recorded its process and died without a result: the next look reconciles it.
    const orphan = await sessionWithLog();
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      stdio: "ignore",
    });
    const pid = child.pid ?? 0;
    const storeFile = path.join(dir, "store", "sessions.json");
    const doc = JSON.parse(await fs.readFile(storeFile, "utf8"));
    const entry = doc.sessions.find((s: { id: string }) => s.id === orphan);
    entry.process = {
      pid,
      runner_pid: pid,
      hostname: os.hostname(),
      started_at: new Date().toISOString(),
    };
    await fs.writeFile(storeFile, JSON.stringify(doc, null, 2));
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const follow = spawn(
      process.execPath,
      [BIN, "--dir", path.join(dir, "store"), "logs", orphan, "--follow"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    follow.stdout.on("data", (chunk) => {
      out += chunk;
      // Once the log has been printed the runner "dies".
      if (out.includes('"type":"result"')) child.kill("SIGKILL");
    });
    const code = await new Promise((resolve) => follow.on("exit", resolve));
    await exited;
    expect(code).toBe(0);
    expect(out.trim()).toBe(LOG.join("\n"));
    expect(JSON.parse(inStore("--json", "show", orphan).out).status).toBe("Failed");
  });
});
