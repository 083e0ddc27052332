import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { findOnPath } from "./executable.js";
import { tryGit } from "./git.js";

export interface SandboxProbe {
  usable: boolean;
  /** Why not, when it is not usable. */
  reason?: string;
}

/** The smallest jail that needs what the real one needs: a user and a pid namespace. */
const PROBE_ARGS = [
  "--ro-bind",
  "/",
  "/",
  "--unshare-pid",
  "--proc",
  "/proc",
  "--dev",
  "/dev",
  "--die-with-parent",
  "--new-session",
  "--",
  "true",
];

let probed: Promise<SandboxProbe & { bwrap?: string }> | undefined;

async function probeOnce(): Promise<SandboxProbe & { bwrap?: string }> {
  if (process.platform !== "linux")
    return { usable: false, reason: `bubblewrap needs Linux, this is ${process.platform}` };
  const bwrap = await findOnPath("bwrap", process.env.PATH);
  if (!bwrap) return { usable: false, reason: "bubblewrap (bwrap) is not installed" };
  const run = await execa(bwrap, PROBE_ARGS, { reject: false, stdin: "ignore", timeout: 30_000 });
  if (run.exitCode === 0) return { usable: true, bwrap };
  const detail = run.stderr.trim().split("\n").at(-1) || run.shortMessage;
  return {
    usable: false,
    reason: `bubblewrap cannot create its namespaces here (${detail}); user namespaces may be disabled`,
  };
}

/**
 * Whether the agent can be jailed with bubblewrap on this machine. Probed once per process:
 * the answer does not change while it runs.
 */
export async function probeSandbox(): Promise<SandboxProbe> {
  probed ??= probeOnce();
  const { usable, reason } = await probed;
  return reason === undefined ? { usable } : { usable, reason };
}

/** The bwrap executable, when probeSandbox() says the sandbox is usable. */
export async function bwrapPath(): Promise<string | undefined> {
  probed ??= probeOnce();
  return (await probed).bwrap;
}

export const SANDBOX_INSTALL_HINT =
  "install bubblewrap (e.g. `sudo apt-get install -y bubblewrap`) and, on Ubuntu 24.04 and later, allow unprivileged user namespaces (`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`)";

export interface JailOptions {
  /** The working tree: the only project directory the agent may change. */
  cwd: string;
  /** The per-run HOME / CLAUDE_CONFIG_DIR, writable. */
  agentHome: string;
  /** The Claude executable; bound back read-only when it lives under a hidden directory. */
  executable: string;
  /** Absolute paths the agent must not see at all (the store, RUNNER_TEMP...). */
  hiddenPaths: readonly string[];
  /** The real HOME of the runner; hidden. */
  home?: string;
  runnerTemp?: string;
}

async function lstatOrNull(file: string) {
  try {
    return await fs.lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** Whether `child` is `parent` or below it (both absolute). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * The git directories a linked worktree's `.git` file points to (its own and the common
 * one); they may live in a hidden directory, and the agent's git needs them to read history.
 */
async function linkedGitDirs(cwd: string): Promise<string[]> {
  const dotGit = path.join(cwd, ".git");
  const stat = await lstatOrNull(dotGit);
  if (!stat?.isFile()) return [];
  const match = /^gitdir:\s*(.+?)\s*$/m.exec(await fs.readFile(dotGit, "utf8"));
  if (!match?.[1]) return [];
  const gitDir = path.resolve(cwd, match[1]);
  const dirs = [gitDir];
  try {
    const common = (await fs.readFile(path.join(gitDir, "commondir"), "utf8")).trim();
    if (common) dirs.push(path.resolve(gitDir, common));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return dirs;
}

// Git settings that carry credentials or pull in other files (which may): never shown to the
// agent. `url.*.insteadOf` and remote URLs may embed a token as `https://user:token@host`.
const CREDENTIAL_KEYS =
  /^(?:http\..*\.extraheader|credential\..*|include\.path|includeif\..*\.path|url\..*\.insteadof)$/i;
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i;

/**
 * A copy of a git config file without credentials, for the jail to show in its place: the
 * agent's git works (remotes, branches), but a persisted token or credential helper is not
 * there to read. Edited with `git config --file` on the copy, which runs nothing.
 */
export async function credentialFreeConfig(file: string, into: string): Promise<string> {
  const copy = path.join(into, `git-config-${Math.random().toString(36).slice(2)}`);
  await fs.copyFile(file, copy);
  const opts = { cwd: into };
  const listed = await tryGit(["config", "--file", copy, "--null", "--list"], opts);
  for (const entry of listed.stdout.split("\0")) {
    const at = entry.indexOf("\n");
    const key = at === -1 ? entry : entry.slice(0, at);
    const value = at === -1 ? "" : entry.slice(at + 1);
    if (CREDENTIAL_KEYS.test(key)) {
      await tryGit(["config", "--file", copy, "--unset-all", key], opts);
    } else if (/^remote\..*\.(?:push)?url$/i.test(key) && USERINFO.test(value)) {
      await tryGit(
        [
          "config",
          "--file",
          copy,
          "--replace-all",
          key,
          value.replace(USERINFO, "$1"),
          `^${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
        ],
        opts,
      );
    }
  }
  return copy;
}

/** The git config files an agent's git in `cwd` reads from the repository. */
async function repositoryConfigs(cwd: string): Promise<string[]> {
  const dotGit = path.join(cwd, ".git");
  const stat = await lstatOrNull(dotGit);
  const dirs = stat?.isDirectory() ? [dotGit] : await linkedGitDirs(cwd);
  const files: string[] = [];
  for (const dir of dirs) {
    for (const name of ["config", "config.worktree"]) {
      const file = path.join(dir, name);
      if ((await lstatOrNull(file))?.isFile()) files.push(file);
    }
  }
  return files;
}

/**
 * bubblewrap arguments that run a command in the agent's jail. The whole file system is
 * read-only; /proc shows only the jail's own processes; /tmp, the real HOME, RUNNER_TEMP and
 * the hidden paths are empty; only the working tree and the per-run HOME are writable, and
 * the working tree's `.git` stays read-only (git config and hooks would run code in the
 * runner's later git commands). bwrap applies mounts in argument order, so the read-only
 * root comes first and the writable binds last.
 */
export async function jailArgs(options: JailOptions): Promise<string[]> {
  const cwd = await fs.realpath(options.cwd);
  const agentHome = await fs.realpath(options.agentHome);
  const args = [
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--unshare-pid",
    "--proc",
    "/proc",
    "--die-with-parent",
    // No controlling terminal: nothing inside can push input into the runner's terminal.
    "--new-session",
    "--tmpfs",
    "/tmp",
  ];
  const masked: string[] = ["/tmp"];
  // A hidden path inside the working tree (a store under `.ai/`) is masked after the tree is
  // bound back, or the bind would show it again.
  const late: string[] = [];
  const hidden = [options.home ?? os.homedir(), options.runnerTemp, ...options.hiddenPaths];
  for (const wanted of hidden) {
    if (!wanted || !path.isAbsolute(wanted)) continue;
    const real = await fs.realpath(wanted).catch(() => null);
    if (!real || real === "/") continue;
    const mask = (await fs.stat(real)).isDirectory()
      ? ["--tmpfs", real]
      : ["--ro-bind", "/dev/null", real];
    if (isInside(real, cwd) || isInside(real, agentHome)) late.push(...mask);
    else {
      args.push(...mask);
      if (mask[0] === "--tmpfs") masked.push(real);
    }
  }
  for (const socket of ["/var/run/docker.sock", "/run/docker.sock"]) {
    if (await lstatOrNull(socket)) args.push("--ro-bind", "/dev/null", socket);
  }
  const exeDir = path.dirname(await fs.realpath(options.executable));
  if (masked.some((m) => isInside(exeDir, m))) args.push("--ro-bind", exeDir, exeDir);
  for (const dir of await linkedGitDirs(cwd)) {
    if (masked.some((m) => isInside(dir, m)) && (await lstatOrNull(dir)))
      args.push("--ro-bind", dir, dir);
  }
  args.push("--bind", cwd, cwd);
  if (await lstatOrNull(path.join(cwd, ".git")))
    args.push("--ro-bind", path.join(cwd, ".git"), path.join(cwd, ".git"));
  for (const config of await repositoryConfigs(cwd)) {
    args.push("--ro-bind", await credentialFreeConfig(config, agentHome), config);
  }
  args.push("--bind", agentHome, agentHome, ...late, "--chdir", cwd);
  return args;
}
