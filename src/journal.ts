/** What the primary missed for one key during an outage. */
export interface JournalEntry {
  /** The last operation on the key that did not reach the primary. */
  readonly op: 'set' | 'delete';
  /** Clock time of that operation. */
  readonly at: number;
}

/**
 * Remembers the keys whose write or delete did not reach the primary, so that they are reconciled
 * when it is back instead of being replayed blindly (a late replay can overwrite a newer value
 * another instance wrote), and so that reads do not take the primary's older copy meanwhile.
 *
 * Bounded: past `maxKeys`, a new key is not recorded; its namespace (the prefix every key of it
 * provably starts with, from the store's `KeyLayout`) is marked instead, and the reconciliation then
 * invalidates that whole namespace in the primary, since it no longer knows which of its keys are
 * stale. A store without a namespace owns no prefix: `record` then says the key was dropped, and the
 * store drops its memory copy, so that memory never holds what the primary cannot be made to match.
 * Only the newest operation per key is kept: that is all reconciliation needs.
 */
export class OutageJournal {
  readonly #maxKeys: number;
  readonly #entries = new Map<string, JournalEntry>();
  /** Owned prefixes of namespaces to invalidate whole: a `clear()` that missed the primary, or an overflow. */
  readonly #prefixes = new Set<string>();
  #overflows = 0;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /**
   * Records an operation on a physical key. Returns false when the journal is full and the key's
   * namespace has no owned prefix: then nothing remembers the key.
   * @param ownedPrefix the prefix of the key's namespace, invalidated whole if the journal is full.
   */
  record(key: string, op: JournalEntry['op'], at: number, ownedPrefix: string | undefined): boolean {
    if (this.#entries.has(key)) {
      // Re-inserting moves the key to the end, so iteration stays oldest-first.
      this.#entries.delete(key);
    } else if (this.#entries.size >= this.#maxKeys) {
      this.#overflows++;
      if (ownedPrefix === undefined) return false;
      this.#prefixes.add(ownedPrefix);
      return true;
    }
    this.#entries.set(key, { op, at });
    return true;
  }

  /** Records that every key starting with `ownedPrefix` (a namespace's) must be invalidated. */
  recordPrefix(ownedPrefix: string): void {
    this.#prefixes.add(ownedPrefix);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /**
   * True when the primary may hold an older copy of `key`: the key is journaled, or its whole
   * namespace is (a `clear()` that missed, an overflow). Reads of it are answered by memory until
   * reconciled, so a cleared or overwritten value never comes back from the primary.
   */
  covers(key: string): boolean {
    if (this.#entries.has(key)) return true;
    for (const prefix of this.#prefixes) if (key.startsWith(prefix)) return true;
    return false;
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

  /** Owned prefixes of the namespaces to invalidate whole. */
  prefixes(): string[] {
    return [...this.#prefixes];
  }

  settlePrefix(ownedPrefix: string): void {
    this.#prefixes.delete(ownedPrefix);
  }

  /** Keys plus whole namespaces waiting: zero when the primary has missed nothing. */
  get pending(): number {
    return this.#entries.size + this.#prefixes.size;
  }

  get size(): number {
    return this.#entries.size;
  }

  get overflows(): number {
    return this.#overflows;
  }
}
