import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** Absolute path of the pinned Claude Code CLI executable installed with this package. */
export function claudeBinPath(): string {
  const pkg = require.resolve("@anthropic-ai/claude-code/package.json");
  return path.join(path.dirname(pkg), "bin", "claude.exe");
}
