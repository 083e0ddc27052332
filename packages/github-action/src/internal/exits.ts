import type { Redactor } from "@miyabi/runner";
import type { PhaseOutputs } from "./outputs.js";
import type { GitHubApi, Logger, Summary } from "./ports.js";

/*
 * Defence in depth: whatever an agent wrote (answers, summaries, errors quoting tool output)
 * may carry a secret it found, raw or encoded. Every way out of the job — log lines, the job
 * summary, outputs, issue comments and the pull request — passes through the redactor here,
 * once, so no caller can forget it.
 */

export interface Exits {
  log: Logger;
  summary: Summary;
  setOutputs(outputs: PhaseOutputs): void;
  github: GitHubApi;
}

export function redactExits(exits: Exits, redact: Redactor): Exits {
  const { log, summary, github } = exits;
  return {
    log: {
      info: (message) => log.info(redact(message)),
      notice: (message) => log.notice(redact(message)),
      warning: (message) => log.warning(redact(message)),
      group: (name, fn) => log.group(redact(name), fn),
    },
    summary: { write: (markdown) => summary.write(redact(markdown)) },
    setOutputs: (outputs) =>
      exits.setOutputs(
        Object.fromEntries(
          Object.entries(outputs).map(([name, value]) => [name, redact(value)]),
        ) as unknown as PhaseOutputs,
      ),
    github: {
      getPermission: (login) => github.getPermission(login),
      getIssue: (issue) => github.getIssue(issue),
      listComments: (issue) => github.listComments(issue),
      createComment: (issue, body) => github.createComment(issue, redact(body)),
      updateComment: (id, body) => github.updateComment(id, redact(body)),
      addLabels: (issue, labels) => github.addLabels(issue, labels),
      removeLabel: (issue, label) => github.removeLabel(issue, label),
      listOpenPulls: (branch) => github.listOpenPulls(branch),
      createPull: (pull) =>
        github.createPull({ ...pull, title: redact(pull.title), body: redact(pull.body) }),
      updatePull: (n, pull) =>
        github.updatePull(n, { ...pull, title: redact(pull.title), body: redact(pull.body) }),
      getPull: (n) => github.getPull(n),
      listReviewComments: (n, review) => github.listReviewComments(n, review),
      addReaction: (comment, content) => github.addReaction(comment, content),
      requestReviewers: (n, logins) => github.requestReviewers(n, logins),
      dispatchWorkflow: (workflow, ref, inputs) => github.dispatchWorkflow(workflow, ref, inputs),
    },
  };
}
