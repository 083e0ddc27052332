import { InvalidIdError, isSessionId, SessionNotFoundError, type SessionStore } from "@miyabi/core";
import { AmbiguousIdError } from "./errors.js";

const PREFIX = /^[0-9a-f][0-9a-f-]{0,35}$/;

/**
 * The full id for `text`: a whole id, or any prefix that fits exactly one session (as git takes
 * abbreviated hashes), such as the 8-character ids `list` and `lineage` print.
 */
export async function resolveId(store: SessionStore, text: string): Promise<string> {
  const wanted = text.trim().toLowerCase();
  if (isSessionId(wanted)) return wanted;
  if (!PREFIX.test(wanted)) throw new InvalidIdError(text);
  const matches = (await store.list()).map((s) => s.id).filter((id) => id.startsWith(wanted));
  const [only, ...others] = matches;
  if (only === undefined) throw new SessionNotFoundError(text, store.file);
  if (others.length > 0) throw new AmbiguousIdError(text, matches);
  return only;
}
