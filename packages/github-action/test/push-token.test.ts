import { describe, expect, it } from "vitest";
import { checksNote, pushesWithWorkflowToken, pushTokenOf } from "../src/internal/push-token.js";

const WORKFLOW = "ghs_workflowDefault000";

describe("the token that pushes", () => {
  it("is push-token when given, else github-token", () => {
    expect(
      pushTokenOf({ githubToken: WORKFLOW, pushToken: "ghs_app", workflowToken: WORKFLOW }),
    ).toBe("ghs_app");
    expect(
      pushTokenOf({ githubToken: "ghp_pat", pushToken: undefined, workflowToken: WORKFLOW }),
    ).toBe("ghp_pat");
  });

  it.each([
    ["the default github-token", { githubToken: WORKFLOW, pushToken: undefined }, true],
    ["an App token as github-token", { githubToken: "ghs_app", pushToken: undefined }, false],
    ["an App token as push-token", { githubToken: WORKFLOW, pushToken: "ghs_app" }, false],
    [
      "the workflow token passed as push-token",
      { githubToken: "ghs_app", pushToken: WORKFLOW },
      true,
    ],
  ])("with %s, checks %s", (_name, tokens, workflow) => {
    const inputs = { ...tokens, workflowToken: WORKFLOW };
    expect(pushesWithWorkflowToken(inputs)).toBe(workflow);
    const note = checksNote(inputs);
    expect(note).toHaveLength(workflow ? 1 : 0);
    if (workflow) {
      expect(note[0]).toMatch(/pull request's checks will not run.*push-token.*README\.md#tokens/);
    }
  });

  it("says nothing when the workflow's token is unknown", () => {
    expect(
      checksNote({ githubToken: WORKFLOW, pushToken: undefined, workflowToken: undefined }),
    ).toEqual([]);
  });
});

describe("in a job", () => {
  it("a push with the workflow's token says the checks will not run, in the summary and the comment", async () => {
    const { job, world } = await import("./fakes.js");
    const { runPhaseJob } = await import("../src/index.js");
    const w = await world();
    try {
      await runPhaseJob(
        (await job(w, { phase: "codegen", "workflow-token": "ghs_token" })).options,
      );
      expect(w.summaries[0]).toContain("Pushed with the workflow's GITHUB_TOKEN");
      expect(w.github.comments[0]?.body).toContain("the pull request's checks will not run");
      await runPhaseJob(
        (
          await job(w, {
            phase: "codegen",
            "workflow-token": "ghs_token",
            "push-token": "ghs_appToken",
          })
        ).options,
      );
      expect(w.summaries[1]).not.toContain("GITHUB_TOKEN");
    } finally {
      await w.cleanup();
    }
  });
});
