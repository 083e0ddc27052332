import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SessionStore } from "@miyabi/core";
import {
  claudeBinPath,
  type ModelScript,
  type ModelServer,
  modelServerEnv,
  startModelServer,
} from "@miyabi/testkit";
import { afterEach } from "vitest";
import {
  type ClaudeSettings,
  DEFAULT_PIPELINE,
  type RunPhaseOptions,
  runPhase,
} from "../src/index.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

export interface Rig {
  root: string;
  repo: string;
  storeDir: string;
  store: SessionStore;
  server: ModelServer;
  /** Claude settings for a machine whose HOME is `home` (a new one per name). */
  claude: (home?: string, extra?: ClaudeSettings) => ClaudeSettings;
}

/** A temp repo, a store and a scripted model server; all removed after the test. */
export async function rig(script: ModelScript): Promise<Rig> {
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-runner-")));
  const repo = path.join(root, "repo");
  await fs.mkdir(repo);
  const server = await startModelServer({ script });
  const storeDir = path.join(root, "store");
  const store = await SessionStore.open({ dir: storeDir });
  cleanups.push(async () => {
    await store.close().catch(() => undefined);
    await server.close();
    await fs.rm(root, { recursive: true, force: true });
  });
  return {
    root,
    repo,
    storeDir,
    store,
    server,
    claude: (home = "home", extra = {}) => ({
      executable: claudeBinPath(),
      env: modelServerEnv(server, { home: path.join(root, home) }),
      ...extra,
      ...(extra.env
        ? { env: { ...modelServerEnv(server, { home: path.join(root, home) }), ...extra.env } }
        : {}),
    }),
  };
}

/** Conversation turns the CLI sent (auxiliary calls excluded). */
export function turns(server: ModelServer) {
  return server.requests.filter((r) => r.kind === "turn");
}

export function messagesOf(body: unknown): { role: string; content: unknown }[] {
  const messages = (body as { messages?: unknown }).messages;
  return Array.isArray(messages) ? (messages as { role: string; content: unknown }[]) : [];
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The text of the last user message of a request: the prompt of a new run. */
export function lastUserText(body: unknown): string {
  const user = messagesOf(body).filter((m) => m.role === "user");
  return JSON.stringify(user.at(-1)?.content ?? "");
}

/** git with the developer's own configuration kept out (identity, signing, hooks). */
export async function sh(cwd: string, ...args: string[]): Promise<string> {
  const { execa } = await import("execa");
  const env = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };
  return (await execa("git", args, { cwd, env })).stdout;
}

/** Make `dir` a repository on `main` with one commit and a local identity. */
export async function initRepo(dir: string): Promise<void> {
  await sh(dir, "init", "--quiet", "--initial-branch=main");
  await sh(dir, "config", "user.name", "Test");
  await sh(dir, "config", "user.email", "test@example.com");
  await sh(dir, "config", "commit.gpgsign", "false");
  await fs.writeFile(path.join(dir, "README.md"), "repo\n");
  await sh(dir, "add", "README.md");
  await sh(dir, "commit", "--quiet", "--message=initial");
}

/** The issue the runner's phase tests work on. */
export const issue = { number: 42, title: "Add a greeting", body: "Please add hello.txt" };

/**
 * runPhase on the rig's store and repo with the default pipeline; `extra` overrides options,
 * `claude` adds Claude settings to the rig's.
 */
export function phase(r: Rig, extra: Partial<RunPhaseOptions> = {}, claude?: ClaudeSettings) {
  return runPhase({
    store: r.store,
    issue,
    pipeline: DEFAULT_PIPELINE,
    repoDir: r.repo,
    claude: r.claude("home", claude),
    ...extra,
  });
}
