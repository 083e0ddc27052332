import fs from "node:fs/promises";
import path from "node:path";
import { WorktreeError } from "./errors.js";
import { git } from "./git.js";

/**
 * Paths whose content instructs or configures the agents, git or CI: the next phase would
 * read an agent's version of them as trusted instructions. Agents' changes to them are never
 * committed (unless allowed by name) and are reverted after every run. `CLAUDE.md` and
 * `.claude/` count at any depth (Claude Code reads nested ones), the rest at the top.
 */
export const PROTECTED_PATHS: readonly string[] = [
  ".claude/",
  ".mcp.json",
  "CLAUDE.md",
  ".miyabi/",
  ".github/",
  ".git*",
];

const ANY_DEPTH = new Set([".claude", "CLAUDE.md", "CLAUDE.local.md"]);
const TOP_LEVEL = new Set([".mcp.json", ".miyabi", ".github"]);

/** Whether a path relative to the working tree's top (with `/`) is protected. */
export function isProtectedPath(relative: string): boolean {
  const parts = relative.split("/").filter((p) => p !== "" && p !== ".");
  const first = parts[0];
  if (first === undefined) return false;
  if (TOP_LEVEL.has(first) || first.startsWith(".git")) return true;
  return parts.some((p) => ANY_DEPTH.has(p));
}

/** Allowed by name: the path itself or a directory above it is listed. */
export function isAllowedPath(relative: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => {
    const name = a.replace(/\/+$/, "");
    return relative === name || relative.startsWith(`${name}/`);
  });
}

type Entry =
  | { kind: "dir"; mode: number }
  | { kind: "file"; mode: number; data: Buffer }
  | { kind: "link"; target: string };

export type ProtectedSnapshot = Map<string, Entry>;

/** Snapshots bigger than this are refused: protected files are configuration, not data. */
const SNAPSHOT_LIMIT = 64 * 1024 * 1024;

async function readEntry(file: string): Promise<Entry | null> {
  const stat = await fs.lstat(file);
  if (stat.isDirectory()) return { kind: "dir", mode: stat.mode & 0o7777 };
  if (stat.isSymbolicLink()) return { kind: "link", target: await fs.readlink(file) };
  if (stat.isFile())
    return { kind: "file", mode: stat.mode & 0o7777, data: await fs.readFile(file) };
  return null;
}

/**
 * Every protected path in `root` (files, directories, symlinks; never following a link), by
 * relative path. The repository's own `.git` directory is not part of it: the jail keeps it
 * read-only, and it is git's to manage.
 */
export async function snapshotProtected(root: string): Promise<ProtectedSnapshot> {
  const snapshot: ProtectedSnapshot = new Map();
  let bytes = 0;
  const stack: string[] = [""];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const item of await fs.readdir(path.join(root, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${item.name}` : item.name;
      if (rel === ".git" && item.isDirectory()) continue;
      if (isProtectedPath(rel)) {
        const entry = await readEntry(path.join(root, rel));
        if (!entry) continue;
        snapshot.set(rel, entry);
        if (entry.kind === "file") bytes += entry.data.length;
        if (bytes > SNAPSHOT_LIMIT)
          throw new WorktreeError(
            `The protected paths in ${root} hold more than ${SNAPSHOT_LIMIT} bytes; keep large files out of ${PROTECTED_PATHS.join(", ")}.`,
          );
      }
      if (item.isDirectory() && item.name !== "node_modules") stack.push(rel);
    }
  }
  return snapshot;
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a.kind === "file" && b.kind === "file") return a.mode === b.mode && a.data.equals(b.data);
  if (a.kind === "link" && b.kind === "link") return a.target === b.target;
  if (a.kind === "dir" && b.kind === "dir") return a.mode === b.mode;
  return false;
}

/**
 * Put the protected paths of `root` back as `before` had them: remove what was added,
 * rewrite what changed, recreate what was deleted. Returns the paths it reverted.
 * A path whose parent is no longer a directory inside `root` (an agent replaced it with a
 * symlink) is removed at the top and recreated, so nothing is ever written outside `root`.
 */
export async function restoreProtected(
  worktree: string,
  before: ProtectedSnapshot,
  allowed: readonly string[] = [],
): Promise<string[]> {
  const root = await fs.realpath(worktree);
  const now = await snapshotProtected(root);
  const reverted = new Set<string>();
  const keep = (rel: string) => isAllowedPath(rel, allowed);
  // Deepest first, so removing a directory never races its contents.
  const added = [...now.keys()].filter((rel) => !before.has(rel) && !keep(rel));
  for (const rel of added.sort((a, b) => b.length - a.length)) {
    await fs.rm(path.join(root, rel), { recursive: true, force: true });
    reverted.add(rel);
  }
  const wanted = [...before.entries()].sort(([a], [b]) => a.length - b.length);
  for (const [rel, entry] of wanted) {
    if (keep(rel)) continue;
    const current = now.get(rel);
    if (current && sameEntry(current, entry)) continue;
    const file = path.join(root, rel);
    const parent = path.dirname(file);
    const realParent = await fs.realpath(parent).catch(() => null);
    if (realParent !== parent) continue;
    if (current && !(current.kind === "dir" && entry.kind === "dir")) {
      await fs.rm(file, { recursive: true, force: true });
    }
    if (entry.kind === "dir") {
      await fs.mkdir(file, { recursive: true });
      await fs.chmod(file, entry.mode);
    } else if (entry.kind === "link") await fs.symlink(entry.target, file);
    else {
      await fs.writeFile(file, entry.data, { mode: entry.mode, flag: "wx" });
      await fs.chmod(file, entry.mode);
    }
    reverted.add(rel);
  }
  return [...reverted].sort();
}

/**
 * Stage every change in the working tree `dir` except protected paths not allowed by name,
 * which stay out of the index (also when they were staged before). Returns those left out.
 */
export async function stageUnprotected(dir: string, allowed: readonly string[]): Promise<string[]> {
  const status = await git(
    ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"],
    { cwd: dir },
  );
  const changed = status
    .split("\0")
    .filter((entry) => entry.length > 3)
    .map((entry) => entry.slice(3));
  const leftOut = changed.filter((p) => isProtectedPath(p) && !isAllowedPath(p, allowed));
  const stage = changed.filter((p) => !leftOut.includes(p));
  // Literal pathspecs: a file name is never read as a glob or magic.
  for (let i = 0; i < stage.length; i += 500) {
    const batch = stage.slice(i, i + 500).map((p) => `:(literal)${p}`);
    await git(["add", "--all", "--", ...batch], { cwd: dir });
  }
  const staged = (await git(["diff", "--cached", "--name-only", "-z"], { cwd: dir }))
    .split("\0")
    .filter((p) => p && leftOut.includes(p));
  if (staged.length > 0)
    await git(["reset", "--quiet", "--", ...staged.map((p) => `:(literal)${p}`)], { cwd: dir });
  return leftOut.sort();
}
