import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SessionStore, STORE_FORMAT_VERSION } from "../src/index.js";
import { encodeRecord } from "../src/internal/journal.js";
import { fixture, tempDir } from "./helpers.js";

const seed = await fs.readFile(fixture("seed-readme.json"), "utf8");

const CASES: [string, string, string, RegExp][] = [
  ["truncated JSON", seed.slice(0, seed.length / 2), "STORE_CORRUPT", /not valid JSON/],
  ["garbage", "\u0000\u0001garbage", "STORE_CORRUPT", /not valid JSON/],
  ["an array", "[]", "STORE_CORRUPT", /top level is not an object/],
  [
    "a wrong type",
    seed.replace('"issue_number": 270', '"issue_number": "270"'),
    "STORE_CORRUPT",
    /issue_number/,
  ],
  ["an unknown status", seed.replace('"Active"', '"Running"'), "STORE_CORRUPT", /status/],
  [
    "a bad id",
    seed.replace('"660e8400-e29b-41d4-a716-446655440000",', '"../../x",'),
    "STORE_CORRUPT",
    /id/,
  ],
  ["a missing version", seed.replace('"version": 1', '"v": 1'), "STORE_CORRUPT", /version/],
  [
    "a future version",
    seed.replace('"version": 1', '"version": 2'),
    "STORE_VERSION_UNSUPPORTED",
    /version 2/,
  ],
  [
    "a duplicated session",
    JSON.stringify({
      ...JSON.parse(seed),
      sessions: [JSON.parse(seed).sessions[0], JSON.parse(seed).sessions[0]],
    }),
    "STORE_CORRUPT",
    /appears twice/,
  ],
];

describe("unreadable stores", () => {
  for (const [name, content, code, message] of CASES) {
    it(`reports ${name} with a typed error naming the file and leaves its bytes alone`, async () => {
      const dir = await tempDir();
      const file = path.join(dir, "sessions.json");
      await fs.writeFile(file, content);
      const error = await SessionStore.open({ dir }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code, file });
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(file);
      expect(await fs.readFile(file, "utf8")).toBe(content);
      expect((await fs.readdir(dir)).sort()).toEqual(["logs", "sessions.json"]);
    });
  }

  it("reports a damaged journal record that is followed by good ones, and writes nothing", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    const a = await store.create({ agentName: "A", purpose: "one" });
    await store.create({ agentName: "B", purpose: "two" });
    // Abandon the instance without closing, as a crash would.
    const journal = path.join(dir, "sessions.journal");
    const text = await fs.readFile(journal, "utf8");
    const damaged = text.replace('"purpose":"one"', '"purpose":"0ne"');
    await fs.writeFile(journal, damaged);
    await expect(SessionStore.open({ dir })).rejects.toMatchObject({
      code: "STORE_CORRUPT",
      file: journal,
    });
    expect(await fs.readFile(journal, "utf8")).toBe(damaged);
    expect(a).toBeTruthy();
  });

  it("skips a torn last journal line (a write a crash cut short) and appends after it", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    const a = await store.create({ agentName: "A", purpose: "kept" });
    const journal = path.join(dir, "sessions.journal");
    await fs.appendFile(journal, '0badc0de {"put":[{"id":');
    const reopened = await SessionStore.open({ dir });
    expect((await reopened.list()).map((s) => s.id)).toEqual([a]);
    const b = await reopened.create({ agentName: "B", purpose: "after" });
    const third = await SessionStore.open({ dir });
    expect((await third.list()).map((s) => s.id)).toEqual([a, b]);
    await third.close();
  });
});

describe("journal records that pass their checksum", () => {
  async function journalWith(line: string) {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    await store.create({ agentName: "A", purpose: "one" });
    const journal = path.join(dir, "sessions.journal");
    await fs.appendFile(journal, line);
    return { dir, journal, before: await fs.readFile(journal, "utf8") };
  }

  it("reports a last record that fails the schema as corruption, not a torn write", async () => {
    const { dir, journal, before } = await journalWith(
      encodeRecord({ put: [{ id: "../../x" } as never] }).toString("utf8"),
    );
    const error = await SessionStore.open({ dir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "STORE_CORRUPT", file: journal });
    expect((error as Error).message).toMatch(/invalid/);
    expect(await fs.readFile(journal, "utf8")).toBe(before);
  });

  it("refuses a journal written by a newer store format", async () => {
    const dir = await tempDir();
    const journal = path.join(dir, "sessions.journal");
    const header = `${JSON.stringify({ journal: 1, generation: "g", format: STORE_FORMAT_VERSION + 1 })}\n`;
    await fs.writeFile(journal, header);
    await expect(SessionStore.open({ dir })).rejects.toMatchObject({
      code: "STORE_VERSION_UNSUPPORTED",
    });
    expect(await fs.readFile(journal, "utf8")).toBe(header);
  });

  it("still reads a journal whose header predates the format field", async () => {
    const dir = await tempDir();
    const store = await SessionStore.open({ dir });
    const a = await store.create({ agentName: "A", purpose: "one" });
    const journal = path.join(dir, "sessions.journal");
    const text = await fs.readFile(journal, "utf8");
    await fs.writeFile(journal, text.replace(/,"format":\d+/, ""));
    const reopened = await SessionStore.open({ dir });
    expect((await reopened.getSession(a)).purpose).toBe("one");
    await reopened.close();
  });
});
