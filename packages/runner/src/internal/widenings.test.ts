import { describe, expect, it } from "vitest";
import { DEFAULT_PIPELINE, TEST_COMMANDS } from "./pipeline.js";
import { widenings } from "./widenings.js";

const step = (id: string) => DEFAULT_PIPELINE.steps.find((s) => s.id === id) as never;

describe("widenings", () => {
  it("finds none in the default pipeline: the Test step runs test commands only", () => {
    for (const s of DEFAULT_PIPELINE.steps) expect(widenings({}, s)).toEqual([]);
    const test = DEFAULT_PIPELINE.steps.find((s) => s.id === "test");
    expect(test?.allowedTools).toEqual(expect.arrayContaining([...TEST_COMMANDS]));
    expect(DEFAULT_PIPELINE.steps.flatMap((s) => s.allowedTools ?? [])).not.toContain("Bash");
  });

  it("names every conscious widening", () => {
    expect(
      widenings(
        {
          allowedTools: ["Read", "Bash(*)"],
          permissionMode: "bypassPermissions",
          extraArgs: ["--dangerously-skip-permissions"],
          sandbox: "off",
          allowProtectedPaths: [".github/workflows/ci.yml"],
        },
        step("test"),
      ),
    ).toEqual([
      "step test: unrestricted Bash (any command) is allowed",
      "permission mode bypassPermissions: every tool call runs without a check",
      "--dangerously-skip-permissions in the Claude arguments: permission checks are skipped",
      "sandbox off: the agent's tools see this machine's files and processes",
      "agents may commit protected paths: .github/workflows/ci.yml",
    ]);
    expect(widenings({ allowedTools: ["Bash"] }, step("review"))).toHaveLength(1);
    expect(widenings({ allowedTools: ["Bash(npm test)"] }, step("review"))).toEqual([]);
    expect(
      widenings({ extraArgs: ["--permission-mode", "bypassPermissions"] }, step("deploy")),
    ).toHaveLength(1);
    expect(widenings({}, step("deploy"), { usable: false, reason: "no bwrap" })).toEqual([
      "no sandbox (no bwrap): the agent's tools see this machine's files",
    ]);
  });
});
