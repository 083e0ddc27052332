import { v4 as uuidv4 } from "uuid";
import { InvalidAgentNameError, InvalidIdError } from "./errors.js";

// Any RFC 4122 layout is accepted on read (files come from other tools); we only create v4.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Agent names end up in log lines, labels and branch names, so no separators, dots or spaces.
const AGENT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function newSessionId(): string {
  return uuidv4();
}

export function isSessionId(value: string): boolean {
  return UUID.test(value);
}

/** Throws unless `value` is a UUID; ids become file names, so this runs before any path is built. */
export function assertSessionId(value: string): string {
  if (!UUID.test(value)) throw new InvalidIdError(value);
  return value;
}

/** Claude Code names its conversations with UUIDs; anything else must not become a file name. */
export function isClaudeSessionId(value: string): boolean {
  return UUID.test(value);
}

export function assertClaudeSessionId(value: string): string {
  if (!UUID.test(value)) throw new InvalidIdError(value, "Claude session id");
  return value;
}

export function assertAgentName(value: string): string {
  if (!AGENT_NAME.test(value)) throw new InvalidAgentNameError(value);
  return value;
}

export const agentNamePattern = AGENT_NAME;
