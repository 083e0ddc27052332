import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { actionlint } from "@miyabi/testkit";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { INPUT_NAMES, OUTPUT_NAMES, parseInputs } from "../src/index.js";
import { ACTION_DIR, freshDir, REPO_ROOT, removeScratch } from "./harness.js";

const WORKFLOWS = path.join(REPO_ROOT, ".github", "workflows");

interface ActionMeta {
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
}

interface Workflow {
  jobs: Record<
    string,
    { steps?: { id?: string; uses?: string; with?: Record<string, unknown> }[] }
  >;
}

afterAll(removeScratch);

async function actionMeta(): Promise<ActionMeta> {
  return YAML.parse(await readFile(path.join(ACTION_DIR, "action.yml"), "utf8")) as ActionMeta;
}

async function workflowFiles(): Promise<string[]> {
  const names = await readdir(WORKFLOWS);
  return names.filter((n) => /\.ya?ml$/.test(n)).map((n) => path.join(WORKFLOWS, n));
}

describe("action.yml", () => {
  it("declares exactly the schema's inputs, in the same order", async () => {
    expect(Object.keys((await actionMeta()).inputs)).toEqual(INPUT_NAMES);
  });

  it("has the defaults the schema applies to blank inputs", async () => {
    const declared = Object.fromEntries(
      Object.entries((await actionMeta()).inputs)
        // Expressions (github-token's and workflow-token's `${{ github.token }}`) are the runner's.
        .filter(([, spec]) => spec.default !== undefined && !String(spec.default).includes("${{"))
        .map(([name, spec]) => [name, String(spec.default)]),
    );
    expect(Object.keys(declared).length).toBeGreaterThan(3);
    expect(parseInputs({ ...declared, "github-token": "t" })).toEqual(
      parseInputs({ "github-token": "t" }),
    );
  });

  it("declares exactly the outputs the job sets, and runs the bundle on node24", async () => {
    const meta = await actionMeta();
    expect(Object.keys(meta.outputs)).toEqual(OUTPUT_NAMES);
    expect(meta.runs).toEqual({ using: "node24", main: "dist/index.js" });
  });

  it("is documented input by input and output by output in the README", async () => {
    const readme = await readFile(path.join(ACTION_DIR, "README.md"), "utf8");
    for (const name of [...INPUT_NAMES, ...OUTPUT_NAMES]) {
      expect(readme, name).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, "m"));
    }
  });
});

describe("workflows", () => {
  it("pass only declared inputs to the action and read only declared outputs", async () => {
    const meta = await actionMeta();
    let uses = 0;
    for (const file of await workflowFiles()) {
      const text = await readFile(file, "utf8");
      const workflow = YAML.parse(text) as Workflow;
      for (const job of Object.values(workflow.jobs)) {
        for (const step of job.steps ?? []) {
          if (step.uses !== "./actions/session-phase") continue;
          uses += 1;
          for (const input of Object.keys(step.with ?? {})) {
            expect(meta.inputs, `${path.basename(file)}: ${input}`).toHaveProperty([input]);
          }
          const read = text.matchAll(new RegExp(`steps\\.${step.id}\\.outputs\\.([\\w-]+)`, "g"));
          for (const [, output] of read) expect(OUTPUT_NAMES).toContain(output);
        }
      }
    }
    expect(uses).toBeGreaterThanOrEqual(5);
  });

  it("pass actionlint, every file", async () => {
    const files = await workflowFiles();
    expect(files.map((f) => path.basename(f)).sort()).toEqual([
      "ci.yml",
      "miyabi-pipeline.yml",
      "miyabi.yml",
      "release.yml",
    ]);
    for (const file of files) {
      const { code, output } = await actionlint(file);
      expect(code, output).toBe(0);
    }
  });

  it("actionlint does report a broken workflow (it is not a no-op)", async () => {
    const broken = path.join(await freshDir("actionlint"), "broken.yml");
    await writeFile(
      broken,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, not JS
      "on: issues\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.issue.title }}\n",
    );
    const { code, output } = await actionlint(broken);
    expect(code).toBe(1);
    expect(output).toContain('"github.event.issue.title" is potentially untrusted');
  });
});
