import { MiyabiError } from "@miyabi/core";

/** Codes of the errors the CLI itself raises (the libraries' errors keep their own). */
export type CliErrorCode =
  | "USAGE"
  | "AMBIGUOUS_ID"
  | "WORKTREE_IN_USE"
  | "NO_ISSUE_SESSIONS"
  | "OUTPUT_FILE";

export class CliError extends MiyabiError {
  declare readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The command line itself is wrong (exit 2, like a commander parse error). */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("USAGE", message, options);
  }
}

/** An id prefix that fits more than one session. */
export class AmbiguousIdError extends CliError {
  readonly matches: readonly string[];

  constructor(prefix: string, matches: readonly string[]) {
    const shown = matches.slice(0, 5).join(", ");
    const more = matches.length > 5 ? ` and ${matches.length - 5} more` : "";
    super(
      "AMBIGUOUS_ID",
      `"${prefix}" fits ${matches.length} sessions (${shown}${more}); give more characters of the id.`,
    );
    this.matches = matches;
  }
}

export class WorktreeCommandError extends CliError {
  constructor(message: string) {
    super("WORKTREE_IN_USE", message);
  }
}

/** `report --issue N` on a store that holds no session of issue N. */
export class NoIssueSessionsError extends CliError {
  constructor(issueNumber: number, storeDir: string) {
    super(
      "NO_ISSUE_SESSIONS",
      `No sessions of issue #${issueNumber} in ${storeDir}; see which issues it has with \`miyabi-sessions list\`, or point --dir at another store.`,
    );
  }
}

/** A file the user named for a command's output (`report --out`) cannot be written. */
export class OutputFileError extends CliError {
  constructor(file: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      "OUTPUT_FILE",
      `Cannot write ${file} (${reason}); check its directory exists and is writable.`,
      {
        cause,
      },
    );
  }
}
