/**
 * An Active session with a process on record and no result: one a dead runner may have left.
 * Structural, so the schema-free `stats` can ask it of a record it has only JSON-parsed.
 */
export function isRunning(s: { status?: unknown; process?: unknown; result?: unknown }): boolean {
  return s.status === "Active" && s.process != null && s.result == null;
}
