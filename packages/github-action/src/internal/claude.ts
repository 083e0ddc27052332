import { execFile } from "node:child_process";
import path from "node:path";
import { findOnPath } from "@miyabi/runner";
import { ClaudeInstallError } from "./errors.js";

export type Env = Record<string, string | undefined>;

/** The one variable through which the Claude process gets its credential. */
export interface Credential {
  name: "ANTHROPIC_API_KEY" | "CLAUDE_CODE_OAUTH_TOKEN";
  value: string;
}

// The runner's own credentials: the agent executes tools that issue text can steer, so the
// cache token, OIDC request token, GitHub token and raw inputs (secrets included) stay here.
const WITHHELD =
  /^(?:INPUT_|ACTIONS_)|^(?:GITHUB_TOKEN|ANTHROPIC_API_KEY|ANTHROPIC_AUTH_TOKEN|CLAUDE_CODE_OAUTH_TOKEN)$/;

/** The environment for the Claude process: this process's, less credentials, plus `credential`. */
export function claudeEnv(base: Env, credential: Credential): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && !WITHHELD.test(name)) env[name] = value;
  }
  env[credential.name] = credential.value;
  return env;
}

/**
 * Install the CLI into `<toolRoot>/miyabi-claude/<version>` with npm (no shell: the version was
 * validated, and nothing else reaches the command line) and return its executable. A copy left
 * by an earlier job on the same runner, as the tool cache of self-hosted runners keeps, is reused.
 */
export async function installClaude(
  version: string,
  toolRoot: string,
  log: (message: string) => void,
): Promise<string> {
  const prefix = path.join(toolRoot, "miyabi-claude", version);
  const binDir = path.join(prefix, "node_modules", ".bin");
  const earlier = await findOnPath("claude", binDir);
  if (earlier) {
    log(`Using Claude Code ${version} installed earlier at ${earlier}`);
    return earlier;
  }
  const args = [
    "install",
    "--prefix",
    prefix,
    "--no-audit",
    "--no-fund",
    `@anthropic-ai/claude-code@${version}`,
  ];
  log(`Installing Claude Code: npm ${args.join(" ")}`);
  await new Promise<void>((resolve, reject) => {
    execFile("npm", args, { maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (!error) resolve();
      else
        reject(
          new ClaudeInstallError(
            version,
            stderr.trim().split("\n").slice(-5).join("\n") || error.message,
            { cause: error },
          ),
        );
    });
  });
  const installed = await findOnPath("claude", binDir);
  if (!installed) {
    throw new ClaudeInstallError(version, `npm succeeded but ${binDir}/claude is missing`);
  }
  return installed;
}
