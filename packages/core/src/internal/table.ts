import type { JournalRecord } from "./journal.js";
import type { DiskSession } from "./model.js";

/**
 * The in-memory state: sessions by id in insertion order, which is the order `sessions.json`
 * keeps and the seed expects.
 */
export class SessionTable {
  readonly #byId = new Map<string, DiskSession>();

  static from(sessions: Iterable<DiskSession>): SessionTable {
    const table = new SessionTable();
    for (const s of sessions) table.#byId.set(s.id, s);
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

  /** Upserts keep an existing session's position; new sessions go to the end. */
  apply(record: JournalRecord): void {
    for (const s of record.put ?? []) this.#byId.set(s.id, s);
    for (const id of record.del ?? []) this.#byId.delete(id);
  }
}
