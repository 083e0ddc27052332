/**
 * Split a command-line string into arguments the way a POSIX shell would quote them, without
 * running one: no expansion, globbing or substitution, so `$(...)` or `*` stay literal text.
 * Single quotes keep everything; double quotes honour `\"`, `\\`, `\$` and `` \` ``; outside
 * quotes a backslash keeps the next character. Throws a RangeError on an unclosed quote.
 */
export function splitArgs(line: string): string[] {
  const args: string[] = [];
  let current = "";
  let inArg = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1] as string)) {
        current += line[++i];
      } else current += ch;
    } else if (/\s/.test(ch)) {
      if (inArg) args.push(current);
      current = "";
      inArg = false;
    } else {
      inArg = true;
      if (ch === "'" || ch === '"') quote = ch;
      else if (ch === "\\" && i + 1 < line.length) current += line[++i];
      else current += ch;
    }
  }
  if (quote) throw new RangeError(`unclosed ${quote} quote`);
  if (inArg) args.push(current);
  return args;
}
