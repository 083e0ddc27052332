import { tryGit } from "@miyabi/runner";
import { ProtectedPatchError, WorkBranchError } from "./errors.js";

/*
 * Files that are instructions, not code: Claude Code's settings and hooks (.claude/,
 * .mcp.json, CLAUDE.md at any depth), the pipeline's prompts (.miyabi/), workflows
 * (.github/) and git's own files (.gitattributes filters, .gitmodules). An agent writing one
 * would steer the next agent or the next workflow run, so none travels from job to job unless
 * the workflow names it.
 */
const PROTECTED_NAMES = new Set([".claude", ".mcp.json", "claude.md", ".miyabi", ".github"]);

export function isProtectedPath(file: string, allowed: readonly string[] = []): boolean {
  const normal = file.replaceAll("\\", "/").replace(/^\.\//, "");
  if (allowed.some((a) => normal === a || normal.startsWith(a.endsWith("/") ? a : `${a}/`))) {
    return false;
  }
  return normal
    .split("/")
    .some(
      (part) => PROTECTED_NAMES.has(part.toLowerCase()) || part.toLowerCase().startsWith(".git"),
    );
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
  return paths.filter((p) => p !== "");
}

/** Refuse a patch that touches a protected path the workflow did not allow. */
export async function checkPatch(
  workspace: string,
  file: string,
  allowed: readonly string[],
): Promise<void> {
  const touched = (await patchPaths(workspace, file)).filter((p) => isProtectedPath(p, allowed));
  if (touched.length > 0) throw new ProtectedPatchError(file, touched);
}
