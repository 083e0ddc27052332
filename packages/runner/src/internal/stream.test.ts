import { describe, expect, it } from "vitest";
import { LineSplitter } from "./stream.js";

describe("LineSplitter", () => {
  it("joins lines split across chunks and keeps the partial last one for flush", () => {
    const s = new LineSplitter();
    expect(s.push('{"a":')).toEqual([]);
    expect(s.push('1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(":2}\n\n{")).toEqual(['{"b":2}']);
    expect(s.flush()).toEqual(["{"]);
    expect(s.flush()).toEqual([]);
  });

  it("passes a 32 MB line in 64 KB chunks, keeping one copy of it", () => {
    const s = new LineSplitter({ maxLength: 64 * 1024 * 1024 });
    const chunk = "x".repeat(64 * 1024);
    let lines: string[] = [];
    for (let i = 0; i < 512; i++) lines = lines.concat(s.push(chunk));
    expect(lines).toEqual([]);
    const [line] = s.push("\nnext");
    expect(line?.length).toBe(32 * 1024 * 1024);
    expect(s.flush()).toEqual(["next"]);
  });

  it("skips a line over the bound as it streams and reports its length", () => {
    const skipped: number[] = [];
    const s = new LineSplitter({ maxLength: 10, onSkip: (n) => skipped.push(n) });
    expect(s.push("short\n0123456")).toEqual(["short"]);
    expect(s.push("789abcdef")).toEqual([]);
    expect(s.push("gh\nafter\n")).toEqual(["after"]);
    expect(skipped).toEqual([18]);
  });
});
