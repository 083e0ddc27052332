/**
 * What a release and an adopter rely on at the repository's root: licence, policies, the root
 * action.yml (the same action as actions/session-phase), the reusable workflow and the README's
 * snippet that calls it, the release workflow, Dependabot and changesets.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { actionlint } from "@miyabi/testkit";
import { describe, expect, it } from "vitest";
import YAML from "yaml";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const ACTION_REF = "miyabi-sessions/miyabi-sessions@v1";
/** Workflows that pin every third-party action by commit SHA. */
const PINNED_WORKFLOWS = ["ci.yml", "miyabi.yml", "release.yml"];

const read = (file: string) => fs.readFile(path.join(ROOT, file), "utf8");
const yaml = async <T>(file: string) => YAML.parse(await read(file)) as T;

interface ActionMeta {
  name: string;
  description: string;
  branding: { icon: string; color: string };
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
}

interface Step {
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | boolean>;
}

interface Job {
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string>;
  outputs?: Record<string, string>;
  steps: Step[];
}

interface Workflow {
  on: Record<string, unknown>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

/** The README's adoption snippet: its first YAML block. */
async function readmeSnippet(): Promise<string> {
  const block = /```yaml\n([\s\S]*?)```/.exec(await read("README.md"))?.[1];
  if (!block) throw new Error("README.md has no ```yaml block");
  return block;
}

describe("release files", () => {
  it("has the MIT licence, a security policy that links the threat model, and a contributing guide", async () => {
    const licence = await read("LICENSE");
    expect(licence).toMatch(/^MIT License\n\nCopyright \(c\) /);
    expect(licence).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
    expect(await read("SECURITY.md")).toMatch(/\]\(docs\/security\.md\)/);
    expect(await read("CONTRIBUTING.md")).toMatch(/pnpm@12\.21\.0 changeset/);
  });

  it("marks the action's bundle as generated", async () => {
    const { stdout } = await promisify(execFile)(
      "git",
      ["check-attr", "linguist-generated", "--", "actions/session-phase/dist/index.js"],
      { cwd: ROOT },
    );
    expect(stdout.trim()).toBe("actions/session-phase/dist/index.js: linguist-generated: true");
  });

  it("versions the published packages together with changesets", async () => {
    const config = JSON.parse(await read(".changeset/config.json"));
    expect(config.fixed[0]).toEqual(
      expect.arrayContaining(["@miyabi/core", "@miyabi/runner", "@miyabi/cli"]),
    );
    expect(config.access).toBe("public");
    const manifest = JSON.parse(await read("package.json"));
    expect(manifest.scripts.release).toMatch(/changeset publish/);
  });

  it("lets Dependabot propose npm and action updates, Claude Code in its own group", async () => {
    const config = await yaml<{
      updates: { "package-ecosystem": string; groups?: Record<string, { patterns?: string[] }> }[];
    }>(".github/dependabot.yml");
    expect(config.updates.map((u) => u["package-ecosystem"]).sort()).toEqual([
      "github-actions",
      "npm",
    ]);
    const npm = config.updates.find((u) => u["package-ecosystem"] === "npm");
    expect(npm?.groups?.["claude-code"]?.patterns).toContain("@anthropic-ai/claude-code");
  });
});

describe("the root action.yml", () => {
  it("is the session-phase action: same inputs and outputs, same bundle, with Marketplace branding", async () => {
    const root = await yaml<ActionMeta>("action.yml");
    const phase = await yaml<ActionMeta>("actions/session-phase/action.yml");
    expect(root.inputs).toEqual(phase.inputs);
    expect(root.outputs).toEqual(phase.outputs);
    expect(root.runs).toEqual({
      using: phase.runs.using,
      main: "actions/session-phase/dist/index.js",
    });
    await fs.access(path.join(ROOT, root.runs.main));
    expect(root.name).not.toBe(phase.name);
    expect(root.description.length).toBeGreaterThan(20);
    expect(root.branding).toEqual({ icon: expect.any(String), color: expect.any(String) });
  });
});

describe("workflows", () => {
  it("pin every third-party action by commit SHA with its version in a comment", async () => {
    for (const name of PINNED_WORKFLOWS) {
      const text = await read(`.github/workflows/${name}`);
      const uses = [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)];
      expect(uses.length, name).toBeGreaterThan(0);
      for (const [, ref = "", comment = ""] of uses) {
        if (ref === ACTION_REF || ref.startsWith("./")) continue;
        expect(ref, `${name}: ${ref}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        expect(comment, `${name}: ${ref}`).toMatch(/^ # v\d+(\.\d+){0,2}$/);
      }
    }
  });

  // The workflows themselves are linted with the action's metadata (github-action's tests).
  it("the README's snippet passes actionlint", async () => {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "miyabi-snippet-"));
    try {
      const file = path.join(scratch, "miyabi.yml");
      await fs.writeFile(file, await readmeSnippet());
      const { code, output } = await actionlint(file);
      expect(code, output).toBe(0);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });
});

describe("the reusable workflow", () => {
  it("is adopted in about ten lines: the README's snippet calls it with the secret and permissions", async () => {
    const snippet = await readmeSnippet();
    expect(snippet.trim().split("\n").length).toBeLessThanOrEqual(12);
    const caller = YAML.parse(snippet) as {
      jobs: Record<
        string,
        { uses: string; permissions: Record<string, string>; secrets: Record<string, string> }
      >;
    };
    const [job] = Object.values(caller.jobs);
    expect(job?.uses).toBe("miyabi-sessions/miyabi-sessions/.github/workflows/miyabi.yml@v1");
    const called = await yaml<
      Workflow & { on: { workflow_call: { secrets: Record<string, unknown> } } }
    >(".github/workflows/miyabi.yml");
    expect(Object.keys(called.on.workflow_call.secrets)).toEqual(
      expect.arrayContaining(Object.keys(job?.secrets ?? {})),
    );
    // The caller grants what the jobs ask for, and nothing the jobs do not.
    const asked = new Set(
      Object.values(called.jobs).flatMap((j) => Object.keys(j.permissions ?? {})),
    );
    expect(Object.keys(job?.permissions ?? {}).sort()).toEqual([...asked].sort());
  });

  it("chains the four phases (and the review gate's rounds) through cache-key outputs, one issue at a time, with minimal permissions", async () => {
    const workflow = await yaml<Workflow>(".github/workflows/miyabi.yml");
    const action = await yaml<ActionMeta>("action.yml");
    expect(Object.keys(workflow.on)).toEqual(["workflow_call"]);
    expect(workflow.permissions).toEqual({});
    // Keyed by the issue's branch, like the example workflow, whatever event the caller got.
    expect(workflow.concurrency?.group.replace(/\s+/g, " ")).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, not JS
      "miyabi-${{ inputs.issue-number && format('miyabi/issue-{0}', inputs.issue-number) || github.event.pull_request.head.ref || format('miyabi/issue-{0}', github.event.issue.number) }}",
    );
    expect(workflow.concurrency?.["cancel-in-progress"]).toBe(false);
    const order = [
      "codegen",
      "review",
      "codegen-2",
      "review-2",
      "codegen-3",
      "review-3",
      "test",
      "deploy",
    ];
    expect(Object.keys(workflow.jobs)).toEqual(order);
    for (const [i, name] of order.entries()) {
      const job = workflow.jobs[name] as Job;
      const phase = job.steps.find((s) => s.uses === ACTION_REF);
      expect(phase?.with?.phase, name).toBe(name.replace(/-\d$/, ""));
      // The agents find no credentials in the checkout, and run sandboxed.
      const checkout = job.steps.find((s) => s.uses?.startsWith("actions/checkout@"));
      expect(checkout?.with?.["persist-credentials"], name).toBe(false);
      expect(
        job.steps.some((s) => s.run?.includes("bubblewrap")),
        name,
      ).toBe(true);
      for (const input of Object.keys(phase?.with ?? {})) {
        expect(action.inputs, `${name}: ${input}`).toHaveProperty([input]);
      }
      const previous = order[i - 1];
      if (name === "test") {
        // After whichever review approved.
        expect(job.needs).toEqual(["review", "review-2", "review-3"]);
        expect(phase?.with?.["cache-key"]).toBe(
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, not JS
          "${{ needs.review-3.outputs.cache-key || needs.review-2.outputs.cache-key || needs.review.outputs.cache-key }}",
        );
      } else if (previous) {
        expect(job.needs, name).toBe(previous);
        expect(phase?.with?.["cache-key"], name).toBe(
          `\${{ needs.${previous}.outputs.cache-key }}`,
        );
      }
      if (name !== "deploy") {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, not JS
        expect(job.outputs?.["cache-key"], name).toBe("${{ steps.phase.outputs.cache-key }}");
      }
      // actions: read finds the store's workflow artifact once the cache evicted the entry.
      const wanted =
        name === "deploy"
          ? { contents: "write", issues: "write", actions: "read", "pull-requests": "write" }
          : { contents: "write", issues: "write", actions: "read" };
      expect(job.permissions, name).toEqual(wanted);
    }
  });
});
