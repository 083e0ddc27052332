import fs from "node:fs/promises";
import path from "node:path";

/** The working tree a directory belongs to, found without starting git (record-only commands stay fast). */
export interface Repository {
  /** Top of the main working tree (for a linked worktree: the main checkout's). */
  root: string;
  /** The repository's common git directory, where info/exclude lives. */
  gitDir: string;
}

async function readIfFile(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return null;
    throw error;
  }
}

/**
 * The repository enclosing `start`, or null outside one. A linked worktree (`.git` is a file
 * naming `<common>/worktrees/<name>`) resolves to the main working tree, so an issue worktree's
 * sessions land in the same store as the checkout's.
 */
export async function findRepository(start: string): Promise<Repository | null> {
  let dir = path.resolve(start);
  for (;;) {
    const dotGit = path.join(dir, ".git");
    const stat = await fs.stat(dotGit).catch(() => null);
    if (stat?.isDirectory()) return { root: dir, gitDir: dotGit };
    if (stat?.isFile()) {
      const pointer = /^gitdir:\s*(.+?)\s*$/m.exec((await readIfFile(dotGit)) ?? "")?.[1];
      if (pointer) {
        const own = path.resolve(dir, pointer);
        const common = (await readIfFile(path.join(own, "commondir")))?.trim();
        const gitDir = common ? path.resolve(own, common) : own;
        const main = path.dirname(gitDir);
        return { root: path.basename(gitDir) === ".git" ? main : dir, gitDir };
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export const DEFAULT_STORE = path.join(".ai", "sessions");

export interface StoreLocation {
  dir: string;
  /** The repository the store belongs to, when it lies inside one. */
  repository: Repository | null;
  /** Chosen by default (not --dir or MIYABI_SESSIONS_DIR). */
  isDefault: boolean;
}

/**
 * Where the store is: --dir, else MIYABI_SESSIONS_DIR, else `.ai/sessions` at the top of the
 * repository (`--repo`, else the one enclosing the current directory), else in the current
 * directory.
 */
export async function storeLocation(args: {
  dirFlag: string | undefined;
  env: Record<string, string | undefined>;
  repo: string | undefined;
  cwd: string;
}): Promise<StoreLocation> {
  const explicit = args.dirFlag ?? (args.env.MIYABI_SESSIONS_DIR || undefined);
  if (explicit !== undefined) {
    const dir = path.resolve(args.cwd, explicit);
    return { dir, repository: await findRepository(path.dirname(dir)), isDefault: false };
  }
  const repository = await findRepository(path.resolve(args.cwd, args.repo ?? "."));
  const base = repository?.root ?? path.resolve(args.cwd, args.repo ?? ".");
  return { dir: path.join(base, DEFAULT_STORE), repository, isDefault: true };
}

/**
 * Keep the store out of `git status` and `git add -A` through .git/info/exclude (never the
 * user's .gitignore): `.ai/` for the default place, the store's own path otherwise.
 */
export async function excludeStore(location: StoreLocation): Promise<void> {
  const repo = location.repository;
  if (!repo) return;
  const relative = path.relative(repo.root, location.dir);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) return;
  const pattern = location.isDefault ? ".ai/" : `/${relative.split(path.sep).join("/")}/`;
  const file = path.join(repo.gitDir, "info", "exclude");
  const text = (await readIfFile(file)) ?? "";
  if (text.split(/\r?\n/).some((line) => line.trim() === pattern)) return;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const separator = text === "" || text.endsWith("\n") ? "" : "\n";
  await fs.appendFile(file, `${separator}# miyabi session store\n${pattern}\n`);
}
