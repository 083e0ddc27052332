import type { ProgressEvent } from "@miyabi/runner";
import { afterEach, describe, expect, it, vi } from "vitest";
import { progressPrinter } from "../src/internal/progress.js";

const event = (over: Partial<ProgressEvent>): ProgressEvent => ({
  sessionId: "s",
  agent: "CodeGenAgent",
  phase: "CodeGeneration",
  kind: "turn",
  message: "thinking",
  turns: 1,
  costUsd: null,
  elapsedMs: 0,
  ...over,
});

afterEach(() => {
  vi.useRealTimers();
});

describe("progress on a terminal", () => {
  it("keeps the elapsed time ticking between events, and stops when the run ends", () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const printer = progressPrinter({ write: (t) => written.push(t), tty: true, columns: 120 });
    printer.onProgress(event({ elapsedMs: 2000 }));
    expect(written.at(-1)).toMatch(/CodeGenAgent \[CodeGeneration\] 1 turn 2\.0s thinking$/);
    vi.advanceTimersByTime(3000);
    expect(written.at(-1)).toMatch(/ 5\.0s thinking$/);
    expect(written.at(-1)?.startsWith("\r\u001b[2K")).toBe(true);
    printer.onProgress(
      event({ kind: "result", turns: 2, costUsd: 0.5, elapsedMs: 6000, message: "done" }),
    );
    expect(written.slice(-2)).toEqual([
      expect.stringMatching(/2 turns 6\.0s \$0\.5000 done$/),
      "\n",
    ]);
    const count = written.length;
    vi.advanceTimersByTime(5000);
    expect(written).toHaveLength(count);
    printer.done();
  });

  it("prints a plain line per event elsewhere, and nothing with --quiet", () => {
    const lines: string[] = [];
    progressPrinter({ write: (t) => lines.push(t), tty: false, columns: 80 }).onProgress(event({}));
    expect(lines).toEqual(["CodeGenAgent [CodeGeneration]  1 turn  0.0s  thinking\n"]);
    const quiet: string[] = [];
    progressPrinter({
      write: (t) => quiet.push(t),
      tty: true,
      columns: 80,
      quiet: true,
    }).onProgress(event({}));
    expect(quiet).toEqual([]);
  });
});
