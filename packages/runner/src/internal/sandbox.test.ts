import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, expect, it } from "vitest";
import { credentialFreeConfig } from "./sandbox.js";

const run = promisify(execFile);
let dir: string | undefined;
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

it("shows the agent a git config without tokens, credential helpers or includes", async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-gitconfig-"));
  const config = path.join(dir, "config");
  await fs.writeFile(
    config,
    [
      "[core]",
      "\tbare = false",
      '[remote "origin"]',
      "\turl = https://x-access-token:ghs_secretsecretsecret@github.com/o/r.git",
      "\tfetch = +refs/heads/*:refs/remotes/origin/*",
      '[http "https://github.com/"]',
      "\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0",
      "[credential]",
      "\thelper = store",
      '[includeIf "gitdir:/tmp/"]',
      "\tpath = /runner/temp/git-credentials-1.config",
      '[url "https://tok123456@github.com/"]',
      "\tinsteadOf = https://github.com/",
      '[branch "main"]',
      "\tremote = origin",
      "",
    ].join("\n"),
  );
  const copy = await credentialFreeConfig(config, dir);
  const text = await fs.readFile(copy, "utf8");
  expect(text).not.toMatch(/ghs_secret|extraheader|AUTHORIZATION|helper|git-credentials|tok123456/);
  const { stdout } = await run("git", ["config", "--file", copy, "--list"]);
  expect(stdout).toContain("remote.origin.url=https://github.com/o/r.git");
  expect(stdout).toContain("branch.main.remote=origin");
  // The original is untouched.
  expect(await fs.readFile(config, "utf8")).toContain("ghs_secretsecretsecret");
});
