/**
 * The safe extractor against crafted archives: what @actions/cache's `tar -P` would have
 * extracted anywhere, refused here; what a real store holds, extracted.
 */
import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ExtractLimits,
  extractStore,
  memberTarget,
  STORE_LAYOUT,
  UnsafeArchiveError,
} from "../src/index.js";
import { freshDir, removeScratch } from "./harness.js";

afterAll(removeScratch);

interface Member {
  name: string;
  /** tar type flag: "0" file, "5" directory, "1" hard link, "2" symlink, "3"/"4" devices. */
  type?: string;
  content?: string;
  link?: string;
  /** Put the name in a pax header (as GNU tar --posix does for long names). */
  pax?: boolean;
}

function header(name: string, type: string, size: number, link = ""): Buffer {
  const block = Buffer.alloc(512);
  block.write(name.slice(0, 100), 0, "utf8");
  block.write("0000644\0", 100);
  block.write("0000000\0", 108);
  block.write("0000000\0", 116);
  block.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  block.write("00000000000\0", 136);
  block.write(type, 156);
  block.write(link, 157);
  block.write("ustar\0", 257);
  block.write("00", 263);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return block;
}

const pad = (data: Buffer) =>
  Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** A gzipped tar of `members`, byte for byte as written (no tool normalises the names). */
function tarball(members: Member[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const type = m.type ?? "0";
    if (m.pax) {
      const record = (len: number) => `${len} path=${m.name}\n`;
      let length = record(0).length;
      while (record(length).length !== length) length = record(length).length;
      const data = Buffer.from(record(length));
      blocks.push(header("PaxHeader", "x", data.length), pad(data));
    }
    const content = Buffer.from(m.content ?? "");
    const size = type === "0" ? content.length : 0;
    blocks.push(header(m.pax ? "placeholder" : m.name, type, size, m.link));
    if (size > 0) blocks.push(pad(content));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A workspace whose store was saved from `<workspace>/.ai/sessions`, and an empty target. */
async function setup(members: Member[], storePath = ".ai/sessions") {
  const base = await freshDir("extract");
  const root = path.join(base, "work", "repo");
  await mkdir(root, { recursive: true });
  const into = path.join(base, "into");
  await mkdir(into);
  const archive = path.join(base, "cache.tgz");
  await writeFile(archive, tarball(members));
  return { base, root, into, archive, storeDir: path.join(root, storePath) };
}

async function extract(
  s: Awaited<ReturnType<typeof setup>>,
  limits?: ExtractLimits,
): Promise<unknown> {
  return extractStore({
    archive: s.archive,
    compression: "gzip",
    root: s.root,
    storeDir: s.storeDir,
    into: s.into,
    layout: STORE_LAYOUT,
    limits,
  }).catch((error: unknown) => error);
}

/** Every file under `dir`, relative. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

const STORE: Member[] = [
  { name: ".ai/sessions/", type: "5" },
  { name: ".ai/sessions/sessions.json", content: '{"sessions":[]}' },
  { name: ".ai/sessions/logs/", type: "5" },
  { name: ".ai/sessions/logs/a.log", content: "hello" },
];

describe("extractStore", () => {
  it("extracts a store's files into the target, names relative to the store", async () => {
    const s = await setup(STORE);
    expect(await extract(s)).toEqual({ files: 2, directories: 2, bytes: 20 });
    expect(await files(s.into)).toEqual(["logs/a.log", "sessions.json"]);
    expect(await readFile(path.join(s.into, "logs/a.log"), "utf8")).toBe("hello");
  });

  it("takes `../` names that land inside a store kept outside the workspace", async () => {
    // @actions/cache names members relative to the workspace: a store under RUNNER_TEMP is
    // saved as ../../_temp/<...>.
    const s = await setup(
      [{ name: "../../_temp/store/sessions.json", content: "{}" }],
      "../../_temp/store",
    );
    expect(await extract(s)).toMatchObject({ files: 1 });
    expect(await files(s.into)).toEqual(["sessions.json"]);
  });

  it("reads long names from pax headers", async () => {
    const long = `.ai/sessions/logs/${"x".repeat(120)}.log`;
    const s = await setup([{ name: long, content: "long", pax: true }]);
    expect(await extract(s)).toMatchObject({ files: 1 });
    expect(await files(s.into)).toEqual([`logs/${"x".repeat(120)}.log`]);
  });

  it.each<[string, Member[], RegExp]>([
    ["a ../ escape", [{ name: ".ai/sessions/../../escape", content: "x" }], /lies outside/],
    ["a member beside the store", [{ name: ".ai/other.json", content: "x" }], /lies outside/],
    ["an absolute name", [{ name: "/etc/cron.d/evil", content: "x" }], /absolute name/],
    [
      "a symbolic link",
      [{ name: ".ai/sessions/logs", type: "2", link: "/home/runner" }],
      /is a symbolic link/,
    ],
    [
      "a hard link",
      [{ name: ".ai/sessions/sessions.json", type: "1", link: "/etc/passwd" }],
      /is a hard link/,
    ],
    ["a character device", [{ name: ".ai/sessions/tty", type: "3" }], /character device/],
    ["a block device", [{ name: ".ai/sessions/sda", type: "4" }], /block device/],
    ["a FIFO", [{ name: ".ai/sessions/pipe", type: "6" }], /FIFO/],
    [
      ".claude/settings.json inside the store",
      [{ name: ".ai/sessions/.claude/settings.json", content: '{"hooks":{}}' }],
      /hidden file/,
    ],
    [
      ".claude/settings.json in the workspace",
      [{ name: ".claude/settings.json", content: '{"hooks":{}}' }],
      /lies outside/,
    ],
    [
      "a file nested deeper than a store's",
      [{ name: ".ai/sessions/logs/a/b.log", content: "x" }],
      /nested deeper/,
    ],
    [
      "a file replacing the store itself",
      [{ name: ".ai/sessions", content: "x" }],
      /replaces the store/,
    ],
    [
      "a second member of the same name",
      [
        { name: ".ai/sessions/sessions.json", content: "a" },
        { name: ".ai/sessions/sessions.json", content: "b" },
      ],
      /appears twice/,
    ],
  ])("refuses %s, writing nothing outside the target", async (_what, members, why) => {
    const s = await setup([...STORE, ...members]);
    const error = await extract(s);
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as Error).message).toMatch(why);
    expect(await files(s.base)).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/escape|evil|\.claude|other\.json/)]),
    );
    expect(await files(path.join(s.base, "work"))).toEqual([]);
  });

  it("refuses an entry over the size or count limits", async () => {
    const big = await setup([{ name: ".ai/sessions/big.json", content: "x".repeat(2000) }]);
    expect(await extract(big, { maxBytes: 1000, maxEntries: 10 })).toBeInstanceOf(
      UnsafeArchiveError,
    );
    const many = await setup(
      Array.from({ length: 20 }, (_, i) => ({ name: `.ai/sessions/f${i}`, content: "x" })),
    );
    expect(await extract(many, { maxBytes: 1e9, maxEntries: 10 })).toMatchObject({
      message: expect.stringMatching(/more than 10 members/),
    });
  });

  it("refuses a truncated or corrupt archive", async () => {
    const s = await setup(STORE);
    const bytes = await readFile(s.archive);
    await writeFile(s.archive, bytes.subarray(0, bytes.length - 30));
    expect(await extract(s)).toBeInstanceOf(UnsafeArchiveError);
  });

  it("reads what GNU tar -P writes, as @actions/cache runs it", async () => {
    const s = await setup([]);
    const store = path.join(s.base, "temp", "store");
    await mkdir(path.join(store, "logs"), { recursive: true });
    await writeFile(path.join(store, "sessions.json"), "{}");
    await writeFile(path.join(store, "logs", "x.log"), "log");
    const name = path.relative(s.root, store);
    execFileSync("tar", ["--posix", "-czPf", s.archive, "-C", s.root, name]);
    const result = await extractStore({
      archive: s.archive,
      compression: "gzip",
      root: s.root,
      storeDir: store,
      into: s.into,
      layout: STORE_LAYOUT,
    });
    expect(result).toMatchObject({ files: 2 });
    expect(await files(s.into)).toEqual(["logs/x.log", "sessions.json"]);
  });
});

describe("memberTarget (property)", () => {
  const root = "/w/repo";
  const storeDir = "/w/repo/.ai/sessions";
  const part = fc.constantFrom("..", ".", ".ai", "sessions", "logs", ".claude", "a", "", "x.json");

  it("any name either maps inside the store, unhidden, or is refused", () => {
    fc.assert(
      fc.property(fc.array(part, { maxLength: 7 }), fc.boolean(), (parts, absolute) => {
        const name = `${absolute ? "/" : ""}${parts.join("/")}`;
        let target: string;
        try {
          target = memberTarget(name, { root, storeDir, layout: STORE_LAYOUT });
        } catch (error) {
          expect(error).toBeInstanceOf(UnsafeArchiveError);
          return;
        }
        const resolved = path.resolve(storeDir, target);
        expect(resolved === storeDir || resolved.startsWith(`${storeDir}/`)).toBe(true);
        expect(path.resolve(root, name)).toBe(resolved);
        expect(target.split("/").some((p) => p.startsWith("."))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("random archives never write outside the target", async () => {
    const names = fc
      .array(fc.constantFrom("..", ".ai", "sessions", "logs", ".claude", "a", "b.json"), {
        minLength: 1,
        maxLength: 5,
      })
      .map((p) => p.join("/"));
    const member = fc.record({
      name: names,
      type: fc.constantFrom("0", "5", "2", "1"),
      content: fc.string({ maxLength: 20 }),
      link: fc.constant("/etc/passwd"),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(member, { maxLength: 6 }), async (members) => {
        const s = await setup(members);
        await extract(s);
        expect(await files(path.join(s.base, "work"))).toEqual([]);
        for (const file of await files(s.into)) {
          expect(file.split("/").some((p) => p.startsWith("."))).toBe(false);
        }
      }),
      { numRuns: 60 },
    );
  });
});
