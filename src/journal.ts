/** What the primary missed for one key during an outage. */
export interface JournalEntry {
  /** The last operation on the key that did not reach the primary. */
  readonly op: 'set' | 'delete';
  /** Clock time of that operation. */
  readonly at: number;
}

/**
 * Remembers the keys whose write or delete did not reach the primary, so that they can be
 * reconciled when it is back instead of being replayed blindly (a late replay can overwrite a
 * newer value another instance wrote).
 *
 * Bounded: past `maxKeys` new keys are not recorded and `overflows` counts them; a consumer must
 * then treat the whole namespace as suspect (see `overflowed`). Only the newest operation per key
 * is kept, since that is all reconciliation needs.
 */
export class OutageJournal {
  readonly #maxKeys: number;
  readonly #entries = new Map<string, JournalEntry>();
  readonly #clearedNamespaces = new Set<string>();
  #overflows = 0;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /** Records an operation on a physical key (the key as the primary stores it). */
  record(key: string, op: JournalEntry['op'], at: number): void {
    if (this.#entries.has(key)) {
      // Re-inserting moves the key to the end, so iteration order stays oldest-first.
      this.#entries.delete(key);
    } else if (this.#entries.size >= this.#maxKeys) {
      this.#overflows++;
      return;
    }
    this.#entries.set(key, { op, at });
  }

  /** Records a `clear()` of a namespace (`''` for keys without one) that did not reach the primary. */
  recordClear(namespace: string): void {
    this.#clearedNamespaces.add(namespace);
  }

  /** Forgets a key, once reconciled, or once the primary took a newer write of it. */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** Entries oldest first. */
  entries(): IterableIterator<[string, JournalEntry]> {
    return this.#entries.entries();
  }

  clearedNamespaces(): ReadonlySet<string> {
    return this.#clearedNamespaces;
  }

  get size(): number {
    return this.#entries.size;
  }

  get overflows(): number {
    return this.#overflows;
  }

  /** True once a key could not be recorded: the journal no longer knows every missed write. */
  get overflowed(): boolean {
    return this.#overflows > 0;
  }
}
