/**
 * The push credential is the action's alone: what actions/checkout persisted (v5's
 * extraheader, v6's includeIf'd credentials file under RUNNER_TEMP) is gone before any agent
 * runs, and the action's own token reaches origin through one command's environment.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it, type TestContext } from "vitest";
import { gitAuthEnv, removeCheckoutCredentials } from "../src/index.js";
import { bareOrigin, sh } from "./git.js";
import { basicAuth, startGitHttp } from "./git-http.js";
import { freshDir, removeScratch } from "./harness.js";

afterAll(removeScratch);

const TOKEN = "ghs_checkoutToken0123456789abcdefABCD";

async function served(t: TestContext) {
  const root = await freshDir("git-http");
  const origin = bareOrigin(root);
  sh(origin, "config", "http.receivepack", "true");
  const server = await startGitHttp(root, TOKEN);
  t.onTestFinished(() => server.close());
  return { server, url: server.repoUrl(origin), origin };
}

/**
 * git against the in-process server: asynchronous, since a synchronous child would block the
 * event loop the server answers on.
 */
const gitAsync = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)("git", args, {
    cwd,
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "", ...env },
  });

/** Clone as actions/checkout does, persisting its credentials the v5 or v6 way. */
async function checkout(url: string, serverUrl: string, how: "v5" | "v6") {
  const workspace = await freshDir("ws");
  const runnerTemp = await freshDir("runner-temp");
  const header = `AUTHORIZATION: ${basicAuth(TOKEN)}`;
  await gitAsync(workspace, [
    "-c",
    `http.${serverUrl}/.extraheader=${header}`,
    "clone",
    "-q",
    url,
    ".",
  ]);
  let file: string | undefined;
  if (how === "v5") {
    sh(workspace, "config", "--local", `http.${serverUrl}/.extraheader`, header);
  } else {
    file = path.join(runnerTemp, "git-credentials-0123abcd.config");
    await writeFile(file, `[http "${serverUrl}/"]\n\textraheader = ${header}\n`);
    sh(workspace, "config", "--local", `includeIf.gitdir:${workspace}/.git.path`, file);
  }
  return { workspace, file };
}

describe("removeCheckoutCredentials", () => {
  it.for(["v5", "v6"] as const)(
    "removes checkout %s's credentials; pushing then works with the action's token only",
    async (how, t) => {
      const { server, url, origin } = await served(t);
      const { workspace, file } = await checkout(url, server.url, how);
      const removed = await removeCheckoutCredentials(workspace);
      expect(removed.keys).toHaveLength(1);
      const config = await readFile(path.join(workspace, ".git", "config"), "utf8");
      expect(config).not.toMatch(/extraheader|includeIf|AUTHORIZATION/i);
      if (file) {
        // The file itself: an agent's Read reaches RUNNER_TEMP.
        expect(existsSync(file)).toBe(false);
        expect(removed.files).toEqual([file]);
      }
      expect(sh(workspace, "config", "--list")).not.toContain("extraheader");

      // Without a credential, origin refuses; with the action's, the push goes through.
      sh(workspace, "commit", "-q", "--allow-empty", "-m", "work");
      const push = (env: Record<string, string>) =>
        gitAsync(workspace, ["push", "-q", "origin", "HEAD:refs/heads/miyabi/issue-1"], env);
      await expect(push({})).rejects.toThrow(/Authentication failed|could not read Username/);
      await push(gitAuthEnv(server.url, TOKEN, {}));
      expect(sh(origin, "log", "--format=%s", "miyabi/issue-1")).toBe("work\ninitial");
      expect(server.requests.at(-1)?.authorization).toBe(basicAuth(TOKEN));
    },
  );

  it("keeps includes that hold no credential, and other config", async () => {
    const workspace = await freshDir("ws");
    sh(workspace, "init", "-q");
    const other = path.join(await freshDir("inc"), "aliases.config");
    await mkdir(path.dirname(other), { recursive: true });
    await writeFile(other, "[alias]\n\tst = status\n");
    sh(workspace, "config", "--local", "includeIf.gitdir:/nowhere/.path", other);
    sh(workspace, "config", "--local", "user.name", "Someone");
    const removed = await removeCheckoutCredentials(workspace);
    expect(removed).toEqual({ keys: [], files: [] });
    expect(existsSync(other)).toBe(true);
    expect(sh(workspace, "config", "--local", "user.name")).toBe("Someone");
  });
});

describe("gitAuthEnv", () => {
  it("keys the header on the server URL and keeps the workflow's own GIT_CONFIG entries", () => {
    expect(gitAuthEnv("https://github.com/", "tok", { GIT_CONFIG_COUNT: "2" })).toEqual({
      GIT_CONFIG_COUNT: "3",
      GIT_CONFIG_KEY_2: "http.https://github.com/.extraheader",
      GIT_CONFIG_VALUE_2: `AUTHORIZATION: ${basicAuth("tok")}`,
    });
  });
});
