import { MiyabiError } from "@miyabi/core";

/** The message of anything thrown, Error or not. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An action input (or the event that started the run) cannot be used as given. */
export class ActionInputError extends MiyabiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ACTION_INPUT_INVALID", message, options);
  }
}

export class MissingCredentialError extends MiyabiError {
  constructor() {
    super(
      "CREDENTIAL_MISSING",
      "Neither anthropic-api-key nor claude-code-oauth-token is set, so Claude Code cannot run. Store the key as a repository secret (e.g. ANTHROPIC_API_KEY) and pass it to the action's anthropic-api-key input. Nothing was restored or run.",
    );
  }
}

export class SenderNotAllowedError extends MiyabiError {
  readonly login: string;
  readonly permission: string;

  constructor(login: string, repository: string, permission: string) {
    super(
      "SENDER_NOT_ALLOWED",
      `@${login} added the label, but has "${permission}" access to ${repository}; only users with write, maintain or admin access can start the pipeline (the agent runs with this repository's secrets). Ask a maintainer to add the label. Nothing was restored or run.`,
    );
    this.login = login;
    this.permission = permission;
  }
}

export class UnknownPhaseError extends MiyabiError {
  readonly phase: string;

  constructor(phase: string, pipeline: string, known: readonly string[]) {
    super(
      "UNKNOWN_PHASE",
      `The phase input "${phase}" names no step of pipeline "${pipeline}". Use a step id or phase name: ${known.join(", ")}.`,
    );
    this.phase = phase;
  }
}

export class SessionsNotRestoredError extends MiyabiError {
  constructor(what: string, keys: readonly string[]) {
    super(
      "SESSIONS_NOT_RESTORED",
      `${what} were not found in the cache (looked for ${keys.map((k) => `"${k}"`).join(", ")}); the cache service may be unreachable (see the warning above) or the entry may have been evicted. Re-run the job that wrote them, or start the pipeline again from its first phase. Nothing was run.`,
    );
  }
}

export class CacheSaveError extends MiyabiError {
  readonly key: string;

  constructor(key: string, detail: string, options?: { cause?: unknown }) {
    super(
      "CACHE_SAVE_FAILED",
      `The session store could not be saved to the cache under "${key}": ${detail}. The phase result is in the job summary and the issue comment, but the next phase cannot continue from it; re-run this job.`,
      options,
    );
    this.key = key;
  }
}

export class PhaseFailedError extends MiyabiError {
  readonly step: string;

  constructor(step: string, detail: string) {
    super(
      "PHASE_FAILED",
      `Phase ${step} failed: ${detail}. The job summary and the issue comment show its sessions; fix the cause and re-run this job to retry the phase.`,
    );
    this.step = step;
  }
}

export class ClaudeInstallError extends MiyabiError {
  constructor(version: string, detail: string, options?: { cause?: unknown }) {
    super(
      "CLAUDE_INSTALL_FAILED",
      `Installing @anthropic-ai/claude-code@${version} with npm failed: ${detail}. Install it in an earlier step or pass its path with the claude-path input.`,
      options,
    );
  }
}

/**
 * A git step of carrying the work on the issue's branch failed (checkout, fetch, applying
 * the earlier phases' patches); `step` names which, the message what to do.
 */
export class WorkBranchError extends MiyabiError {
  readonly step: "checkout" | "patch" | "push";

  constructor(step: "checkout" | "patch" | "push", message: string, options?: { cause?: unknown }) {
    super("WORK_BRANCH_FAILED", message, options);
    this.step = step;
  }
}

/** The branch moved on the remote in a way this job's commits cannot be rebased over. */
export class PushRejectedError extends MiyabiError {
  readonly branch: string;

  constructor(branch: string, detail: string, options?: { cause?: unknown }) {
    super(
      "PUSH_REJECTED",
      `Pushing the phase's commits to ${branch} was rejected: ${detail}. Nothing was force-pushed; the sessions are saved. Resolve the branch by hand (merge or revert the other commits on ${branch}) and re-run this job.`,
      options,
    );
    this.branch = branch;
  }
}

export class PullRequestError extends MiyabiError {
  constructor(branch: string, detail: string, options?: { cause?: unknown }) {
    super(
      "PULL_REQUEST_FAILED",
      `The pull request for ${branch} could not be opened or updated: ${detail}. The branch is pushed; give the github-token pull-requests: write permission and re-run this job, or open the pull request by hand.`,
      options,
    );
  }
}

export type StoreArtifactErrorCode =
  | "STORE_ARTIFACT_TAMPERED"
  | "STORE_KEY_MISMATCH"
  | "STORE_ARTIFACT_WRONG_ISSUE"
  | "STORE_KEY_REQUIRED"
  | "STORE_ARTIFACT_UNSEALED"
  | "STORE_ARTIFACT_INVALID"
  | "STORE_ARTIFACT_TRANSFER_FAILED";

/**
 * A store artifact was refused or could not be moved. Nothing was written into the store
 * when this is thrown from unsealing; the message says why and what to do.
 */
export class StoreArtifactError extends MiyabiError {
  declare readonly code: StoreArtifactErrorCode;
  readonly artifact: string;

  constructor(
    code: StoreArtifactErrorCode,
    artifact: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.artifact = artifact;
  }
}
