/** Git for tests: a bare repository standing in for origin, and a quiet way to run git. */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";

/** Run git (tests only), returning its trimmed stdout. */
export function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Tester",
      GIT_AUTHOR_EMAIL: "tester@example.com",
      GIT_COMMITTER_NAME: "Tester",
      GIT_COMMITTER_EMAIL: "tester@example.com",
    },
  }).trim();
}

/** A bare repository with one commit on main: the `origin` every job's checkout clones. */
export function bareOrigin(root: string): string {
  const origin = path.join(root, "origin.git");
  const seed = path.join(root, "seed");
  sh(root, "init", "--quiet", "--bare", "--initial-branch=main", origin);
  sh(root, "init", "--quiet", "--initial-branch=main", seed);
  writeFileSync(path.join(seed, "README.md"), "# widgets\n");
  sh(seed, "add", "README.md");
  sh(seed, "commit", "--quiet", "-m", "initial");
  sh(seed, "push", "--quiet", origin, "main");
  return origin;
}
