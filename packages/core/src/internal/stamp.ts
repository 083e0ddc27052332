import fs from "node:fs";
import type { FileIdentity } from "./journal.js";

/** What stat says of a file, enough to tell whether anyone wrote or replaced it since. */
export interface Stamp {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export function stampOf(st: fs.BigIntStats): Stamp {
  return { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** lstat, not stat: a link in a file's place must look changed, so it is opened and refused. */
export function fileStamp(file: string): Stamp | null {
  const st = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? stampOf(st) : null;
}

export function identityOf(stamp: Stamp): FileIdentity {
  return { ino: String(stamp.ino), size: String(stamp.size), ctime_ns: String(stamp.ctimeNs) };
}

/** Whether the file is still the one whose identity was recorded right after it was written. */
export function hasIdentity(stamp: Stamp, recorded: FileIdentity): boolean {
  const now = identityOf(stamp);
  return (
    now.ino === recorded.ino && now.size === recorded.size && now.ctime_ns === recorded.ctime_ns
  );
}
