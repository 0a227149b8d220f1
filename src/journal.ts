/** What the primary missed for one key during an outage. */
export interface JournalEntry {
  /** The last operation on the key that did not reach the primary. */
  readonly op: 'set' | 'delete';
  /** Clock time of that operation. */
  readonly at: number;
}

/** The namespace part of a physical key (`namespace::key`), `''` for a key without one. */
export function namespaceOf(physicalKey: string): string {
  const end = physicalKey.indexOf('::');
  return end === -1 ? '' : physicalKey.slice(0, end);
}

/**
 * Remembers the keys whose write or delete did not reach the primary, so that they are reconciled
 * when it is back instead of being replayed blindly (a late replay can overwrite a newer value
 * another instance wrote), and so that reads do not take the primary's older copy meanwhile.
 *
 * Bounded: past `maxKeys`, a new key is not recorded; its namespace is marked instead, and the
 * reconciliation then invalidates that whole namespace in the primary, since it no longer knows
 * which of its keys are stale. Only the newest operation per key is kept: that is all
 * reconciliation needs.
 */
export class OutageJournal {
  readonly #maxKeys: number;
  readonly #entries = new Map<string, JournalEntry>();
  /** Namespaces to invalidate whole: a `clear()` that missed the primary, or an overflow. */
  readonly #namespaces = new Set<string>();
  #overflows = 0;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /** Records an operation on a physical key (the key as the primary stores it). */
  record(key: string, op: JournalEntry['op'], at: number): void {
    if (this.#entries.has(key)) {
      // Re-inserting moves the key to the end, so iteration stays oldest-first.
      this.#entries.delete(key);
    } else if (this.#entries.size >= this.#maxKeys) {
      this.#overflows++;
      this.#namespaces.add(namespaceOf(key));
      return;
    }
    this.#entries.set(key, { op, at });
  }

  /** Records that a whole namespace (`''` for keys without one) must be invalidated. */
  recordNamespace(namespace: string): void {
    this.#namespaces.add(namespace);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Forgets a key: the primary took a newer write or delete of it. */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets a key once reconciled, unless it was written again after `at` (then it waits for the next round). */
  settle(key: string, at: number): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.at <= at) this.#entries.delete(key);
  }

  /** A copy of the entries, oldest first. */
  snapshot(): Array<[string, JournalEntry]> {
    return [...this.#entries];
  }

  /** Namespaces to invalidate whole. */
  namespaces(): string[] {
    return [...this.#namespaces];
  }

  settleNamespace(namespace: string): void {
    this.#namespaces.delete(namespace);
  }

  /** Keys plus whole namespaces waiting: zero when the primary has missed nothing. */
  get pending(): number {
    return this.#entries.size + this.#namespaces.size;
  }

  get size(): number {
    return this.#entries.size;
  }

  get overflows(): number {
    return this.#overflows;
  }
}
