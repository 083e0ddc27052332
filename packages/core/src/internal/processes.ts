import fs from "node:fs/promises";
import { isErrno, pidAlive } from "./fs-util.js";

/**
 * When `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or null when
 * there is no such (running) process or no /proc. Together with the pid it names one process for good:
 * a pid reused later has another start time.
 */
export async function processStartTicks(pid: number): Promise<number | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT") || isErrno(error, "ESRCH") || isErrno(error, "ENOTDIR"))
      return null;
    throw error;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): a zombie has finished, only its exit status is left.
  if (fields[0] === "Z" || fields[0] === "X") return null;
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) ? ticks : null;
}

/** True when `pid` is alive and, if `startTicks` is known, is still the process recorded then. */
export async function isSameProcess(pid: number, startTicks: number | null): Promise<boolean> {
  if (startTicks === null) return pidAlive(pid);
  return (await processStartTicks(pid)) === startTicks;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // The runner starts claude as the leader of its own process group: its tools go with it.
    process.kill(-pid, signal);
  } catch (error) {
    if (!isErrno(error, "ESRCH")) throw error;
    try {
      process.kill(pid, signal);
    } catch (inner) {
      if (!isErrno(inner, "ESRCH")) throw inner;
    }
  }
}

/**
 * Stop the process tree led by `pid`, but only if it is provably the process that was recorded
 * (same pid, same start time): SIGTERM, then SIGKILL if it has not gone after `graceMs`.
 * Returns whether it signalled anything.
 */
export async function stopRecordedProcess(
  pid: number,
  startTicks: number,
  graceMs = 3000,
): Promise<boolean> {
  if ((await processStartTicks(pid)) !== startTicks) return false;
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  let delay = 5;
  while (Date.now() < deadline) {
    if ((await processStartTicks(pid)) !== startTicks) return true;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
  if ((await processStartTicks(pid)) === startTicks) signalGroup(pid, "SIGKILL");
  return true;
}
