import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ClaudeInstallError, claudeEnv, installClaude } from "../src/index.js";
import { freshDir, removeScratch } from "./harness.js";

afterAll(removeScratch);

async function executable(file: string, script: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

/** Run `fn` with a fake `npm` first on PATH; it runs `script` with the real arguments. */
async function withFakeNpm<T>(script: string, fn: () => Promise<T>): Promise<T> {
  const bin = await freshDir("npm-bin");
  await executable(path.join(bin, "npm"), script);
  const saved = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${saved ?? ""}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe("claudeEnv", () => {
  it("withholds the runner's credentials and raw inputs, and adds the one credential", () => {
    const env = claudeEnv(
      {
        PATH: "/usr/bin",
        HOME: "/home/runner",
        GITHUB_WORKSPACE: "/w",
        "INPUT_ANTHROPIC-API-KEY": "sk-in",
        "INPUT_GITHUB-TOKEN": "ghs",
        ACTIONS_RUNTIME_TOKEN: "rt",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc",
        ACTIONS_RESULTS_URL: "https://results",
        GITHUB_TOKEN: "ghs",
        ANTHROPIC_API_KEY: "ambient",
        ANTHROPIC_AUTH_TOKEN: "ambient",
        CLAUDE_CODE_OAUTH_TOKEN: "ambient",
        UNSET: undefined,
      },
      { name: "CLAUDE_CODE_OAUTH_TOKEN", value: "oauth" },
    );
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/runner",
      GITHUB_WORKSPACE: "/w",
      CLAUDE_CODE_OAUTH_TOKEN: "oauth",
    });
  });
});

describe("installClaude", () => {
  it("runs npm install --prefix <tool root>/miyabi-claude/<version> for that exact version", async () => {
    const root = await freshDir("tools");
    const argsFile = path.join(root, "npm-args");
    const log: string[] = [];
    const bin = await withFakeNpm(
      // Record the arguments, then install a claude the way npm links it.
      `printf '%s\\n' "$@" > '${argsFile}'; mkdir -p "$3/node_modules/.bin"; printf '#!/bin/sh\\n' > "$3/node_modules/.bin/claude"; chmod +x "$3/node_modules/.bin/claude"`,
      () => installClaude("2.1.332", root, (m) => log.push(m)),
    );
    const prefix = path.join(root, "miyabi-claude", "2.1.332");
    expect(bin).toBe(path.join(prefix, "node_modules", ".bin", "claude"));
    expect((await readFile(argsFile, "utf8")).trim().split("\n")).toEqual([
      "install",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      "@anthropic-ai/claude-code@2.1.332",
    ]);
    expect(log).toEqual([
      `Installing Claude Code: npm install --prefix ${prefix} --no-audit --no-fund @anthropic-ai/claude-code@2.1.332`,
    ]);
  });

  it("reuses an earlier install without running npm", async () => {
    const root = await freshDir("tools");
    const bin = await executable(
      path.join(root, "miyabi-claude", "2.1.332", "node_modules", ".bin", "claude"),
      "exit 0",
    );
    const log: string[] = [];
    const found = await withFakeNpm("exit 99", () =>
      installClaude("2.1.332", root, (m) => log.push(m)),
    );
    expect(found).toBe(bin);
    expect(log).toEqual([`Using Claude Code 2.1.332 installed earlier at ${bin}`]);
  });

  it("reports npm's last error lines and what to do instead", async () => {
    const root = await freshDir("tools");
    const error = await withFakeNpm("echo 'npm error 404 Not Found' >&2; exit 1", () =>
      installClaude("9.9.9", root, () => undefined),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClaudeInstallError);
    expect((error as Error).message).toBe(
      "Installing @anthropic-ai/claude-code@9.9.9 with npm failed: npm error 404 Not Found. Install it in an earlier step or pass its path with the claude-path input.",
    );
  });
});
