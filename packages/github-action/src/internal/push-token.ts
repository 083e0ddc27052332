import type { ActionInputs } from "./inputs.js";

/*
 * GitHub starts no workflow for a push or a pull request made with the workflow's own
 * GITHUB_TOKEN, so the pull request's required checks never run. A GitHub App token or a
 * PAT passed as `push-token` is what git and the pull request calls use instead; the
 * workflow's token itself (the hidden `workflow-token` input) only tells the two apart, since
 * every installation token looks alike (`ghs_`).
 */

type TokenInputs = Pick<ActionInputs, "githubToken" | "pushToken" | "workflowToken">;

/** Where the work branch's pushes and the pull request's checks are explained. */
export const CHECKS_DOCS_URL =
  "https://github.com/miyabi-sessions/miyabi-sessions/blob/main/actions/session-phase/README.md#tokens-and-the-pull-requests-checks";

/** The token git pushes with and the pull request is opened with. */
export function pushTokenOf(inputs: TokenInputs): string {
  return inputs.pushToken ?? inputs.githubToken;
}

/** True when the token that pushes is the workflow's GITHUB_TOKEN (unknown counts as not). */
export function pushesWithWorkflowToken(inputs: TokenInputs): boolean {
  return inputs.workflowToken !== undefined && pushTokenOf(inputs) === inputs.workflowToken;
}

/** What the summary and comment say after a push with the workflow's token. */
export function checksNote(inputs: TokenInputs): string[] {
  if (!pushesWithWorkflowToken(inputs)) return [];
  return [
    `Pushed with the workflow's GITHUB_TOKEN: GitHub starts no workflow for its pushes and pull requests, so the pull request's checks will not run. Pass a GitHub App token (actions/create-github-app-token) or a PAT as push-token; see ${CHECKS_DOCS_URL}.`,
  ];
}
