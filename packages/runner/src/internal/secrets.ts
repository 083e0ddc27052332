// Names whose values must never reach sessions.json, logs or prompts.
const SECRET_NAMES = /(?:KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$/i;

/** Shorter values are too likely to occur by chance, and hiding them would garble text. */
const MIN_SECRET_LENGTH = 8;

/** What a redacted secret is replaced with. */
export const REDACTED = "***";

/** Removes every secret it knows of from a text; see createRedactor. */
export type Redactor = (text: string) => string;

/** The values of secret-looking variables in `env`, longest first (so overlaps mask fully). */
export function secretValues(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(
      ([name, value]) =>
        SECRET_NAMES.test(name) && typeof value === "string" && value.length >= MIN_SECRET_LENGTH,
    )
    .map(([, value]) => value as string)
    .sort((a, b) => b.length - a.length);
}

/*
 * Credentials recognised by their shape, whoever's they are: GitHub tokens (installation,
 * personal, OAuth, user-to-server, refresh, fine-grained) and Anthropic keys. A secret the job
 * never saw (one an agent found somewhere) is caught this way too.
 */
const TOKEN_SHAPES = [
  /gh[pousr]_[A-Za-z0-9]{20,}/g,
  /github_pat_[A-Za-z0-9_]{20,}/g,
  /sk-ant-[A-Za-z0-9_-]{16,}/g,
  // git's basic-auth header for a token: the value is base64("x-access-token:<token>").
  /(authorization:\s*(?:basic|bearer)\s+)[A-Za-z0-9+/=._-]{8,}/gi,
  /x-access-token:[^\s@"'`]+/g,
];
const SHAPE_TEST = new RegExp(TOKEN_SHAPES.map((re) => re.source).join("|"), "i");

/** A run of base64 (standard or URL-safe alphabet) long enough to hide a token. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
const BASE64_CHAR = /[A-Za-z0-9+/=_-]/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The parts of a value's base64 encoding that do not depend on the bytes around it, for each of
 * the three positions it can start at within a 3-byte group (standard and URL-safe alphabets).
 * Whatever base64 text contains the value contains one of these.
 */
function base64Cores(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const cores = new Set<string>();
  for (const offset of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const encoded = padded.toString("base64").replace(/=+$/, "");
    // Characters mixing filler bytes before the value, and the trailing partial group.
    const skip = [0, 2, 3][offset] as number;
    const end = Math.floor(padded.length / 3) * 4;
    const core = encoded.slice(skip, end);
    if (core.length >= MIN_SECRET_LENGTH) {
      cores.add(core);
      cores.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...cores];
}

/** Widen [start, end) to the whole base64 run around it. */
function widenToRun(text: string, start: number, end: number): [number, number] {
  let from = start;
  let to = end;
  while (from > 0 && BASE64_CHAR.test(text[from - 1] as string)) from--;
  while (to < text.length && BASE64_CHAR.test(text[to] as string)) to++;
  return [from, to];
}

/** True when some alignment of the base64 run decodes to text holding a token shape. */
function hidesToken(run: string): boolean {
  const standard = run.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  for (let shift = 0; shift < 4; shift++) {
    const decoded = Buffer.from(standard.slice(shift), "base64").toString("latin1");
    if (SHAPE_TEST.test(decoded)) return true;
  }
  return false;
}

/** Replace the given [start, end) ranges (any order, may overlap) with one REDACTED each. */
function cut(text: string, ranges: [number, number][]): string {
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  for (const [start, end] of ranges) {
    if (start >= at) {
      out += text.slice(at, start) + REDACTED;
      at = end;
    } else if (end > at) {
      at = end;
    }
  }
  return out + text.slice(at);
}

/**
 * A function that removes secrets from text before it leaves the job: each of `values` (of 8
 * characters or more) as it is and base64-encoded at any alignment (the whole base64 run
 * around it goes), anything shaped like a GitHub token or Anthropic key, base64 runs that
 * decode to one, and `x-access-token:` / basic-auth credentials. Built once per set of values,
 * since the encodings are computed up front.
 */
export function createRedactor(values: readonly string[]): Redactor {
  const secrets = [...new Set(values)]
    .filter((v) => v.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
  const exact = secrets.length > 0 ? new RegExp(secrets.map(escapeRegExp).join("|"), "g") : null;
  const cores = secrets.flatMap(base64Cores);
  const encoded = cores.length > 0 ? new RegExp(cores.map(escapeRegExp).join("|"), "g") : null;

  return (text: string) => {
    let out = exact ? text.replace(exact, REDACTED) : text;
    for (const shape of TOKEN_SHAPES) {
      out = out.replace(shape, (match, prefix?: string) =>
        typeof prefix === "string" && match.startsWith(prefix) ? `${prefix}${REDACTED}` : REDACTED,
      );
    }
    const ranges: [number, number][] = [];
    if (encoded) {
      for (const m of out.matchAll(encoded)) {
        ranges.push(widenToRun(out, m.index, m.index + m[0].length));
      }
    }
    for (const m of out.matchAll(BASE64_RUN)) {
      if (hidesToken(m[0])) ranges.push([m.index, m.index + m[0].length]);
    }
    return cut(out, ranges);
  };
}

const cache = new WeakMap<readonly string[], Redactor>();

/** `createRedactor(secrets)(text)`, building the redactor once per secrets array. */
export function redact(text: string, secrets: readonly string[]): string {
  let redactor = cache.get(secrets);
  if (!redactor) {
    redactor = createRedactor(secrets);
    cache.set(secrets, redactor);
  }
  return redactor(text);
}
