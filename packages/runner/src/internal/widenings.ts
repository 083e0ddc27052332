import type { PipelineStep } from "./pipeline.js";
import type { SandboxProbe } from "./sandbox.js";
import { type ClaudeSettings, resolveSettings } from "./settings.js";

/** A Bash rule without a command pattern, or with one that matches every command. */
const UNRESTRICTED_BASH = /^Bash(?:\(\s*(?:\*|:\*)?\s*\))?$/;

const SKIP_PERMISSIONS = /^--(?:allow-)?dangerously-skip-permissions$/;

/**
 * The conscious widenings of the agent's containment in effect for `step`, in words, for job
 * summaries and comments: each one is something a workflow chose, not a default. Pass the
 * sandbox probe to have an unusable sandbox (under `auto`) reported too.
 */
export function widenings(
  claude: ClaudeSettings,
  step: Pick<PipelineStep, "id" | "allowedTools">,
  probe?: SandboxProbe,
): string[] {
  const settings = resolveSettings(claude);
  const out: string[] = [];
  const tools = settings.allowedTools ?? step.allowedTools ?? [];
  if (tools.some((t) => UNRESTRICTED_BASH.test(t.trim())))
    out.push(`step ${step.id}: unrestricted Bash (any command) is allowed`);
  const args = settings.extraArgs;
  const bypassArg = args.some(
    (a, i) =>
      a === "--permission-mode=bypassPermissions" ||
      (a === "--permission-mode" && args[i + 1] === "bypassPermissions"),
  );
  if (settings.permissionMode === "bypassPermissions" || bypassArg)
    out.push("permission mode bypassPermissions: every tool call runs without a check");
  const skip = args.find((a) => SKIP_PERMISSIONS.test(a));
  if (skip) out.push(`${skip} in the Claude arguments: permission checks are skipped`);
  if (settings.sandbox === "off")
    out.push("sandbox off: the agent's tools see this machine's files and processes");
  else if (settings.sandbox === "auto" && probe && !probe.usable)
    out.push(`no sandbox (${probe.reason}): the agent's tools see this machine's files`);
  if (settings.allowProtectedPaths.length > 0)
    out.push(`agents may commit protected paths: ${settings.allowProtectedPaths.join(", ")}`);
  return out;
}
