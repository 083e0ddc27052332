import fs from "node:fs/promises";
import { isProtectedPath, tryGit } from "@miyabi/runner";
import { ProtectedPatchError, WorkBranchError } from "./errors.js";

/*
 * A patch carried between jobs (push: false) is the agent's work, and its paths are the
 * agent's choice: one that touches what the runner never commits (PROTECTED_PATHS: Claude
 * Code's settings and hooks, CLAUDE.md, the pipeline's prompts, workflows, git's own files)
 * would steer the next agent or workflow run, so it is refused unless the workflow names it.
 */

/** A protected path the workflow did not allow by name (the path or a directory above it). */
export function refusedPath(file: string, allowed: readonly string[]): boolean {
  const named = allowed.some((a) => {
    const name = a.replace(/\/+$/, "");
    return file === name || file.startsWith(`${name}/`);
  });
  return !named && isProtectedPath(file);
}

/** Every path a patch series creates, changes, deletes or renames (from and to), per git. */
export async function patchPaths(workspace: string, file: string): Promise<string[]> {
  const r = await tryGit(["apply", "--numstat", "-z", file], { cwd: workspace });
  if (r.exitCode !== 0) {
    throw new WorkBranchError(
      "patch",
      `git cannot read the patch ${file} (${r.stderr.trim().split("\n").at(-1) ?? ""}); it was not applied.`,
    );
  }
  // -z: "added<TAB>deleted<TAB>path<NUL>", or for a rename "added<TAB>deleted<TAB><NUL>from<NUL>to<NUL>".
  const fields = r.stdout.split("\0");
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    const stat = /^(?:\d+|-)\t(?:\d+|-)\t(.*)$/s.exec(field);
    if (!stat) continue;
    if (stat[1] === "") {
      paths.push(fields[i + 1] ?? "", fields[i + 2] ?? "");
      i += 2;
    } else paths.push(stat[1] as string);
  }
  // numstat names a rename or copy by its new path only; the old one is in the headers, as
  // written (C-quoted when unusual: one that does not unquote is refused as unknown).
  const patch = await fs.readFile(file, "utf8");
  for (const m of patch.matchAll(/^(?:rename|copy) from (.+)$/gm)) {
    paths.push(unquote(m[1] as string));
  }
  return paths.filter((p) => p !== "");
}

/** git's quoting of an unusual path ("a\tb", octal escapes); unknown forms stay quoted. */
function unquote(name: string): string {
  if (!name.startsWith('"')) return name;
  const bytes: number[] = [];
  const body = name.slice(1, -1);
  const simple: Record<string, number> = {
    n: 10,
    t: 9,
    '"': 34,
    "\\": 92,
    a: 7,
    b: 8,
    f: 12,
    r: 13,
    v: 11,
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch !== "\\") {
      bytes.push(...Buffer.from(ch));
      continue;
    }
    const next = body[i + 1] ?? "";
    const octal = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 3;
    } else if (next in simple) {
      bytes.push(simple[next] as number);
      i += 1;
    } else return name;
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Refuse a patch that touches a protected path the workflow did not allow. */
export async function checkPatch(
  workspace: string,
  file: string,
  allowed: readonly string[],
): Promise<void> {
  const touched = (await patchPaths(workspace, file)).filter((p) => refusedPath(p, allowed));
  if (touched.length > 0) throw new ProtectedPatchError(file, touched);
}
