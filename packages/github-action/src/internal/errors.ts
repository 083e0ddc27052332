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

  /** `asked`: what the login did, e.g. "added the label" or "commented /miyabi". */
  constructor(login: string, repository: string, permission: string, asked = "added the label") {
    super(
      "SENDER_NOT_ALLOWED",
      `@${login} ${asked}, but has "${permission}" access to ${repository}; only users with write, maintain or admin access can start the pipeline (the agent runs with this repository's secrets). Ask a maintainer to do it. Nothing was restored or run.`,
    );
    this.login = login;
    this.permission = permission;
  }
}

/** The event asks for something that cannot be done (no issue number, an unknown step). */
export class TriggerRefusedError extends MiyabiError {
  constructor(code: string, reason: string) {
    super(`TRIGGER_${code}`, reason);
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
  constructor(what: string, keys: readonly string[], o: { artifactsSearched?: boolean } = {}) {
    const artifacts = o.artifactsSearched
      ? ", and the issue has no store artifact either (artifacts expire after artifact-retention-days)"
      : "";
    super(
      "SESSIONS_NOT_RESTORED",
      `${what} are not in the cache under ${keys.map((k) => `"${k}"`).join(", ")}: the entry may have been evicted or deleted, or the key mistyped${artifacts}. Only that exact entry will do; re-run the job that wrote it, or start the pipeline again from its first phase. Nothing was run.`,
    );
  }
}

export class MissingCacheKeyError extends MiyabiError {
  constructor() {
    super(
      "CACHE_KEY_MISSING",
      "A phase after the first needs the exact store the previous phase saved: pass that job's cache-key output as this job's cache-key input. Nothing was run.",
    );
  }
}

export class CacheSaveError extends MiyabiError {
  readonly key: string;

  constructor(key: string, cause: string, copy: string | undefined, options?: { cause?: unknown }) {
    const where = copy
      ? `The sessions are left in ${copy} (upload it with actions/upload-artifact in an \`if: failure()\` step to keep them)`
      : "The sessions could not be copied out of the job's temporary directory";
    super(
      "CACHE_SAVE_FAILED",
      `${cause}: the session store could not be saved to the cache under "${key}". ${where}; the phase's commits are on the work branch or in that store. Re-run this job once the cache service works.`,
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

/** The agents finished, but some of their tool calls were denied: the pipeline stops here. */
export class PartialPhaseError extends MiyabiError {
  readonly step: string;

  constructor(step: string, denied: string) {
    super(
      "PHASE_PARTIAL",
      `Phase ${step} finished, but tool calls were denied (${denied}), so the pipeline stopped here. Its commits were kept. Look at what the agents tried in the job log; if the calls were legitimate, widen the step's allowedTools, then re-run this job or start the next phase.`,
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

/** The checkout's persisted credentials could not be read or removed: no agent may run. */
export class CheckoutCredentialsError extends MiyabiError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      "CHECKOUT_CREDENTIALS",
      `Could not remove the credentials actions/checkout left in the repository's git config (${detail}); no agent ran, since it could have read them. Check out with persist-credentials: false.`,
      options,
    );
  }
}

/** A cache entry holds something no session store holds; nothing of it was used. */
export class UnsafeArchiveError extends MiyabiError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      "UNSAFE_ARCHIVE",
      `The cache entry was refused: ${detail}. Nothing of it was used. Someone may have written a crafted entry to the repository's Actions cache; delete it (gh cache delete <key>) and re-run the pipeline from a trusted store.`,
      options,
    );
  }
}

/** The cache service failed while looking up or downloading a store; the cause comes first. */
export class CacheRestoreError extends MiyabiError {
  constructor(keys: readonly string[], cause: string, options?: { cause?: unknown }) {
    super(
      "CACHE_RESTORE_FAILED",
      `${cause}: the cache service failed while restoring the session store (${keys.map((k) => `"${k}"`).join(", ")}). Nothing was run; re-run the job.`,
      options,
    );
  }
}

export class StorePathError extends MiyabiError {
  constructor(storePath: string, why: string) {
    super(
      "STORE_PATH_INVALID",
      `Input "store-path" is invalid: "${storePath}": ${why}. Use a relative directory such as .ai/sessions.`,
    );
  }
}

/** A carried patch touches files that steer agents or workflows; it is never applied. */
export class ProtectedPatchError extends MiyabiError {
  readonly paths: readonly string[];

  constructor(file: string, paths: readonly string[]) {
    super(
      "PROTECTED_PATCH",
      `The patch ${file} was refused: it changes ${paths.map((p) => `"${p}"`).join(", ")}, which steer agents or workflows (.claude/, .mcp.json, CLAUDE.md, .miyabi/, .github/, .git*). Nothing was applied or run. If the pipeline must change them, name them in the allow-protected-paths input.`,
    );
    this.paths = paths;
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
