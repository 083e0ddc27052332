/**
 * A stand-in `npm` for installClaude: a shell script that appends its arguments to a log and
 * "installs" by writing `<prefix>/node_modules/.bin/claude` where npm would link it, so no
 * test downloads the ~190 MB package.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { freshDir } from "./harness.js";

/** Write an executable shell script. */
export async function executable(file: string, script: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

export interface FakeNpm {
  /** The directory holding `npm`: put it first on PATH. */
  bin: string;
  /** Each run's arguments, space-separated, one line per run. */
  runs(): Promise<string[]>;
}

/**
 * A fake npm whose `install --prefix <prefix> …` creates `<prefix>/node_modules/.bin/claude`:
 * the `claude` binary itself (linked, else copied, as npm puts the real one there; a script
 * exec'ing it would point into the checkout, which the agent's jail may hide) or a script
 * that exits 0; or that runs `script` instead.
 */
export async function fakeNpm(
  options: { claude?: string; script?: string; failFirst?: string } = {},
): Promise<FakeNpm> {
  const bin = await freshDir("npm-bin");
  const log = path.join(bin, "runs.log");
  await writeFile(log, "");
  const target = `"$3/node_modules/.bin/claude"`;
  const place = options.claude
    ? `ln -L '${options.claude}' ${target} 2>/dev/null || cp '${options.claude}' ${target}`
    : `printf '#!/bin/sh\\nexit 0\\n' > ${target}`;
  const install = [
    // npm install --prefix <prefix> --cache <cache> ...: $3 is the prefix, $5 npm's cache,
    // where it leaves a content-addressed download and an index entry.
    `mkdir -p "$5/_cacache/content-v2/sha512/ab/cd" "$5/_cacache/index-v5/12" "$5/_logs"`,
    `echo tarball > "$5/_cacache/content-v2/sha512/ab/cd/ef01"`,
    `echo index > "$5/_cacache/index-v5/12/34"`,
    `mkdir -p "$3/node_modules/.bin"`,
    place,
    `chmod +x ${target}`,
  ].join("\n");
  // failFirst: the first run prints it as npm's error and fails, as on a registry hiccup.
  const failOnce = options.failFirst
    ? `if [ ! -e '${bin}/failed' ]; then : > '${bin}/failed'; echo '${options.failFirst}' >&2; exit 1; fi\n`
    : "";
  await executable(
    path.join(bin, "npm"),
    `echo "$*" >> '${log}'\n${failOnce}${options.script ?? install}`,
  );
  return {
    bin,
    runs: async () => (await readFile(log, "utf8")).split("\n").filter((line) => line !== ""),
  };
}

/** Run `fn` with `npm` first on this process's PATH, where installClaude's execFile looks. */
export async function withPath<T>(bin: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${saved ?? ""}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}
