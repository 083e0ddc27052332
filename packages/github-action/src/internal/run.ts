import os from "node:os";
import path from "node:path";
import type * as github from "@actions/github";
import {
  abortOnProcessSignals,
  createRedactor,
  issueStanding,
  loadPipeline,
  runPhase,
  secretValues,
} from "@miyabi/runner";
import * as actions from "./actions-toolkit.js";
import { installClaude } from "./claude.js";
import { messageOf } from "./errors.js";
import { INPUT_NAMES, type InputName, parseInputs } from "./inputs.js";
import { type IterateApi, octokitIterateApi } from "./iterate-api.js";
import { type ActionEvent, type PhaseOutputs, runPhaseJob } from "./job.js";
import { lazyArtifactClient } from "./lazy-artifact.js";
import { actionsCache } from "./lazy-cache.js";
import type { GitHubApi, Logger } from "./ports.js";
import { octokitArtifactApi } from "./store-artifact.js";

type Octokit = ReturnType<typeof github.getOctokit>;

const SECRET_INPUTS: readonly InputName[] = [
  "anthropic-api-key",
  "claude-code-oauth-token",
  "github-token",
  "push-token",
  "workflow-token",
  "store-key",
];

/** A value deep in the untyped webhook payload, when it has the expected type. */
function pick<T extends "string" | "number">(
  value: unknown,
  keys: readonly string[],
  type: T,
): (T extends "string" ? string : number) | undefined {
  let current = value;
  for (const key of keys) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === type ? (current as T extends "string" ? string : number) : undefined;
}

function eventOf(context: actions.Context): ActionEvent {
  const { payload } = context;
  return {
    name: context.eventName,
    action: pick(payload, ["action"], "string"),
    label: pick(payload, ["label", "name"], "string"),
    sender: pick(payload, ["sender", "login"], "string"),
    issueNumber: pick(payload, ["issue", "number"], "number"),
    issue: issueOf(payload),
    defaultBranch: pick(payload, ["repository", "default_branch"], "string"),
    payload,
  };
}

/** The issue's text as the event carried it: the one version later edits cannot change. */
function issueOf(payload: unknown): ActionEvent["issue"] {
  const title = pick(payload, ["issue", "title"], "string");
  if (title === undefined) return undefined;
  return {
    title,
    body: pick(payload, ["issue", "body"], "string") ?? "",
    url: pick(payload, ["issue", "html_url"], "string"),
  };
}

/** The event's repository id, where GITHUB_REPOSITORY_ID is not set. */
function repositoryIdOf(payload: unknown): string | undefined {
  const id = pick(payload, ["repository", "id"], "number");
  return id === undefined ? undefined : String(id);
}

function httpStatus(error: unknown): number | undefined {
  return pick(error, ["status"], "number");
}

/** The GitHubApi seam over Octokit (exported for its tests against the GitHub stub). */
export function gitHubApi(
  octokit: Octokit,
  owner: string,
  repo: string,
): Omit<GitHubApi, keyof IterateApi> {
  const where = { owner, repo };
  return {
    async getPermission(username) {
      try {
        const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
          ...where,
          username,
        });
        return { permission: data.permission, role: data.role_name };
      } catch (error) {
        // A deleted account (a comment by "ghost") or a login GitHub does not know: no access.
        if (httpStatus(error) === 404) return { permission: "none", role: "none" };
        throw error;
      }
    },
    async getIssue(issue_number) {
      const { data } = await octokit.rest.issues.get({ ...where, issue_number });
      return {
        number: data.number,
        title: data.title,
        body: data.body ?? "",
        url: data.html_url,
        labels: data.labels.map((l) => (typeof l === "string" ? l : (l.name ?? ""))),
      };
    },
    async listComments(issue_number) {
      const comments = await octokit.paginate(octokit.rest.issues.listComments, {
        ...where,
        issue_number,
        per_page: 100,
      });
      return comments.map((c) => ({ id: c.id, body: c.body ?? "", author: c.user?.login ?? "" }));
    },
    async createComment(issue_number, body) {
      const { data } = await octokit.rest.issues.createComment({ ...where, issue_number, body });
      return { id: data.id, author: data.user?.login ?? "" };
    },
    async updateComment(comment_id, body) {
      await octokit.rest.issues.updateComment({ ...where, comment_id, body });
    },
    async addLabels(issue_number, labels) {
      await octokit.rest.issues.addLabels({ ...where, issue_number, labels });
    },
    async removeLabel(issue_number, name) {
      try {
        await octokit.rest.issues.removeLabel({ ...where, issue_number, name });
      } catch (error) {
        // Someone removed it meanwhile: the state we want.
        if (httpStatus(error) !== 404) throw error;
      }
    },
    async listOpenPulls(branch) {
      const pulls = await octokit.paginate(octokit.rest.pulls.list, {
        ...where,
        head: `${owner}:${branch}`,
        state: "open",
        per_page: 100,
      });
      return pulls.map((p) => ({ number: p.number, url: p.html_url }));
    },
    async createPull(pull) {
      const { data } = await octokit.rest.pulls.create({ ...where, ...pull });
      return { number: data.number, url: data.html_url };
    },
    async updatePull(pull_number, pull) {
      const { data } = await octokit.rest.pulls.update({ ...where, pull_number, ...pull });
      return { number: data.number, url: data.html_url };
    },
  };
}

/** The calls that open and update the pull request, made with the token that pushed. */
function pullRequestApi(
  octokit: Octokit,
  owner: string,
  repo: string,
): Pick<GitHubApi, "listOpenPulls" | "createPull" | "updatePull" | "requestReviewers"> {
  const { listOpenPulls, createPull, updatePull } = gitHubApi(octokit, owner, repo);
  const { requestReviewers } = octokitIterateApi(octokit, owner, repo);
  return { listOpenPulls, createPull, updatePull, requestReviewers };
}

/** Every GitHubApi method: the type checker keeps it complete. */
const GITHUB_API_METHODS: Record<keyof GitHubApi, true> = {
  getPermission: true,
  getIssue: true,
  listComments: true,
  createComment: true,
  updateComment: true,
  addLabels: true,
  removeLabel: true,
  listOpenPulls: true,
  createPull: true,
  updatePull: true,
  getPull: true,
  listReviewComments: true,
  addReaction: true,
  requestReviewers: true,
  dispatchWorkflow: true,
};

/** Octokit for `token`, made on first use. */
function lazyOctokit(token: string, log: Logger): () => Promise<Octokit> {
  let made: Promise<Octokit> | undefined;
  return () => {
    made ??= import("./octokit.js").then(({ createOctokit }) => createOctokit({ token, log }));
    return made;
  };
}

/** A GitHubApi whose implementation is made by `load` on the first call of any method. */
function lazyGitHubApi(load: () => Promise<GitHubApi>): GitHubApi {
  let loaded: Promise<GitHubApi> | undefined;
  const methods = Object.keys(GITHUB_API_METHODS).map((name) => {
    const call = async (...args: unknown[]) => {
      loaded ??= load();
      const api = (await loaded) as unknown as Record<string, (...a: unknown[]) => unknown>;
      return api[name]?.(...args);
    };
    return [name, call];
  });
  return Object.fromEntries(methods) as GitHubApi;
}

/** The action's entry point: the only code that talks to @actions/* and the runner's process. */
export async function run(): Promise<void> {
  let reported = false;
  const setOutputs = (outputs: PhaseOutputs) => {
    for (const [name, value] of Object.entries(outputs)) actions.setOutput(name, value);
    reported = true;
  };
  const cancel = abortOnProcessSignals("the job was cancelled");
  // Every secret the job holds: the secret inputs, and whatever else the environment names
  // like one (ACTIONS_RUNTIME_TOKEN, a job-level NPM_TOKEN...). Other inputs are not secrets,
  // though `cache-key` ends like one: its value must reach the next job intact.
  const ambient = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("INPUT_")),
  );
  const secrets = [
    ...new Set([
      ...SECRET_INPUTS.map((name) => actions.getInput(name)).filter((v) => v !== ""),
      ...secretValues(ambient),
    ]),
  ];
  const redact = createRedactor(secrets);
  try {
    // Masked before anything else runs, so no later log line can show them.
    for (const value of secrets) actions.setSecret(value);
    const inputs = parseInputs(
      Object.fromEntries(INPUT_NAMES.map((name) => [name, actions.getInput(name)])),
    );
    const context = new actions.Context();
    const { owner, repo } = context.repo;
    const tempDir = process.env.RUNNER_TEMP || os.tmpdir();
    const log: Logger = {
      info: (message) => actions.info(message),
      notice: (message) => actions.notice(message),
      warning: (message) => actions.warning(message),
      group: (name, fn) => actions.group(name, fn),
    };
    // Octokit and its HTTP client load with the first API call: many jobs make none.
    const octokit = lazyOctokit(inputs.githubToken, log);
    // Pull requests opened or updated with the push-token start the checks GITHUB_TOKEN's do not.
    const pulls = inputs.pushToken ? lazyOctokit(inputs.pushToken, log) : octokit;
    const github = lazyGitHubApi(async () => {
      const [main, pull] = await Promise.all([octokit(), pulls()]);
      return {
        ...gitHubApi(main, owner, repo),
        ...octokitIterateApi(main, owner, repo),
        ...pullRequestApi(pull, owner, repo),
      };
    });
    await runPhaseJob({
      inputs,
      event: eventOf(context),
      context: {
        repository: `${owner}/${repo}`,
        serverUrl: context.serverUrl,
        runId: context.runId,
        runAttempt: context.runAttempt,
        repositoryId: process.env.GITHUB_REPOSITORY_ID || repositoryIdOf(context.payload),
      },
      workspace: process.cwd(),
      tempDir,
      env: process.env,
      redact,
      cache: actionsCache,
      artifacts: {
        client: lazyArtifactClient,
        api: {
          listArtifacts: async (page) =>
            octokitArtifactApi(await octokit(), owner, repo).listArtifacts(page),
        },
      },
      github,
      log,
      summary: {
        write: async (markdown) => {
          await actions.summary.addRaw(markdown).write();
        },
      },
      setOutputs,
      runner: { loadPipeline, issueStanding, runPhase },
      installClaude: (version) =>
        installClaude({
          version,
          // The same absolute path in every hosted job, as the cache entry's version needs.
          toolRoot: process.env.RUNNER_TOOL_CACHE || tempDir,
          root: process.cwd(),
          scratch: path.join(tempDir, `miyabi-claude-${process.pid}`),
          cache: actionsCache,
          log,
        }),
      signal: cancel.signal,
    });
  } catch (error) {
    if (!reported) actions.setOutput("status", "failed");
    actions.setFailed(redact(messageOf(error)));
  } finally {
    cancel.dispose();
  }
}
