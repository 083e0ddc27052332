/** The codes core's own errors carry; other packages extend MiyabiError with theirs. */
export type CoreErrorCode =
  | "INVALID_INPUT"
  | "INVALID_ID"
  | "INVALID_AGENT_NAME"
  | "SESSION_NOT_FOUND"
  | "ILLEGAL_TRANSITION"
  | "STORE_CORRUPT"
  | "STORE_VERSION_UNSUPPORTED"
  | "STORE_NOT_FOUND"
  | "STORE_CLOSED"
  | "LOCK_TIMEOUT"
  | "LINEAGE_CYCLE"
  | "PATCH_DIGEST"
  | "UNSAFE_PATH";

/**
 * Every error the library throws on purpose is a `MiyabiError` with a stable `code`, so callers
 * can branch on `error.code` instead of parsing messages. Messages say what to do next.
 */
export class MiyabiError<C extends string = string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class InvalidInputError extends MiyabiError<"INVALID_INPUT"> {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_INPUT", message, options);
  }
}

export class InvalidIdError extends MiyabiError<"INVALID_ID"> {
  readonly value: string;

  constructor(value: string, kind = "session id") {
    super(
      "INVALID_ID",
      `${JSON.stringify(value)} is not a ${kind}: ids are UUIDs such as 550e8400-e29b-41d4-a716-446655440000.`,
    );
    this.value = value;
  }
}

export class InvalidAgentNameError extends MiyabiError<"INVALID_AGENT_NAME"> {
  readonly value: string;

  constructor(value: string) {
    super(
      "INVALID_AGENT_NAME",
      `${JSON.stringify(value)} is not a valid agent name: use 1-64 letters, digits, '_' or '-', starting with a letter (e.g. CodeGenAgent).`,
    );
    this.value = value;
  }
}

export class SessionNotFoundError extends MiyabiError<"SESSION_NOT_FOUND"> {
  readonly sessionId: string;

  constructor(sessionId: string, storePath: string) {
    super(
      "SESSION_NOT_FOUND",
      `No session ${sessionId} in ${storePath}. List the known sessions with \`miyabi-sessions list\`.`,
    );
    this.sessionId = sessionId;
  }
}

export class IllegalTransitionError extends MiyabiError<"ILLEGAL_TRANSITION"> {
  readonly sessionId: string;
  readonly status: string;
  readonly action: string;

  constructor(sessionId: string, status: string, action: string, hint: string) {
    super("ILLEGAL_TRANSITION", `Cannot ${action} session ${sessionId}: it is ${status}. ${hint}`);
    this.sessionId = sessionId;
    this.status = status;
    this.action = action;
  }
}

export class StoreCorruptError extends MiyabiError<"STORE_CORRUPT"> {
  readonly file: string;

  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(
      "STORE_CORRUPT",
      `${file} cannot be read: ${detail}. It was left untouched; restore it from a backup or the Actions cache, or move it aside to start a new store.`,
      options,
    );
    this.file = file;
  }
}

export class UnsupportedVersionError extends MiyabiError<"STORE_VERSION_UNSUPPORTED"> {
  readonly file: string;
  readonly version: unknown;

  constructor(file: string, version: unknown, supported: number) {
    super(
      "STORE_VERSION_UNSUPPORTED",
      `${file} has format version ${JSON.stringify(version)}, but this release reads versions up to ${supported}. Upgrade miyabi-sessions to open it; the file was left untouched.`,
    );
    this.file = file;
    this.version = version;
  }
}

export class LockTimeoutError extends MiyabiError<"LOCK_TIMEOUT"> {
  readonly lockFile: string;

  constructor(lockFile: string, waitedMs: number, holder: string) {
    super(
      "LOCK_TIMEOUT",
      `Timed out after ${waitedMs} ms waiting for ${lockFile} (held by ${holder}). Another process is using the store; retry, or remove the lock file if that process is gone.`,
    );
    this.lockFile = lockFile;
  }
}

export class LineageCycleError extends MiyabiError<"LINEAGE_CYCLE"> {
  readonly sessionId: string;

  constructor(sessionId: string, loop: readonly string[]) {
    super(
      "LINEAGE_CYCLE",
      `The parent links of session ${sessionId} form a loop (${loop.join(" -> ")}); the store was edited by hand or merged wrongly. Fix parent_session in sessions.json.`,
    );
    this.sessionId = sessionId;
  }
}

export class StoreClosedError extends MiyabiError<"STORE_CLOSED"> {
  constructor(dir: string) {
    super("STORE_CLOSED", `The session store at ${dir} is closed; open it again to use it.`);
  }
}

export class StoreNotFoundError extends MiyabiError<"STORE_NOT_FOUND"> {
  constructor(dir: string) {
    super(
      "STORE_NOT_FOUND",
      `No session store at ${dir}. Check --dir, or create a session first (miyabi-sessions create).`,
    );
  }
}

/** A patch in the store that is not the one the store wrote: never apply it. */
export class PatchDigestError extends MiyabiError<"PATCH_DIGEST"> {
  readonly sessionId: string;
  readonly file: string;

  constructor(sessionId: string, file: string, detail: string) {
    super(
      "PATCH_DIGEST",
      `The patch of session ${sessionId} (${file}) ${detail}, so it was not used. Something other than the store changed it; re-run the phase that produced it.`,
    );
    this.sessionId = sessionId;
    this.file = file;
  }
}

/** A path inside the store that is a symbolic link (or not a regular file/directory). */
export class UnsafePathError extends MiyabiError<"UNSAFE_PATH"> {
  readonly file: string;

  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(
      "UNSAFE_PATH",
      `Refusing to use ${file}: ${detail}. The store never reads or writes through links; remove it (and check who put it there).`,
      options,
    );
    this.file = file;
  }
}
