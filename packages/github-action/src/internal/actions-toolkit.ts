/*
 * What the action uses of @actions/core and @actions/github, without their entry modules: both
 * load an HTTP client (undici, most of what a cold start parses) at import time, for OIDC tokens
 * and Octokit, which a job that triggers nothing never uses. Workflow commands, file commands,
 * the job summary and the event context come from the packages' own modules that implement
 * them; Octokit is loaded with the first API call (run.ts).
 */
import { EOL } from "node:os";
import { issue, issueCommand } from "../../node_modules/@actions/core/lib/command.js";
import {
  issueFileCommand,
  prepareKeyValueMessage,
} from "../../node_modules/@actions/core/lib/file-command.js";
import { toCommandValue } from "../../node_modules/@actions/core/lib/utils.js";

export { summary } from "../../node_modules/@actions/core/lib/summary.js";
export { Context } from "../../node_modules/@actions/github/lib/context.js";

/** An input as @actions/core reads it: `INPUT_<NAME>`, trimmed, "" when unset. */
export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}

export function setSecret(secret: string): void {
  issueCommand("add-mask", {}, secret);
}

export function setOutput(name: string, value: string): void {
  if (process.env.GITHUB_OUTPUT) {
    issueFileCommand("OUTPUT", prepareKeyValueMessage(name, value));
    return;
  }
  process.stdout.write(EOL);
  issueCommand("set-output", { name }, toCommandValue(value));
}

export function info(message: string): void {
  process.stdout.write(`${message}${EOL}`);
}

export function notice(message: string): void {
  issueCommand("notice", {}, message);
}

export function warning(message: string): void {
  issueCommand("warning", {}, message);
}

export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  issue("group", name);
  try {
    return await fn();
  } finally {
    issue("endgroup");
  }
}

/** Fails the step: an error annotation and exit code 1. */
export function setFailed(message: string): void {
  process.exitCode = 1;
  issueCommand("error", {}, message);
}
