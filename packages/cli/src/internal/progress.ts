import type { ProgressEvent } from "@miyabi/runner";

export interface ProgressSink {
  write: (text: string) => void;
  /** Redraw one status line in place (a terminal) instead of printing lines. */
  tty: boolean;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function statusLine(e: ProgressEvent): string {
  const cost = e.costUsd === null ? "" : `  $${e.costUsd.toFixed(4)}`;
  return `${e.agent} [${e.phase}]  turns ${e.turns}  ${seconds(e.elapsedMs)}${cost}  ${e.message}`;
}

/**
 * Live progress for a run: on a terminal one line redrawn in place (agent, phase, turns,
 * elapsed, cost); elsewhere (CI logs, pipes) a plain line per event.
 */
export function progressPrinter(sink: ProgressSink): {
  onProgress: (e: ProgressEvent) => void;
  done: () => void;
} {
  let drawn = false;
  const columns = process.stdout.columns ?? 100;
  return {
    onProgress: (e) => {
      if (!sink.tty) {
        sink.write(`${statusLine(e)}\n`);
        return;
      }
      const line = statusLine(e)
        .replace(/\s+/g, " ")
        .slice(0, columns - 1);
      sink.write(`\r\u001b[2K${line}`);
      drawn = true;
      if (e.kind === "result" || e.kind === "note") {
        sink.write("\n");
        drawn = false;
      }
    },
    done: () => {
      if (drawn) sink.write("\n");
      drawn = false;
    },
  };
}
