import { describe, expect, it } from "vitest";
import { createRedactor, REDACTED, redact, secretValues } from "./secrets.js";

/** A small seeded generator, so a failing case can be replayed from its seed. */
function random(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const text = (length: number, alphabet: string) =>
    Array.from({ length }, () => alphabet[int(alphabet.length)]).join("");
  return { int, text };
}

const PROSE = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789 .,:;!?-_/+=\n\"'{}[]()";
const SECRET_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+/";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const b64url = (text: string) => Buffer.from(text, "utf8").toString("base64url");

describe("createRedactor", () => {
  it("removes a secret embedded raw or base64-encoded at any position in random text", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const r = random(seed);
      const secret = r.text(8 + r.int(60), SECRET_CHARS);
      const before = r.text(r.int(40), PROSE);
      const after = r.text(r.int(40), PROSE);
      const redactor = createRedactor([secret, "unrelated-value-123"]);
      const encoders = [
        (s: string) => s,
        (s: string) => b64(`${before}${s}${after}`),
        (s: string) => b64url(`${before}${s}${after}`),
        (s: string) => b64(s),
      ];
      const encoder = encoders[seed % encoders.length] as (s: string) => string;
      const payload = `${r.text(r.int(30), PROSE)}${encoder(secret)}${r.text(r.int(30), PROSE)}`;
      const out = redactor(payload);
      expect(out, `seed ${seed}`).not.toContain(secret);
      expect(
        Buffer.from(out.replace(/[^A-Za-z0-9+/=]/g, ""), "base64").toString("latin1"),
      ).not.toContain(secret);
      for (const run of out.match(/[A-Za-z0-9+/_-]{12,}={0,2}/g) ?? []) {
        for (let shift = 0; shift < 4; shift++) {
          const decoded = Buffer.from(
            run.slice(shift).replace(/-/g, "+").replace(/_/g, "/"),
            "base64",
          );
          expect(decoded.toString("latin1"), `seed ${seed}`).not.toContain(secret);
        }
      }
    }
  });

  it("keeps text without secrets as it is", () => {
    const redactor = createRedactor(["sk-the-secret-value"]);
    const text = "Implemented greet(name) in src/greet.js; 3 tests pass. See packages/runner/src.";
    expect(redactor(text)).toBe(text);
  });

  it("removes GitHub tokens and Anthropic keys by their shape, also base64-encoded", () => {
    const redactor = createRedactor([]);
    const tokens = [
      "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
      "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      "gho_abcdefghijklmnopqrstuvwxyz0123456789",
      "ghu_abcdefghijklmnopqrstuvwxyz0123456789",
      "github_pat_11ABCDEFG0abcdefghij_klmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS",
      "sk-ant-api03-abcdefghijklmnopqrstuvwxyz-0123456789_ABCDEF",
    ];
    for (const token of tokens) {
      expect(redactor(`token=${token} end`)).toBe(`token=${REDACTED} end`);
      const hidden = redactor(`leak: ${b64(`GITHUB_TOKEN=${token}\nPATH=/usr/bin`)} done`);
      expect(hidden).toBe(`leak: ${REDACTED} done`);
    }
  });

  it("removes git's basic-auth header and x-access-token credentials", () => {
    const redactor = createRedactor([]);
    const header = `AUTHORIZATION: basic ${b64("x-access-token:not-a-known-shape-123456")}`;
    expect(redactor(`[http "https://github.com/"]\n\textraheader = ${header}\n`)).toBe(
      `[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${REDACTED}\n`,
    );
    expect(redactor("https://x-access-token:abc123secretvalue@github.com/o/r")).toBe(
      `https://${REDACTED}@github.com/o/r`,
    );
  });

  it("ignores values too short to be told from ordinary text", () => {
    expect(createRedactor(["abc", "1234567"])("abc 1234567")).toBe("abc 1234567");
  });
});

describe("redact", () => {
  it("masks the secret values of an environment", () => {
    const env = {
      ANTHROPIC_API_KEY: "key-value-0123456789",
      HOME: "/home/someone",
      PAT_TOKEN: "tok",
    };
    const secrets = secretValues(env);
    expect(secrets).toEqual(["key-value-0123456789"]);
    expect(redact("x key-value-0123456789 /home/someone", secrets)).toBe(
      `x ${REDACTED} /home/someone`,
    );
  });
});
