import { namespaceOf } from './journal.js';

/**
 * The keys this instance wrote to the primary most recently, bounded. When the primary restarts
 * from a snapshot (Redis's `run_id` changes), these are the keys whose newer values it may have
 * lost, so they are handed to the journal. Once more keys were written than it holds, it can no
 * longer name them all and reports their namespaces instead.
 */
export class RecentWrites {
  readonly #maxKeys: number;
  readonly #keys = new Set<string>();
  readonly #namespaces = new Set<string>();
  #wrapped = false;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  add(key: string): void {
    // Delete-then-add keeps the newest write last, so the oldest is dropped first.
    if (this.#keys.delete(key)) {
      this.#keys.add(key);
      return;
    }
    this.#keys.add(key);
    if (this.#keys.size > this.#maxKeys) {
      const oldest = this.#keys.values().next().value as string;
      this.#keys.delete(oldest);
      this.#namespaces.add(namespaceOf(oldest));
      this.#wrapped = true;
    }
  }

  /** Empties the record, returning the keys and, if some were dropped, the namespaces to invalidate whole. */
  drain(): { keys: string[]; namespaces: string[] } {
    const result = { keys: [...this.#keys], namespaces: this.#wrapped ? [...this.#namespaces] : [] };
    this.#keys.clear();
    this.#namespaces.clear();
    this.#wrapped = false;
    return result;
  }
}
