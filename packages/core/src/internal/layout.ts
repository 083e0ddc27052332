import path from "node:path";
import { assertClaudeSessionId, assertSessionId } from "./ids.js";

/**
 * Every path inside a store directory is built here, from validated ids only, so nothing (in
 * core or outside it) can make the store name a file outside its own layout.
 */
export class StoreLayout {
  readonly dir: string;
  readonly file: string;
  readonly journal: string;
  readonly lock: string;
  readonly logs: string;
  readonly transcripts: string;
  readonly patches: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.file = path.join(this.dir, "sessions.json");
    this.journal = path.join(this.dir, "sessions.journal");
    this.lock = path.join(this.dir, "sessions.lock");
    this.logs = path.join(this.dir, "logs");
    this.transcripts = path.join(this.dir, "transcripts");
    this.patches = path.join(this.dir, "patches");
  }

  log(sessionId: string): string {
    return path.join(this.logs, `${assertSessionId(sessionId)}.log`);
  }

  transcript(claudeSessionId: string): string {
    return path.join(this.transcripts, `${assertClaudeSessionId(claudeSessionId)}.jsonl`);
  }

  patch(sessionId: string): string {
    return path.join(this.patches, `${assertSessionId(sessionId)}.patch`);
  }
}
