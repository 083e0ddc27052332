import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { structuredOutputTurn } from "@miyabi/testkit";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_PIPELINE, runPhase, WorktreeError } from "../src/index.js";
import { git } from "../src/internal/git.js";
import {
  commitPhase,
  ensureIssueWorktree,
  IssueWorktreeError,
  listIssueWorktrees,
  pruneWorktrees,
  removeIssueWorktree,
  type WorktreeProblem,
} from "../src/internal/worktree.js";
import { messagesOf, rig, turns } from "./helpers.js";

const temps: string[] = [];

beforeEach(async () => {
  const home = await tempDir();
  const globalConfig = path.join(home, "gitconfig");
  await fs.writeFile(globalConfig, "");
  // The developer's (or CI's) own git settings and identity must not leak into these tests.
  vi.stubEnv("GIT_CONFIG_GLOBAL", globalConfig);
  vi.stubEnv("GIT_CONFIG_NOSYSTEM", "1");
  // Repositories here are discovered no higher than their own temp directory.
  vi.stubEnv("GIT_CEILING_DIRECTORIES", path.dirname(home));
  for (const name of [
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "EMAIL",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
  ]) {
    vi.stubEnv(name, undefined);
  }
});

afterEach(async () => {
  vi.unstubAllEnvs();
  for (const dir of temps.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-worktree-")));
  temps.push(dir);
  return dir;
}

/** git, for setting up and inspecting (independent of the code under test). */
async function sh(cwd: string, ...args: string[]): Promise<string> {
  return (await execa("git", args, { cwd, env: { LC_ALL: "C" } })).stdout;
}

/** A repository on `main` with one commit and a local identity. */
async function makeRepo(dir?: string): Promise<string> {
  const repo = dir ?? path.join(await tempDir(), "repo");
  await fs.mkdir(repo, { recursive: true });
  await sh(repo, "init", "--quiet", "--initial-branch=main");
  await sh(repo, "config", "user.name", "Test User");
  await sh(repo, "config", "user.email", "test@example.com");
  await fs.writeFile(path.join(repo, "README.md"), "hello\n");
  await sh(repo, "add", "README.md");
  await sh(repo, "commit", "--quiet", "-m", "initial");
  return repo;
}

async function head(cwd: string, rev = "HEAD"): Promise<string> {
  return sh(cwd, "rev-parse", rev);
}

/** Everything the bad cases must leave alone. */
async function snapshot(repo: string) {
  const exclude = await fs
    .readFile(path.join(repo, ".git", "info", "exclude"), "utf8")
    .catch(() => "(none)");
  return {
    worktrees: await sh(repo, "worktree", "list", "--porcelain"),
    refs: await sh(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
    status: await sh(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
    exclude,
  };
}

async function problemOf(promise: Promise<unknown>): Promise<IssueWorktreeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IssueWorktreeError);
  return error as IssueWorktreeError;
}

async function expectProblem(
  promise: Promise<unknown>,
  problem: WorktreeProblem,
  message: RegExp,
): Promise<IssueWorktreeError> {
  const error = await problemOf(promise);
  expect(error.problem).toBe(problem);
  expect(error.code).toBe("WORKTREE_ERROR");
  expect(error.message).toMatch(message);
  return error;
}

describe("ensureIssueWorktree", () => {
  it("creates .worktrees/issue-<N> on miyabi/issue-<N> from the current branch, hidden from the main checkout", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    expect(wt).toEqual({
      path: path.join(repo, ".worktrees", "issue-7"),
      relativePath: ".worktrees/issue-7",
      branch: "miyabi/issue-7",
      created: true,
      base: "refs/heads/main",
    });
    expect(await sh(wt.path, "symbolic-ref", "--short", "HEAD")).toBe("miyabi/issue-7");
    expect(await head(wt.path)).toBe(await head(repo, "main"));
    expect(await fs.readFile(path.join(wt.path, "README.md"), "utf8")).toBe("hello\n");
    expect(await sh(repo, "status", "--porcelain", "--untracked-files=all")).toBe("");
    expect(await fs.readFile(path.join(repo, ".git", "info", "exclude"), "utf8")).toMatch(
      /^\/\.worktrees\/$/m,
    );
    await expect(fs.access(path.join(repo, ".gitignore"))).rejects.toThrow();
  });

  it("reuses the worktree on later runs, with its files and commits", async () => {
    const repo = await makeRepo();
    const first = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    await fs.writeFile(path.join(first.path, "work.txt"), "phase 1\n");
    const { sha } = await commitPhase({ worktree: first.path, message: "phase 1" });

    // From a subdirectory and a symlinked path to the repository: still the same worktree.
    await fs.mkdir(path.join(repo, "sub"));
    const link = path.join(path.dirname(repo), "link");
    await fs.symlink(repo, link);
    const again = await ensureIssueWorktree({ repoDir: path.join(link, "sub"), issueNumber: 7 });
    expect(again).toEqual({ ...first, created: false, base: null });
    expect(await head(again.path)).toBe(sha);
    expect(await fs.readFile(path.join(again.path, "work.txt"), "utf8")).toBe("phase 1\n");
    const exclude = await fs.readFile(path.join(repo, ".git", "info", "exclude"), "utf8");
    expect(exclude.match(/^\/\.worktrees\/$/gm)).toHaveLength(1);
  });

  it("branches from origin/HEAD when it is set, without tracking it", async () => {
    const repo = await makeRepo();
    const origin = path.join(path.dirname(repo), "origin.git");
    await sh(path.dirname(repo), "init", "--quiet", "--bare", "--initial-branch=main", origin);
    await sh(repo, "remote", "add", "origin", origin);
    await sh(repo, "push", "--quiet", "origin", "main");
    await sh(repo, "remote", "set-head", "origin", "main");
    const published = await head(repo);
    // Local work on another branch must not become the base.
    await sh(repo, "switch", "--quiet", "-c", "feature");
    await sh(repo, "commit", "--quiet", "--allow-empty", "-m", "local only");

    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 3 });
    expect(wt.base).toBe("refs/remotes/origin/main");
    expect(await head(wt.path)).toBe(published);
    const upstream = await execa("git", ["config", "branch.miyabi/issue-3.merge"], {
      cwd: repo,
      reject: false,
    });
    expect(upstream.exitCode).toBe(1);
  });

  it("continues the issue branch from origin when it was pushed from elsewhere", async () => {
    const repo = await makeRepo();
    const origin = path.join(path.dirname(repo), "origin.git");
    await sh(path.dirname(repo), "init", "--quiet", "--bare", "--initial-branch=main", origin);
    await sh(repo, "remote", "add", "origin", origin);
    await sh(repo, "push", "--quiet", "origin", "main");
    // Another machine (CI) already committed a phase on the issue branch.
    const other = path.join(path.dirname(repo), "other");
    await sh(path.dirname(repo), "clone", "--quiet", origin, other);
    await sh(other, "switch", "--quiet", "-c", "miyabi/issue-4");
    await fs.writeFile(path.join(other, "ci.txt"), "from CI\n");
    await sh(other, "add", "ci.txt");
    await sh(other, "-c", "user.name=CI", "-c", "user.email=ci@x", "commit", "-q", "-m", "CI");
    await sh(other, "push", "--quiet", "origin", "miyabi/issue-4");
    await sh(repo, "fetch", "--quiet", "origin");

    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 4 });
    expect(wt.base).toBe("refs/remotes/origin/miyabi/issue-4");
    expect(await head(wt.path)).toBe(await head(other));
    expect(await sh(wt.path, "rev-parse", "--abbrev-ref", "@{upstream}")).toBe(
      "origin/miyabi/issue-4",
    );
  });

  it("takes the path, branch and base it is given", async () => {
    const repo = await makeRepo();
    const first = await head(repo);
    await sh(repo, "commit", "--quiet", "--allow-empty", "-m", "second");
    const wt = await ensureIssueWorktree({
      repoDir: repo,
      issueNumber: 9,
      path: path.join(repo, "work", "nine"),
      branch: "feat/nine",
      base: first,
    });
    expect(wt).toMatchObject({
      path: path.join(repo, "work", "nine"),
      relativePath: "work/nine",
      branch: "feat/nine",
      created: true,
      base: first,
    });
    expect(await head(wt.path)).toBe(first);
    expect(await sh(repo, "status", "--porcelain", "--untracked-files=all")).toBe("");
    expect(await fs.readFile(path.join(repo, ".git", "info", "exclude"), "utf8")).toMatch(
      /^\/work\/nine\/$/m,
    );
  });

  it("fills an empty directory already at the path", async () => {
    const repo = await makeRepo();
    await fs.mkdir(path.join(repo, ".worktrees", "issue-2"), { recursive: true });
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 2 });
    expect(wt.created).toBe(true);
    expect(await fs.readdir(wt.path)).toContain("README.md");
  });
});

describe("ensureIssueWorktree refuses, changing nothing", () => {
  it("when the path holds something that is not a worktree of this repository", async () => {
    const repo = await makeRepo();
    const dir = path.join(repo, ".worktrees", "issue-7");
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, "notes.txt"), "mine\n");
    const before = await snapshot(repo);
    const error = await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "not-a-worktree",
      /\.worktrees\/issue-7 exists but is not a worktree of .*\(it is a directory with 1 entry\)/,
    );
    expect(error.path).toBe(dir);
    expect(await fs.readdir(dir)).toEqual(["notes.txt"]);
    expect(await fs.readFile(path.join(dir, "notes.txt"), "utf8")).toBe("mine\n");
    expect(await snapshot(repo)).toEqual(before);

    // A clone of another repository there is named as such.
    await fs.rm(dir, { recursive: true });
    await makeRepo(dir);
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "not-a-worktree",
      /a working tree of another repository/,
    );
    expect(await sh(dir, "log", "--format=%s")).toBe("initial");
  });

  it("when a registered worktree's directory was replaced by something else", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    await fs.rm(wt.path, { recursive: true });
    await makeRepo(wt.path);
    const before = await snapshot(repo);
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "not-a-worktree",
      /is registered as a worktree of .*, but the directory there is not it any more/,
    );
    expect(await sh(wt.path, "log", "--format=%s")).toBe("initial");
    expect(await sh(wt.path, "symbolic-ref", "--short", "HEAD")).toBe("main");
    expect(await snapshot(repo)).toEqual(before);
  });

  it("when the worktree is registered but its directory is gone", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    await fs.rm(wt.path, { recursive: true });
    const before = await snapshot(repo);
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "missing",
      /registered .* but its directory is missing; run `git worktree prune` \(or `miyabi-sessions worktree prune`\)/,
    );
    await expect(fs.access(wt.path)).rejects.toThrow();
    expect(await snapshot(repo)).toEqual(before);
  });

  it("when the worktree is on another branch", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    await sh(wt.path, "switch", "--quiet", "-c", "something-else");
    const before = await snapshot(repo);
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "wrong-branch",
      /is on branch something-else, not miyabi\/issue-7/,
    );
    expect(await sh(wt.path, "symbolic-ref", "--short", "HEAD")).toBe("something-else");
    expect(await snapshot(repo)).toEqual(before);
  });

  it("when the branch is checked out in another worktree or the main checkout", async () => {
    const repo = await makeRepo();
    const elsewhere = await ensureIssueWorktree({
      repoDir: repo,
      issueNumber: 7,
      path: ".worktrees/elsewhere",
    });
    const before = await snapshot(repo);
    const error = await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "branch-in-use",
      /Branch miyabi\/issue-7 is already checked out in another worktree at .*\.worktrees\/elsewhere/,
    );
    expect(error.path).toBe(elsewhere.path);
    await expect(fs.access(path.join(repo, ".worktrees", "issue-7"))).rejects.toThrow();
    expect(await snapshot(repo)).toEqual(before);

    await sh(repo, "switch", "--quiet", "-c", "miyabi/issue-8");
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 8 }),
      "branch-in-use",
      /checked out in the main working tree at /,
    );
    await expect(fs.access(path.join(repo, ".worktrees", "issue-8"))).rejects.toThrow();
  });

  it("when the path is outside the repository, also through a symbolic link", async () => {
    const repo = await makeRepo();
    const outside = path.join(path.dirname(repo), "outside");
    await fs.mkdir(outside);
    const before = await snapshot(repo);
    const attempts: [string, RegExp][] = [
      ["../outside/issue-7", /contains "\.\."/],
      [".worktrees/../../outside/issue-7", /contains "\.\."/],
      [path.join(outside, "issue-7"), /is not inside the repository/],
      [repo, /is not inside the repository/],
      [".git/issue-7", /inside the repository's \.git directory/],
    ];
    for (const [wanted, message] of attempts) {
      await expectProblem(
        ensureIssueWorktree({ repoDir: repo, issueNumber: 7, path: wanted }),
        "outside-repository",
        message,
      );
    }
    // .worktrees itself a link to a directory outside.
    await fs.symlink(outside, path.join(repo, ".worktrees"));
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "outside-repository",
      /resolves to .*\/outside\/issue-7, which is not inside the repository/,
    );
    // ... or to a place that does not exist (creating through it would write there).
    await fs.rm(path.join(repo, ".worktrees"));
    await fs.symlink(path.join(outside, "gone"), path.join(repo, ".worktrees"));
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "outside-repository",
      /symbolic link to a missing location/,
    );
    await fs.rm(path.join(repo, ".worktrees"));
    expect(await fs.readdir(outside)).toEqual([]);
    expect(await snapshot(repo)).toEqual(before);
  });

  it("when the path is inside another worktree", async () => {
    const repo = await makeRepo();
    const one = await ensureIssueWorktree({ repoDir: repo, issueNumber: 1 });
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 2, path: ".worktrees/issue-1/nested" }),
      "outside-repository",
      /inside another working tree \(.*\.worktrees\/issue-1\)/,
    );
    expect(await sh(one.path, "status", "--porcelain")).toBe("");
  });

  it("when repoDir is not a git repository", async () => {
    const dir = await tempDir();
    await fs.writeFile(path.join(dir, "file.txt"), "x\n");
    await expectProblem(
      ensureIssueWorktree({ repoDir: dir, issueNumber: 1 }),
      "not-a-repository",
      /is not inside the working tree of a git repository/,
    );
    await expectProblem(
      ensureIssueWorktree({ repoDir: path.join(dir, "nope"), issueNumber: 1 }),
      "not-a-repository",
      /does not exist/,
    );
    expect(await fs.readdir(dir)).toEqual(["file.txt"]);
  });

  it("when the worktree has uncommitted changes, unless allowed", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    await sh(wt.path, "mv", "README.md", "GUIDE.md");
    await fs.writeFile(path.join(wt.path, "GUIDE.md"), "changed\n");
    await fs.writeFile(path.join(wt.path, "new.txt"), "new\n");
    const before = await snapshot(repo);
    const error = await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "dirty",
      /uncommitted changes from an earlier run:\n {2}(RM README\.md -> GUIDE\.md|\?\? new\.txt)\n/,
    );
    expect(error.files.sort()).toEqual(["?? new.txt", "RM README.md -> GUIDE.md"]);
    expect(error.message).toContain("?? new.txt");
    expect(await snapshot(repo)).toEqual(before);

    const reused = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7, allowDirty: true });
    expect(reused.created).toBe(false);
    expect(await fs.readFile(path.join(wt.path, "GUIDE.md"), "utf8")).toBe("changed\n");
    expect(await fs.readFile(path.join(wt.path, "new.txt"), "utf8")).toBe("new\n");
  });

  it("when there is no base to branch from, or the branch name or issue number is invalid", async () => {
    const repo = await makeRepo();
    await sh(repo, "switch", "--quiet", "--detach");
    const before = await snapshot(repo);
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7 }),
      "invalid",
      /origin\/HEAD is not set and HEAD is detached\. Pass the base/,
    );
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7, base: "no-such-branch" }),
      "invalid",
      /Base "no-such-branch" is not a commit/,
    );
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7, branch: "bad..name" }),
      "invalid",
      /"bad\.\.name" is not a valid git branch name/,
    );
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 7, branch: "--force" }),
      "invalid",
      /not a valid git branch name/,
    );
    await expectProblem(
      ensureIssueWorktree({ repoDir: repo, issueNumber: 0 }),
      "invalid",
      /positive integer/,
    );
    expect(await snapshot(repo)).toEqual(before);

    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7, base: "main" });
    expect(wt.created).toBe(true);
  });
});

describe("commitPhase", () => {
  it("commits each phase's changes with its message, and nothing when nothing changed", async () => {
    const repo = await makeRepo();
    const mainHead = await head(repo);
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    await fs.writeFile(path.join(wt.path, "a.txt"), "a\n");
    const { sha: first } = await commitPhase({
      worktree: wt.path,
      message: "CodeGeneration for #7",
    });
    expect(first).toMatch(/^[0-9a-f]{40}$/);
    expect(await sh(wt.path, "log", "-1", "--format=%H %s")).toBe(`${first} CodeGeneration for #7`);

    expect((await commitPhase({ worktree: wt.path, message: "Review for #7" })).sha).toBeNull();
    expect(await head(wt.path)).toBe(first);

    await fs.writeFile(path.join(wt.path, "a.txt"), "a, reviewed\n");
    await fs.rm(path.join(wt.path, "README.md"));
    await fs.mkdir(path.join(wt.path, "dir"));
    await fs.writeFile(path.join(wt.path, "dir", "b.txt"), "b\n");
    const { sha: second } = await commitPhase({
      worktree: wt.path,
      message: "Review for #7\n\nDetails.",
    });
    expect(await sh(wt.path, "log", "-1", "--format=%P%n%B", second ?? "")).toBe(
      `${first}\nReview for #7\n\nDetails.\n`,
    );
    expect(await sh(wt.path, "show", "--name-status", "--format=", second ?? "")).toBe(
      "D\tREADME.md\nM\ta.txt\nA\tdir/b.txt",
    );
    expect(await sh(wt.path, "status", "--porcelain")).toBe("");
    expect(await head(repo, "main")).toBe(mainHead);
  });

  it("uses the configured identity, else the one given, else Miyabi's", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    const who = () => sh(wt.path, "log", "-1", "--format=%an <%ae> / %cn <%ce>");

    await fs.writeFile(path.join(wt.path, "1.txt"), "1\n");
    await commitPhase({ worktree: wt.path, message: "configured" });
    expect(await who()).toBe("Test User <test@example.com> / Test User <test@example.com>");

    await fs.writeFile(path.join(wt.path, "2.txt"), "2\n");
    await commitPhase({
      worktree: wt.path,
      message: "given",
      author: { name: "Bot", email: "bot@example.com" },
    });
    expect(await who()).toBe("Bot <bot@example.com> / Bot <bot@example.com>");

    await sh(repo, "config", "--unset", "user.name");
    await sh(repo, "config", "--unset", "user.email");
    await fs.writeFile(path.join(wt.path, "3.txt"), "3\n");
    await commitPhase({ worktree: wt.path, message: "nobody configured" });
    expect(await who()).toBe(
      "Miyabi <miyabi@users.noreply.github.com> / Miyabi <miyabi@users.noreply.github.com>",
    );
  });

  it("skips commit hooks unless asked to run them", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    const hook = path.join(repo, ".git", "hooks", "pre-commit");
    await fs.writeFile(hook, "#!/bin/sh\necho 'lint failed' >&2\nexit 1\n", { mode: 0o755 });
    await fs.writeFile(path.join(wt.path, "a.txt"), "a\n");
    expect((await commitPhase({ worktree: wt.path, message: "checkpoint" })).sha).toMatch(
      /^[0-9a-f]{40}$/,
    );
    await fs.writeFile(path.join(wt.path, "b.txt"), "b\n");
    await expect(
      commitPhase({ worktree: wt.path, message: "checked", verify: true }),
    ).rejects.toThrow(/git commit .* failed \(exit 1\) in .*: lint failed/);
  });

  it("never picks up files outside the worktree", async () => {
    const repo = await makeRepo();
    const mainHead = await head(repo);
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 7 });
    await fs.writeFile(path.join(repo, "stray.txt"), "main checkout\n");
    await fs.writeFile(path.join(repo, "README.md"), "edited in the main checkout\n");
    await fs.writeFile(path.join(wt.path, "only.txt"), "worktree\n");
    await fs.mkdir(path.join(wt.path, "sub"));

    // A subdirectory would still stage the whole worktree: refused.
    await expectProblem(
      commitPhase({ worktree: path.join(wt.path, "sub"), message: "x" }),
      "not-a-worktree",
      /is inside the working tree .*issue-7, not its top/,
    );
    expect(await sh(wt.path, "diff", "--cached", "--name-only")).toBe("");

    // As when run from a git hook of the main checkout: these must not redirect the commit.
    vi.stubEnv("GIT_DIR", path.join(repo, ".git"));
    vi.stubEnv("GIT_WORK_TREE", repo);
    vi.stubEnv("GIT_INDEX_FILE", path.join(repo, ".git", "index"));
    const { sha } = await commitPhase({ worktree: wt.path, message: "phase" });
    for (const name of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"]) vi.stubEnv(name, undefined);

    expect(await sh(wt.path, "show", "--name-only", "--format=", sha ?? "")).toBe("only.txt");
    expect(await head(wt.path)).toBe(sha);
    expect(await head(repo)).toBe(mainHead);
    expect(await sh(repo, "diff", "--cached", "--name-only")).toBe("");
    expect(await sh(repo, "status", "--porcelain")).toBe(" M README.md\n?? stray.txt");
  });
});

describe("list, remove and prune", () => {
  it("lists the linked worktrees with their issue, branch, head and state", async () => {
    const repo = await makeRepo();
    const three = await ensureIssueWorktree({ repoDir: repo, issueNumber: 3 });
    const twelve = await ensureIssueWorktree({ repoDir: repo, issueNumber: 12 });
    const scratch = await ensureIssueWorktree({
      repoDir: repo,
      issueNumber: 99,
      path: "scratch",
      branch: "scratch",
    });
    await fs.writeFile(path.join(twelve.path, "wip.txt"), "wip\n");
    await fs.writeFile(path.join(three.path, "done.txt"), "done\n");
    const { sha } = await commitPhase({ worktree: three.path, message: "done" });
    await sh(scratch.path, "switch", "--quiet", "--detach");
    const base = await head(repo);

    const list = await listIssueWorktrees(repo);
    expect(list.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      {
        path: twelve.path,
        branch: "miyabi/issue-12",
        issueNumber: 12,
        head: base,
        dirty: true,
        prunable: false,
        locked: false,
      },
      {
        path: three.path,
        branch: "miyabi/issue-3",
        issueNumber: 3,
        head: sha,
        dirty: false,
        prunable: false,
        locked: false,
      },
      {
        path: scratch.path,
        branch: null,
        issueNumber: null,
        head: base,
        dirty: false,
        prunable: false,
        locked: false,
      },
    ]);
  });

  it("removes a worktree, refusing a dirty one unless forced, and keeps its branch", async () => {
    const repo = await makeRepo();
    const clean = await ensureIssueWorktree({ repoDir: repo, issueNumber: 1 });
    const dirty = await ensureIssueWorktree({ repoDir: repo, issueNumber: 2 });
    await fs.writeFile(path.join(dirty.path, "wip.txt"), "unsaved\n");

    await expectProblem(
      removeIssueWorktree({ repoDir: repo, path: dirty.relativePath }),
      "dirty",
      /uncommitted changes, which removing it would lose:\n {2}\?\? wip\.txt/,
    );
    expect(await fs.readFile(path.join(dirty.path, "wip.txt"), "utf8")).toBe("unsaved\n");

    await removeIssueWorktree({ repoDir: repo, path: dirty.relativePath, force: true });
    await removeIssueWorktree({ repoDir: repo, path: clean.path });
    await expect(fs.access(dirty.path)).rejects.toThrow();
    await expect(fs.access(clean.path)).rejects.toThrow();
    expect(await listIssueWorktrees(repo)).toEqual([]);
    expect(await sh(repo, "branch", "--list", "miyabi/*", "--format=%(refname:short)")).toBe(
      "miyabi/issue-1\nmiyabi/issue-2",
    );

    await expectProblem(
      removeIssueWorktree({ repoDir: repo, path: ".worktrees/issue-1" }),
      "not-a-worktree",
      /is not a worktree of/,
    );
    await expectProblem(
      removeIssueWorktree({ repoDir: repo, path: "." }),
      "invalid",
      /main working tree/,
    );
  });

  it("prunes worktrees whose directory is gone; the branch's work comes back with the next run", async () => {
    const repo = await makeRepo();
    const wt = await ensureIssueWorktree({ repoDir: repo, issueNumber: 5 });
    const kept = await ensureIssueWorktree({ repoDir: repo, issueNumber: 6 });
    await fs.writeFile(path.join(wt.path, "a.txt"), "a\n");
    const { sha } = await commitPhase({ worktree: wt.path, message: "phase 1" });
    await fs.rm(wt.path, { recursive: true });

    expect(
      (await listIssueWorktrees(repo)).map((w) => [w.issueNumber, w.prunable, w.dirty]),
    ).toEqual([
      [5, true, false],
      [6, false, false],
    ]);
    expect(await pruneWorktrees(repo)).toEqual([wt.path]);
    expect((await listIssueWorktrees(repo)).map((w) => w.path)).toEqual([kept.path]);
    expect(await pruneWorktrees(repo)).toEqual([]);

    const again = await ensureIssueWorktree({ repoDir: repo, issueNumber: 5 });
    expect(again).toMatchObject({ path: wt.path, created: true, base: null });
    expect(await head(again.path)).toBe(sha);
    expect(await fs.readFile(path.join(again.path, "a.txt"), "utf8")).toBe("a\n");
  });
});

describe("git helper", () => {
  it("reports the command, git's message and the exit code, with the failure as cause", async () => {
    const repo = await makeRepo();
    const error = await git(["rev-parse", "--verify", "no such"], { cwd: repo }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorktreeError);
    expect((error as WorktreeError).message).toBe(
      `git rev-parse --verify "no such" failed (exit 128) in ${repo}: fatal: Needed a single revision`,
    );
    expect((error as WorktreeError).cause).toMatchObject({ exitCode: 128 });
    await expect(git(["status"], { cwd: path.join(repo, "missing") })).rejects.toThrow(
      /Cannot run git status in .*missing: the directory does not exist/,
    );
  });

  it("runs git without prompts, in the C locale, blind to GIT_DIR and friends", async () => {
    const repo = await makeRepo();
    vi.stubEnv("GIT_DIR", "/nonexistent/.git");
    vi.stubEnv("GIT_INDEX_FILE", "/nonexistent/index");
    vi.stubEnv("LC_ALL", "fr_FR.UTF-8");
    const env = await git(["-c", "alias.env=!env", "env"], { cwd: repo });
    const vars = new Map(
      env.split("\n").map((l) => [l.split("=")[0], l.slice(l.indexOf("=") + 1)]),
    );
    expect(vars.get("GIT_TERMINAL_PROMPT")).toBe("0");
    expect(vars.get("LC_ALL")).toBe("C");
    // git sets GIT_DIR for aliases itself: the repository it found, not the stubbed one.
    expect(vars.get("GIT_DIR")).not.toBe("/nonexistent/.git");
    expect(vars.has("GIT_INDEX_FILE")).toBe(false);
  });
});

describe("phases in an issue worktree (real Claude Code CLI)", () => {
  it("a file written by phase 1 is seen and changed by phase 2, one commit each", async () => {
    let file = "";
    const READ_ID = "toolu_phase2_read";
    const r = await rig((_req, index) => {
      if (index === 0)
        return {
          toolUses: [
            { name: "Write", input: { file_path: file, content: "hello from phase 1\n" } },
          ],
        };
      if (index === 1) return { text: "Wrote notes.txt" };
      if (index === 2)
        return { toolUses: [{ id: READ_ID, name: "Read", input: { file_path: file } }] };
      if (index === 3)
        return {
          toolUses: [
            {
              name: "Edit",
              input: {
                file_path: file,
                old_string: "hello from phase 1",
                new_string: "hello from phase 1, reviewed",
              },
            },
          ],
        };
      return structuredOutputTurn({ verdict: "approve" });
    });
    await makeRepo(r.repo);
    const wt = await ensureIssueWorktree({ repoDir: r.repo, issueNumber: 42 });
    file = path.join(wt.path, "notes.txt");
    const issue = { number: 42, title: "Add notes", body: "Please add notes.txt" };
    const common = {
      store: r.store,
      issue,
      pipeline: DEFAULT_PIPELINE,
      repoDir: r.repo,
      worktree: wt.relativePath,
      commit: true,
      claude: r.claude(),
    };

    const one = await runPhase({ ...common, step: "codegen" });
    expect(one.status).toBe("completed");
    expect(one.sessions[0]?.context.worktreePath).toBe(".worktrees/issue-42");
    const first = one.sessions[0]?.result?.commit;
    expect(first).toMatch(/^[0-9a-f]{40}$/);
    await expect(fs.access(path.join(r.repo, "notes.txt"))).rejects.toThrow();

    const reused = await ensureIssueWorktree({ repoDir: r.repo, issueNumber: 42 });
    expect(reused.created).toBe(false);
    const two = await runPhase({ ...common, step: "review" });
    expect(two.status).toBe("completed");
    // What phase 2's Read returned to the model is phase 1's file. (The resumed conversation
    // also holds phase 1's Write input, so only the Read's own result counts.)
    const readResults = messagesOf(turns(r.server)[3]?.body)
      .flatMap((m) => (Array.isArray(m.content) ? (m.content as Record<string, unknown>[]) : []))
      .filter((b) => b.type === "tool_result" && b.tool_use_id === READ_ID);
    expect(readResults).toHaveLength(1);
    expect(readResults[0]?.is_error).not.toBe(true);
    expect(JSON.stringify(readResults[0]?.content)).toContain("hello from phase 1");
    const second = two.sessions[0]?.result?.commit as string;

    expect(await sh(wt.path, "log", "--format=%s", "-3")).toBe(
      "Review: ReviewAgent for #42\nCodeGeneration: CodeGenAgent for #42\ninitial",
    );
    expect(await sh(wt.path, "log", "--format=%b", "-1")).toContain(
      `Miyabi session ${two.sessions[0]?.id}`,
    );
    expect(await sh(wt.path, "rev-parse", "HEAD~1")).toBe(first);
    expect(await sh(wt.path, "show", `${second}:notes.txt`)).toBe("hello from phase 1, reviewed");
    expect(await sh(r.repo, "status", "--porcelain", "--untracked-files=all")).toBe("");
  });
});
