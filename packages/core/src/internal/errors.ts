/**
 * Every error the library throws on purpose is a `MiyabiError` with a stable `code`, so callers
 * can branch on `error.code` instead of parsing messages. Messages say what to do next.
 */
export class MiyabiError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class InvalidInputError extends MiyabiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_INPUT", message, options);
  }
}

export class InvalidIdError extends MiyabiError {
  readonly value: string;

  constructor(value: string) {
    super(
      "INVALID_ID",
      `${JSON.stringify(value)} is not a session id: ids are UUIDs such as 550e8400-e29b-41d4-a716-446655440000.`,
    );
    this.value = value;
  }
}

export class InvalidAgentNameError extends MiyabiError {
  readonly value: string;

  constructor(value: string) {
    super(
      "INVALID_AGENT_NAME",
      `${JSON.stringify(value)} is not a valid agent name: use 1-64 letters, digits, '_' or '-', starting with a letter (e.g. CodeGenAgent).`,
    );
    this.value = value;
  }
}

export class SessionNotFoundError extends MiyabiError {
  readonly sessionId: string;

  constructor(sessionId: string, storePath: string) {
    super(
      "SESSION_NOT_FOUND",
      `No session ${sessionId} in ${storePath}. List the known sessions with \`miyabi-sessions list\`.`,
    );
    this.sessionId = sessionId;
  }
}

export class IllegalTransitionError extends MiyabiError {
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

export class StoreCorruptError extends MiyabiError {
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

export class UnsupportedVersionError extends MiyabiError {
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

export class LockTimeoutError extends MiyabiError {
  readonly lockFile: string;

  constructor(lockFile: string, waitedMs: number, holder: string) {
    super(
      "LOCK_TIMEOUT",
      `Timed out after ${waitedMs} ms waiting for ${lockFile} (held by ${holder}). Another process is using the store; retry, or remove the lock file if that process is gone.`,
    );
    this.lockFile = lockFile;
  }
}

export class LineageCycleError extends MiyabiError {
  readonly sessionId: string;

  constructor(sessionId: string, loop: readonly string[]) {
    super(
      "LINEAGE_CYCLE",
      `The parent links of session ${sessionId} form a loop (${loop.join(" -> ")}); the store was edited by hand or merged wrongly. Fix parent_session in sessions.json.`,
    );
    this.sessionId = sessionId;
  }
}

export class StoreClosedError extends MiyabiError {
  constructor(dir: string) {
    super("STORE_CLOSED", `The session store at ${dir} is closed; open it again to use it.`);
  }
}
