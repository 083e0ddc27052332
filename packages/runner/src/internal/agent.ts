import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { agentEnv, credentialOf, upstreamOf } from "./agent-env.js";
import { SandboxUnavailableError } from "./errors.js";
import { type ProtectedSnapshot, restoreProtected, snapshotProtected } from "./protected.js";
import { type CredentialProxy, startCredentialProxy } from "./proxy.js";
import { bwrapPath, isInside, jailArgs, probeSandbox, SANDBOX_INSTALL_HINT } from "./sandbox.js";
import { secretValues } from "./secrets.js";
import type { ResolvedClaudeSettings } from "./settings.js";

/**
 * Before any session changes: a required sandbox that cannot be had is the caller's error,
 * not a failed session. With `auto` the probe (a process of its own) only starts here, so it
 * runs while the caller records the session; prepareAgentRun awaits the same probe.
 */
export async function checkSandbox(settings: ResolvedClaudeSettings): Promise<void> {
  if (settings.sandbox === "off") return;
  const probe = probeSandbox();
  if (settings.sandbox === "auto") {
    // Awaited, and any failure reported, by prepareAgentRun; this only keeps an early
    // rejection from counting as unhandled while nobody waits for it yet.
    probe.catch(() => undefined);
    return;
  }
  const { usable, reason } = await probe;
  if (!usable) throw new SandboxUnavailableError(reason ?? "unknown reason");
}

/** Claude Code permission rules for absolute paths start with `//`. */
function rulesFor(tool: "Read" | "Edit", dirs: readonly string[]): string[] {
  return dirs.map((dir) => `${tool}(/${dir.replace(/\/+$/, "")}/**)`);
}

export interface AgentRun {
  /** What to spawn: bwrap (jailed) or the CLI itself. */
  command: string;
  /** The full argument list for `command`, given the CLI's own arguments. */
  args(claudeArgs: readonly string[]): string[];
  env: Record<string, string>;
  /** The run's CLAUDE_CONFIG_DIR: transcripts are restored into and saved from it. */
  configDir: string;
  /** Values to mask in everything the run leaves behind. */
  secrets: string[];
  /** Notes for the session log (sandbox unavailable, no credential). */
  notes: string[];
  /** After the process: put the protected paths back; returns what it reverted. */
  revertProtected(): Promise<string[]>;
  /** Stop the proxy and remove the run's HOME. */
  close(): Promise<void>;
}

/**
 * Everything the agent's process is confined by, for one run: a fresh HOME outside the
 * store and the working tree, the credential behind a loopback proxy, an allow-listed
 * environment, permission rules, and (when usable) a bubblewrap jail around the whole CLI.
 */
export async function prepareAgentRun(args: {
  settings: ResolvedClaudeSettings;
  executable: string;
  /** The working tree (real path). */
  cwd: string;
  storeDir: string;
}): Promise<AgentRun> {
  const { settings, cwd } = args;
  const base = process.env;
  const notes: string[] = [];
  const probe =
    settings.sandbox === "off" ? { usable: false, reason: "sandbox: off" } : await probeSandbox();
  if (settings.sandbox === "required" && !probe.usable)
    throw new SandboxUnavailableError(probe.reason ?? "unknown reason");
  const bwrap = probe.usable ? await bwrapPath() : undefined;
  if (settings.sandbox === "auto" && !bwrap)
    notes.push(
      `The agent runs WITHOUT a sandbox (${probe.reason}): its tools can read this machine's files and processes. To jail it, ${SANDBOX_INSTALL_HINT}.`,
    );

  const agentHome = await fs.realpath(
    await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-agent-home-")),
  );
  let proxy: CredentialProxy | undefined;
  try {
    await fs.mkdir(path.join(agentHome, "tmp"));
    const credential = credentialOf(settings, base);
    if (credential)
      proxy = await startCredentialProxy({ upstream: upstreamOf(settings, base), credential });
    else
      notes.push(
        "No Anthropic credential was given (ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, e.g. from `claude setup-token`); the agent runs with its own HOME, so a `claude /login` of this machine's user is not used.",
      );
    const env = agentEnv({
      settings,
      base,
      agentHome,
      proxy:
        credential && proxy ? { url: proxy.url, name: credential.name, dummy: proxy.dummy } : null,
    });
    const home = base.HOME ?? os.homedir();
    // A hidden directory that holds the working tree (a repository under HOME) or the run's
    // HOME (TMPDIR under RUNNER_TEMP) cannot be denied as a whole; the jail still hides the
    // rest of it.
    const hidden = [home, base.RUNNER_TEMP, args.storeDir, ...settings.hiddenPaths].filter(
      (p): p is string =>
        typeof p === "string" && path.isAbsolute(p) && !isInside(cwd, p) && !isInside(agentHome, p),
    );
    // The jail's first line of defence has a second one: Claude Code's own rules, which also
    // hold when the sandbox is off. Only project settings are read (never the user's).
    const claudeSettings = JSON.stringify({
      permissions: {
        deny: [
          ...rulesFor("Read", ["/proc", ...hidden]),
          ...rulesFor("Edit", ["/proc", ...hidden, agentHome, path.join(cwd, ".git")]),
        ],
      },
    });
    const prefix = bwrap
      ? await jailArgs({
          cwd,
          agentHome,
          executable: args.executable,
          hiddenPaths: [args.storeDir, ...settings.hiddenPaths],
          home,
          runnerTemp: base.RUNNER_TEMP,
        })
      : [];
    const before: ProtectedSnapshot = await snapshotProtected(cwd);
    const secrets = [
      ...new Set([
        ...secretValues(base),
        ...secretValues(settings.env),
        ...(credential ? [credential.value] : []),
      ]),
    ].sort((a, b) => b.length - a.length);
    return {
      command: bwrap ?? args.executable,
      args: (claudeArgs) => {
        const own = ["--setting-sources=project", `--settings=${claudeSettings}`, ...claudeArgs];
        return bwrap ? [...prefix, "--", args.executable, ...own] : own;
      },
      env,
      configDir: env.CLAUDE_CONFIG_DIR as string,
      secrets,
      notes,
      revertProtected: () => restoreProtected(cwd, before, settings.allowProtectedPaths),
      close: async () => {
        await proxy?.close();
        await fs.rm(agentHome, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await proxy?.close();
    await fs.rm(agentHome, { recursive: true, force: true });
    throw error;
  }
}
