import type { ProgressEvent } from "@miyabi/runner";
import { elapsed, plural } from "./text.js";

export interface ProgressSink {
  write: (text: string) => void;
  /** Redraw one status line in place (a terminal) instead of printing lines. */
  tty: boolean;
  columns: number;
  /** Print nothing (--quiet). */
  quiet?: boolean;
}

function statusLine(e: ProgressEvent, elapsedMs: number): string {
  const cost = e.costUsd === null ? "" : `  $${e.costUsd.toFixed(4)}`;
  return `${e.agent} [${e.phase}]  ${plural(e.turns, "turn")}  ${elapsed(elapsedMs)}${cost}  ${e.message}`;
}

/** How often the clock of the live line ticks while the model thinks. */
const TICK_MS = 1000;

/**
 * Live progress for a run: on a terminal one line redrawn in place (agent, phase, turns,
 * elapsed, cost) whose clock keeps ticking between events; elsewhere (CI logs, pipes) a plain
 * line per event.
 */
export function progressPrinter(sink: ProgressSink): {
  onProgress: (e: ProgressEvent) => void;
  done: () => void;
} {
  let last: { event: ProgressEvent; at: number } | null = null;
  let timer: NodeJS.Timeout | null = null;
  const stopTicking = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const draw = () => {
    if (!last) return;
    const line = statusLine(last.event, last.event.elapsedMs + (Date.now() - last.at))
      .replace(/\s+/g, " ")
      .slice(0, Math.max(20, sink.columns - 1));
    sink.write(`\r\u001b[2K${line}`);
  };
  return {
    onProgress: (e) => {
      if (sink.quiet) return;
      if (!sink.tty) {
        sink.write(`${statusLine(e, e.elapsedMs)}\n`);
        return;
      }
      last = { event: e, at: Date.now() };
      draw();
      if (e.kind === "result" || e.kind === "note") {
        sink.write("\n");
        last = null;
        stopTicking();
        return;
      }
      // The clock must not keep a finished process alive.
      timer ??= setInterval(draw, TICK_MS).unref();
    },
    done: () => {
      stopTicking();
      if (last) sink.write("\n");
      last = null;
    },
  };
}
