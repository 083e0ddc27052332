import fs from "node:fs/promises";
import path from "node:path";
import { isClaudeSessionId, type SessionStore } from "@miyabi/core";
import { redact } from "./secrets.js";

/**
 * The directory under `<config>/projects/` for sessions started in `cwd`, as CLI 2.1.332 names
 * it: every character other than an ASCII letter or digit becomes "-"; names over 200
 * characters are cut and suffixed with a hash of the path.
 */
export function claudeProjectDirName(cwd: string): string {
  const name = cwd.replace(/[^a-zA-Z0-9]/g, "-");
  if (name.length <= 200) return name;
  let hash = 0;
  for (let i = 0; i < cwd.length; i++) hash = (Math.imul(hash, 31) + cwd.charCodeAt(i)) | 0;
  return `${name.slice(0, 200)}-${Math.abs(hash).toString(36)}`;
}

export function claudeTranscriptPath(
  configDir: string,
  cwd: string,
  claudeSessionId: string,
): string {
  return path.join(configDir, "projects", claudeProjectDirName(cwd), `${claudeSessionId}.jsonl`);
}

/**
 * After a run: keep the conversation in the store (it travels with the Actions cache), with
 * secret values masked in case the agent ever printed one.
 */
export async function saveTranscript(args: {
  store: SessionStore;
  configDir: string;
  cwd: string;
  claudeSessionId: string;
  secrets: readonly string[];
}): Promise<boolean> {
  // The id comes from the CLI's output; it must not be able to name another path.
  if (!isClaudeSessionId(args.claudeSessionId)) return false;
  let text: string;
  try {
    text = await fs.readFile(
      claudeTranscriptPath(args.configDir, args.cwd, args.claudeSessionId),
      "utf8",
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  await args.store.writeTranscript(args.claudeSessionId, redact(text, args.secrets));
  return true;
}

/**
 * Before a resume: make sure the CLI finds the conversation where it looks for it. True when it
 * is there (already, or copied from the store); false when neither place has it.
 */
export async function restoreTranscript(args: {
  store: SessionStore;
  configDir: string;
  cwd: string;
  claudeSessionId: string;
}): Promise<boolean> {
  if (!isClaudeSessionId(args.claudeSessionId)) return false;
  const live = claudeTranscriptPath(args.configDir, args.cwd, args.claudeSessionId);
  try {
    await fs.access(live);
    return true;
  } catch {
    const stored = await args.store.readTranscript(args.claudeSessionId);
    if (stored === null) return false;
    await fs.mkdir(path.dirname(live), { recursive: true });
    await fs.writeFile(live, stored);
    return true;
  }
}
