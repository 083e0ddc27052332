import { describe, expect, it } from "vitest";
import { ActionInputError, parseInputs, splitArgs } from "../src/index.js";

describe("splitArgs", () => {
  it.each([
    ["", []],
    ["  --a  b\t c\n", ["--a", "b", "c"]],
    [`--x 'one two' "three four"`, ["--x", "one two", "three four"]],
    [`a'b'"c"d`, ["abcd"]],
    [`"" ''`, ["", ""]],
    [`"say \\"hi\\" \\\\ \\$HOME \\n"`, ['say "hi" \\ $HOME \\n']],
    [`'no \\escapes "here"'`, ['no \\escapes "here"']],
    [`a\\ b \\'c`, ["a b", "'c"]],
    // Nothing is expanded: there is no shell.
    ["$(rm -rf /) `id` *.ts ~ $HOME;ls", ["$(rm", "-rf", "/)", "`id`", "*.ts", "~", "$HOME;ls"]],
  ])("splits %j", (line, args) => {
    expect(splitArgs(line)).toEqual(args);
  });

  it.each([`"open`, `'open`, `a "b c`])("refuses the unclosed quote in %j", (line) => {
    expect(() => splitArgs(line)).toThrow(/unclosed/);
  });
});

describe("parseInputs", () => {
  it("applies action.yml's defaults to blank inputs, as the runner passes them", () => {
    const inputs = parseInputs({ "github-token": "t", phase: "  ", "max-turns": "" });
    expect(inputs).toEqual({
      phase: undefined,
      issueNumber: undefined,
      anthropicApiKey: undefined,
      claudeCodeOauthToken: undefined,
      model: undefined,
      claudeArgs: [],
      maxTurns: undefined,
      timeoutMinutes: undefined,
      handoffMode: undefined,
      draft: false,
      maxBudgetUsd: undefined,
      budgetUsd: undefined,
      pipelineConfig: undefined,
      storePath: ".ai/sessions",
      cacheKey: undefined,
      cacheKeyPrefix: "miyabi-sessions",
      mergeCacheKeys: [],
      githubToken: "t",
      pushToken: undefined,
      workflowToken: undefined,
      storeKey: undefined,
      artifactRetentionDays: 30,
      triggerLabels: ["miyabi"],
      triggerPhrase: "/miyabi",
      allowedBots: [],
      claudeVersion: "2.1.332",
      claudePath: undefined,
      push: true,
      pullRequestPhase: undefined,
      sandbox: "required",
      allowProtectedPaths: [],
    });
  });

  it("reads push as true or false only", () => {
    expect(parseInputs({ "github-token": "t", push: "false" }).push).toBe(false);
    expect(() => parseInputs({ "github-token": "t", push: "no" })).toThrow(
      'Input "push" is invalid: expected true or false.',
    );
  });

  it("reads the store's artifact settings and the push token", () => {
    expect(
      parseInputs({
        "github-token": "t",
        "push-token": " ghs_app\n",
        "store-key": "0123456789abcdef",
        "artifact-retention-days": "0",
      }),
    ).toMatchObject({
      pushToken: "ghs_app",
      storeKey: "0123456789abcdef",
      artifactRetentionDays: 0,
    });
  });

  it("trims values, which pasted secrets often need", () => {
    expect(parseInputs({ "github-token": "t", "anthropic-api-key": " sk-key\n" })).toMatchObject({
      anthropicApiKey: "sk-key",
    });
  });

  it("splits lists on commas and newlines, keeping spaces inside labels", () => {
    const inputs = parseInputs({
      "github-token": "t",
      "trigger-labels": "miyabi, ai: run\n",
      "merge-cache-keys": "k-1,\nk-2\n",
    });
    expect(inputs.triggerLabels).toEqual(["miyabi", "ai: run"]);
    expect(inputs.mergeCacheKeys).toEqual(["k-1", "k-2"]);
  });

  it.each([
    [{ "max-turns": "ten" }, /Input "max-turns" is invalid: expected a whole number/],
    [{ "issue-number": "0" }, /Input "issue-number" is invalid/],
    [{ "timeout-minutes": "999" }, /a job runs at most 360 minutes/],
    [{ "handoff-mode": "clone" }, /Input "handoff-mode" is invalid/],
    [{ "claude-args": `--x "open` }, /Input "claude-args" is invalid: unclosed " quote/],
    [{ "cache-key": "a,b" }, /cannot contain commas/],
    [{ "cache-key-prefix": "my prefix" }, /Input "cache-key-prefix"/],
    [{ "store-path": ".ai/*" }, /without glob characters/],
    [{ "store-path": "../elsewhere" }, /relative path inside the workspace/],
    [{ "store-path": "/tmp/sessions" }, /relative path inside the workspace/],
    [{ "store-path": "." }, /relative path inside the workspace/],
    [{ sandbox: "maybe" }, /Input "sandbox" is invalid: expected required, auto or off/],
    [{ "claude-version": "latest" }, /expected an exact version/],
    [{ "github-token": "" }, /Input "github-token" is invalid: it is empty/],
    [{ "store-key": "short" }, /Input "store-key" is invalid: use at least 16 random characters/],
    [{ "artifact-retention-days": "91" }, /at most 90 days/],
    [{ "artifact-retention-days": "-1" }, /whole number of days \(0 keeps no artifact\)/],
  ])("names the input and the fix for %o", (raw, message) => {
    const error = (() => {
      try {
        parseInputs({ "github-token": "t", ...raw });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ActionInputError);
    expect((error as Error).message).toMatch(message);
  });
});
