import fs from "node:fs/promises";
import { isErrno, pidAlive } from "./fs-util.js";

interface ProcStat {
  state: string;
  pgrp: number;
  startTicks: number;
}

async function readStat(pid: number): Promise<ProcStat | null> {
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
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const startTicks = Number(fields[19]);
  if (!Number.isSafeInteger(startTicks)) return null;
  return { state: fields[0] ?? "", pgrp: Number(fields[2]), startTicks };
}

const finished = (stat: ProcStat | null) => !stat || stat.state === "Z" || stat.state === "X";

/**
 * When `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or null when
 * there is no such (running) process or no /proc. Together with the pid it names one process
 * for good: a pid reused later has another start time.
 */
export async function processStartTicks(pid: number): Promise<number | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const stat = await readStat(pid);
  return finished(stat) ? null : (stat as ProcStat).startTicks;
}

/** Running processes of process group `pgid` (its leader included, if still running). */
async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const name of await fs.readdir("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = await readStat(pid);
    if (!finished(stat) && stat?.pgrp === pgid) members.push(pid);
  }
  return members;
}

/** True when `pid` is alive and, if `startTicks` is known, is still the process recorded then. */
export async function isSameProcess(pid: number, startTicks: number | null): Promise<boolean> {
  if (startTicks === null) return pidAlive(pid);
  return (await processStartTicks(pid)) === startTicks;
}

/** Send `signal` to a process (pid > 0) or a process group (pid < 0) that may have gone. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if (!isErrno(error, "ESRCH")) throw error;
  }
}

/**
 * Stop the process tree led by `pid`, but only if `pid` is provably the process that was
 * recorded (same pid, same start time). The runner starts claude as the leader of its own
 * process group, so its tools go with it: SIGTERM to the group, then SIGKILL to whatever of the
 * group is left after `graceMs`. Returns whether it signalled anything.
 */
export async function stopRecordedProcess(
  pid: number,
  startTicks: number,
  graceMs = 3000,
): Promise<boolean> {
  const leader = await readStat(pid);
  if (finished(leader) || leader?.startTicks !== startTicks) return false;
  // Not a group leader: only the process itself is provably ours.
  const target = leader.pgrp === pid ? -pid : pid;
  const remaining = () =>
    target < 0 ? groupMembers(pid) : processStartTicks(pid).then((t) => (t === null ? [] : [pid]));
  const gone = async (withinMs: number) => {
    const deadline = Date.now() + withinMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if ((await remaining()).length === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  };
  signal(target, "SIGTERM");
  if (!(await gone(graceMs))) {
    signal(target, "SIGKILL");
    // SIGKILL cannot be caught; this only waits for the kernel to finish the job.
    await gone(graceMs);
  }
  return true;
}
