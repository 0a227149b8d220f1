/**
 * The keys this instance wrote to the primary most recently, bounded. When the primary restarts
 * from a snapshot (Redis's `run_id` changes), these are the keys whose newer values it may have
 * lost, so they are handed to the journal. Once more keys were written than it holds, it can no
 * longer name them all and reports their namespaces' owned prefixes instead (a store without a
 * namespace owns none: what it can no longer name is counted as `unnamed`).
 */
export class RecentWrites {
  readonly #maxKeys: number;
  /** Key to the owned prefix of its namespace, oldest write first. */
  readonly #keys = new Map<string, string | undefined>();
  readonly #prefixes = new Set<string>();
  #unnamed = 0;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  add(key: string, ownedPrefix: string | undefined): void {
    // Delete-then-set keeps the newest write last, so the oldest is dropped first.
    this.#keys.delete(key);
    this.#keys.set(key, ownedPrefix);
    if (this.#keys.size > this.#maxKeys) {
      const [oldest, prefix] = this.#keys.entries().next().value as [string, string | undefined];
      this.#keys.delete(oldest);
      if (prefix === undefined) this.#unnamed++;
      else this.#prefixes.add(prefix);
    }
  }

  /** Empties the record: the keys, the prefixes to invalidate whole, and how many keys were lost unnamed. */
  drain(): { keys: string[]; prefixes: string[]; unnamed: number } {
    const result = { keys: [...this.#keys.keys()], prefixes: [...this.#prefixes], unnamed: this.#unnamed };
    this.#keys.clear();
    this.#prefixes.clear();
    this.#unnamed = 0;
    return result;
  }
}
