import path from "node:path";
import type { Credential, CredentialName } from "./proxy.js";
import type { ResolvedClaudeSettings } from "./settings.js";

type Env = Record<string, string | undefined>;

const CREDENTIAL_NAMES: readonly CredentialName[] = [
  "ANTHROPIC_API_KEY",
  "CLAUDE_CODE_OAUTH_TOKEN",
];

/** Taken from this process: what a shell needs to behave, nothing that names a secret. */
const INHERITED = /^(?:PATH|LANG|LANGUAGE|TZ|TERM|LC_[A-Z]+)$/;

/**
 * Set by the runner for every run; `settings.env` cannot replace them (a HOME or base URL
 * from the caller would point the agent at the real config or around the proxy).
 */
const RUNNER_OWNED = new Set([
  "HOME",
  "CLAUDE_CONFIG_DIR",
  "TMPDIR",
  "CLAUDE_CODE_TMPDIR",
  "ANTHROPIC_BASE_URL",
  "ANTHROPIC_AUTH_TOKEN",
  ...CREDENTIAL_NAMES,
]);

export const DEFAULT_UPSTREAM = "https://api.anthropic.com";

/** The credential the proxy holds: explicit, else from `settings.env`, else from `base`. */
export function credentialOf(settings: ResolvedClaudeSettings, base: Env): Credential | null {
  if (settings.credential) return settings.credential;
  for (const env of [settings.env, base]) {
    for (const name of CREDENTIAL_NAMES) {
      const value = env[name];
      if (value) return { name, value };
    }
  }
  return null;
}

export function upstreamOf(settings: ResolvedClaudeSettings, base: Env): string {
  return (
    settings.upstreamUrl ??
    settings.env.ANTHROPIC_BASE_URL ??
    base.ANTHROPIC_BASE_URL ??
    DEFAULT_UPSTREAM
  );
}

/**
 * The agent's whole environment, built from an allow-list and never inherited: locale and
 * PATH from `base`, the run's own HOME / config / temp directories, the proxy and its
 * stand-in credential, the switches below, and what the caller put in `settings.env`.
 */
export function agentEnv(args: {
  settings: ResolvedClaudeSettings;
  base: Env;
  agentHome: string;
  proxy: { url: string; name: CredentialName; dummy: string } | null;
}): Record<string, string> {
  const { settings, base, agentHome } = args;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && INHERITED.test(name)) env[name] = value;
  }
  // Not CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: with CLI 2.1.332 it forces the `default` permission
  // mode and leaves empty stand-ins (package.json, .env*, .npmrc, node_modules/.bin...) in the
  // working tree that a phase commit would pick up (docs/claude-cli.md). Nothing in this
  // environment is worth scrubbing: the credential is the proxy's per-run stand-in.
  Object.assign(env, {
    // No update checks, telemetry or error reports: the API (through the proxy) only.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_MAX_RETRIES: String(settings.maxRetries),
  });
  for (const [name, value] of Object.entries(settings.env)) {
    if (!RUNNER_OWNED.has(name)) env[name] = value;
  }
  const tmp = path.join(agentHome, "tmp");
  Object.assign(env, {
    HOME: agentHome,
    CLAUDE_CONFIG_DIR: path.join(agentHome, ".claude"),
    TMPDIR: tmp,
    CLAUDE_CODE_TMPDIR: tmp,
  });
  if (args.proxy) {
    env.ANTHROPIC_BASE_URL = args.proxy.url;
    env[args.proxy.name] = args.proxy.dummy;
  }
  return env;
}
