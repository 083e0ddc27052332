/** The scripted agent's turns for a rig's jobs, each given the job's workspace. */
import path from "node:path";
import { type ScriptedTurn, type VerdictFinding, verdictTurn } from "@miyabi/testkit";

/** One agent turn: what the model answers, given the job's workspace. */
export type Turn = (workspace: string) => ScriptedTurn | Promise<ScriptedTurn>;

/** Write `content` to `file` in the workspace. */
export const write =
  (file: string, content: string): Turn =>
  (ws) => ({ toolUses: [{ name: "Write", input: { file_path: path.join(ws, file), content } }] });

/** Answer `text` and end the run. */
export const say =
  (text: string): Turn =>
  () => ({ text });

/** The gated Review's verdict: `approve` without findings, `changes` with them. */
export const verdict =
  (...findings: VerdictFinding[]): Turn =>
  () =>
    verdictTurn(findings);
