import { peekStats } from "@miyabi/core/peek";
import { statsText } from "./format.js";
import { storeLocation } from "./location.js";

/** The global options `stats` understands, read the way the full parser reads them. */
function statsArgs(argv: readonly string[]): { dir: string | undefined; json: boolean } | null {
  let dir: string | undefined;
  let json = false;
  let command = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "stats" && !command) command = true;
    else if (arg === "--json") json = true;
    else if (arg === "-q" || arg === "--quiet") continue;
    else if (arg === "--dir" && dir === undefined) {
      dir = argv[++i];
      if (dir === undefined || dir === "" || dir.startsWith("-")) return null;
    } else if (arg.startsWith("--dir=") && dir === undefined && arg.length > "--dir=".length)
      dir = arg.slice("--dir=".length);
    else return null;
  }
  return command ? { dir, json } : null;
}

/**
 * `miyabi-sessions stats` without the command parser or the schema library, which cost more
 * than the rest of a one-shot command: it answers from the journal header when the store
 * allows it (see peekStats). Anything else, help and every error included, is left to the full
 * CLI: false means it printed nothing.
 */
export async function quickStats(
  argv: readonly string[],
  io: { env: Record<string, string | undefined>; cwd: string; out: (text: string) => void },
): Promise<boolean> {
  const args = statsArgs(argv);
  if (!args) return false;
  const location = await storeLocation({
    dirFlag: args.dir,
    env: io.env,
    repo: undefined,
    cwd: io.cwd,
  });
  const stats = peekStats(location.dir);
  if (!stats) return false;
  io.out(args.json ? JSON.stringify(stats, null, 2) : statsText(stats));
  return true;
}
