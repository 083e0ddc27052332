import type { JournalRecord } from "./journal.js";
import type { DiskIssueSnapshot, DiskSession } from "./model.js";

/**
 * The in-memory state: sessions by id in insertion order, which is the order `sessions.json`
 * keeps and the seed expects.
 */
export class SessionTable {
  readonly #byId = new Map<string, DiskSession>();
  readonly #issues = new Map<number, DiskIssueSnapshot>();
  /** Bumped by every change, so derived figures know when to recount. */
  version = 0;

  static from(
    sessions: Iterable<DiskSession>,
    issues: Iterable<DiskIssueSnapshot> = [],
  ): SessionTable {
    const table = new SessionTable();
    for (const s of sessions) table.#byId.set(s.id, s);
    table.apply({ issues: [...issues] });
    return table;
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): DiskSession | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  values(): IterableIterator<DiskSession> {
    return this.#byId.values();
  }

  issue(number: number): DiskIssueSnapshot | undefined {
    return this.#issues.get(number);
  }

  issues(): IterableIterator<DiskIssueSnapshot> {
    return this.#issues.values();
  }

  /** Upserts keep an existing session's position; new sessions go to the end. */
  apply(record: JournalRecord): void {
    this.version += 1;
    for (const s of record.put ?? []) this.#byId.set(s.id, s);
    for (const id of record.del ?? []) this.#byId.delete(id);
    // First capture wins, so replaying a journal or merging never changes what a phase saw.
    for (const i of record.issues ?? [])
      if (!this.#issues.has(i.number)) this.#issues.set(i.number, i);
  }
}
