/**
 * Keeps a read in flight from undoing a newer local write. A read is sent, then this instance sets
 * or deletes the key, then the read's older answer arrives: filling memory with it would replace
 * the newer copy (or re-create the deleted one), and `memory-first` would serve it for up to
 * `memoryTtlMs`, the fallback for as long as Redis is down.
 *
 * Every read takes a ticket when it is sent; every local write or delete of a key is stamped while
 * reads are in flight. An answer may fill memory only if its key was not stamped after its ticket.
 * Stamps are forgotten whenever no read is in flight, and bounded meanwhile: past `maxKeys`, the
 * oldest stamp is dropped and reads older than it can no longer be told apart, so they drop the
 * copy instead of filling it (a lost fallback copy, never a stale one).
 */
export class ReadGuard {
  readonly #maxKeys: number;
  #ticket = 0;
  #inFlight = 0;
  /** Key to the ticket of its last local write, oldest first. */
  readonly #stamps = new Map<string, number>();
  /** Reads with a ticket below this cannot be verified against dropped stamps. */
  #floor = 0;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /** A read is being sent: its ticket. Pair with {@link end}. */
  begin(): number {
    this.#inFlight++;
    return ++this.#ticket;
  }

  /** The read has settled (answered, failed or timed out). */
  end(): void {
    if (--this.#inFlight === 0 && this.#stamps.size !== 0) this.#stamps.clear();
  }

  /** This instance is writing or deleting `key` now. */
  stamp(key: string): void {
    if (this.#inFlight === 0) return;
    this.#stamps.delete(key);
    this.#stamps.set(key, ++this.#ticket);
    if (this.#stamps.size > this.#maxKeys) {
      const [oldest, ticket] = this.#stamps.entries().next().value as [string, number];
      this.#stamps.delete(oldest);
      this.#floor = ticket;
    }
  }

  /**
   * What an answer to a read with `ticket` may do to the memory copy of `key`: `fill` it (or drop
   * it on a miss), `keep` it (a newer local write owns it), or `drop` it (cannot tell).
   */
  verdict(key: string, ticket: number): 'fill' | 'keep' | 'drop' {
    if (this.#stamps.size === 0) return ticket < this.#floor ? 'drop' : 'fill';
    const stamped = this.#stamps.get(key);
    if (stamped !== undefined && stamped > ticket) return 'keep';
    return ticket < this.#floor && stamped === undefined ? 'drop' : 'fill';
  }
}
