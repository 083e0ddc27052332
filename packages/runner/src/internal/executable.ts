import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { ClaudeNotFoundError } from "./errors.js";

async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Claude Code CLI to run: `explicit` (a path, or a bare name looked up on PATH), else
 * `claude` on PATH. Checked before any session changes, so a missing CLI costs nothing.
 */
export async function resolveClaude(
  explicit: string | undefined,
  envPath: string | undefined = process.env.PATH,
): Promise<string> {
  const wanted = explicit ?? "claude";
  if (wanted.includes("/")) {
    const file = path.resolve(wanted);
    if (await isExecutable(file)) return file;
    throw new ClaudeNotFoundError(wanted, "the file does not exist or is not executable");
  }
  const found = await findOnPath(wanted, envPath);
  if (found) return found;
  throw new ClaudeNotFoundError(wanted, "it was not found on PATH");
}

/** The first executable file called `name` in the directories of `searchPath`. */
export async function findOnPath(
  name: string,
  searchPath: string | undefined,
): Promise<string | undefined> {
  for (const dir of (searchPath ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (await isExecutable(file)) return file;
  }
  return undefined;
}
