import type { IssueCommentData } from "@miyabi/runner";
import { sanitizeUserText } from "@miyabi/runner";
import type { GitHubApi } from "./ports.js";
import { commentMarker } from "./report.js";
import { parseCommand } from "./triggers.js";
import { hasWriteAccess } from "./write-access.js";

/*
 * The discussion under an issue steers the work as much as its body: comments by people with
 * write access go into the agents' prompts as data (in the issue's data block). Read once per
 * job from the API by the action, never from anything an agent could write.
 */

/** Characters of comment text a prompt carries at most; older comments go first. */
export const MAX_COMMENT_CHARS = 20_000;

export interface PromptComments {
  comments: IssueCommentData[];
  /** Comments that qualified but were left out (oldest first) to stay within the limit. */
  commentsOmitted: number;
}

export interface PromptCommentsOptions {
  github: Pick<GitHubApi, "listComments" | "getPermission">;
  issueNumber: number;
  /** Comments starting with it are commands to the action, not discussion. */
  triggerPhrase: string;
  /** Bots whose comments count (they still need write access); other bots never do. */
  allowedBots: readonly string[];
  maxChars?: number;
}

const isBot = (login: string) => login.endsWith("[bot]");

/**
 * The issue's comments by people with write access (the job asks GitHub once per login), less
 * the trigger commands and the action's progress comment, sanitized like the body, oldest
 * first; beyond `maxChars` the oldest are dropped and counted, and a single comment longer
 * than the limit is cut.
 */
export async function promptComments(o: PromptCommentsOptions): Promise<PromptComments> {
  const maxChars = o.maxChars ?? MAX_COMMENT_CHARS;
  const marker = commentMarker(o.issueNumber);
  const chosen: IssueCommentData[] = [];
  for (const c of await o.github.listComments(o.issueNumber)) {
    if (c.author === "" || c.body.includes(marker)) continue;
    if (parseCommand(c.body, o.triggerPhrase) !== undefined) continue;
    if (isBot(c.author) && !o.allowedBots.includes(c.author)) continue;
    if (!hasWriteAccess(await o.github.getPermission(c.author))) continue;
    const body = sanitizeUserText(c.body).trim();
    if (body !== "") chosen.push({ author: c.author, body });
  }
  let total = chosen.reduce((sum, c) => sum + c.body.length, 0);
  let omitted = 0;
  while (chosen.length > 1 && total > maxChars) {
    total -= chosen.shift()?.body.length ?? 0;
    omitted += 1;
  }
  const [only] = chosen;
  if (only && only.body.length > maxChars) only.body = `${only.body.slice(0, maxChars)}…`;
  return { comments: chosen, commentsOmitted: omitted };
}
