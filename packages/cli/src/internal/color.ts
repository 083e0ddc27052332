/** ANSI styles the CLI uses; written by hand so FORCE_COLOR and NO_COLOR mean the same on every Node. */
const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  cyan: [36, 39],
} as const;

export type Style = keyof typeof CODES;

export function paint(enabled: boolean, style: Style, text: string): string {
  if (!enabled) return text;
  const [open, close] = CODES[style];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

/**
 * Colours on a terminal unless NO_COLOR is set; FORCE_COLOR (any value but 0 or false) turns
 * them on anywhere, as in Node, npm and chalk.
 */
export function colorEnabled(
  env: Record<string, string | undefined>,
  stream: { isTTY?: boolean },
): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true && env.TERM !== "dumb";
}
