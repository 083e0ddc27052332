import { MiyabiError } from "@miyabi/core";

export class ClaudeNotFoundError extends MiyabiError {
  readonly executable: string;

  constructor(executable: string, detail: string, options?: { cause?: unknown }) {
    super(
      "CLAUDE_NOT_FOUND",
      `Cannot run the Claude Code CLI "${executable}": ${detail}. Install it (npm install -g @anthropic-ai/claude-code) or pass its path with --claude.`,
      options,
    );
    this.executable = executable;
  }
}

export class PipelineConfigError extends MiyabiError {
  readonly file: string;

  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super("PIPELINE_CONFIG_INVALID", `Pipeline definition ${file} is invalid: ${detail}.`, options);
    this.file = file;
  }
}

export class WorktreeError extends MiyabiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WORKTREE_ERROR", message, options);
  }
}

/** `handoff --run` cannot continue as asked; nothing was recorded. */
export class HandoffError extends MiyabiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("HANDOFF_INVALID", message, options);
  }
}

export class SandboxUnavailableError extends MiyabiError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(
      "SANDBOX_UNAVAILABLE",
      `The agent's sandbox is required but cannot be used: ${reason}. To fix it, install bubblewrap (e.g. \`sudo apt-get install -y bubblewrap\`) and, on Ubuntu 24.04 and later, allow unprivileged user namespaces (\`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`); or set sandbox to "auto".`,
      options,
    );
  }
}

/**
 * A gated step's session finished without a verdict the gate can read (its log is gone, say,
 * after a store came back without logs).
 */
export class GateVerdictError extends MiyabiError {
  readonly sessionId: string;

  constructor(sessionId: string, reason: string, options?: { cause?: unknown }) {
    super(
      "GATE_VERDICT_UNREADABLE",
      `The review gate cannot read the verdict of session ${sessionId}: ${reason}. Run the review step again (name it) to get a new verdict.`,
      options,
    );
    this.sessionId = sessionId;
  }
}
