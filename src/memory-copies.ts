import type { Clock } from './clock.js';
import type { Codec } from './codec.js';
import { InvalidArgumentError } from './errors.js';
import type { MemoryEntry, MemoryTier } from './memory-tier.js';
import type { NearCache } from './near-cache.js';
import type { PrimaryRead } from './primary.js';
import type { ReadGuard } from './read-guard.js';
import type { Stats } from './stats.js';
import type { KeyTtl } from './ttl-categories.js';

/** A value ready to be written: its form for the primary, its memory copy and that copy's size. */
export interface PreparedValue {
  readonly raw: unknown;
  readonly copy: unknown;
  readonly sizeHint: number | undefined;
  /** With `serialization: 'store'`, the text `copy` was decoded from (`raw`), kept beside it. */
  readonly source: string | undefined;
}

/**
 * The memory-copy policy: what a write leaves in memory, what a primary answer leaves there (its
 * TTL, the stale-if-error grace, the codec, the size hint), when a copy may answer, and that no read
 * in flight undoes a newer local write (see {@link ReadGuard}).
 */
export class MemoryCopies {
  readonly memory: MemoryTier;
  readonly guard: ReadGuard;
  readonly #clock: Clock;
  readonly #codec: Codec | undefined;
  readonly #stats: Stats;
  readonly #graceEnabled: boolean;
  /** With `readPolicy: 'near-cache'` (and a primary that reports invalidations). */
  near: NearCache | undefined;

  constructor(
    memory: MemoryTier,
    guard: ReadGuard,
    clock: Clock,
    codec: Codec | undefined,
    stats: Stats,
    graceEnabled: boolean,
  ) {
    this.memory = memory;
    this.guard = guard;
    this.#clock = clock;
    this.#codec = codec;
    this.#stats = stats;
    this.#graceEnabled = graceEnabled;
  }

  /**
   * Checks and encodes a value being written, touching nothing: with `serialization: 'keyv'` it
   * must be the string Keyv serialized; with `'store'` anything Keyv's format can write.
   */
  prepare(value: unknown, argument = 'value'): PreparedValue {
    const codec = this.#codec;
    if (codec === undefined) {
      if (typeof value !== 'string') {
        throw new InvalidArgumentError(
          argument,
          value,
          "a string (Keyv's serialized form); for Keyv with its serializer off, use the store's serialization: 'store'",
        );
      }
      return { raw: value, copy: value, sizeHint: undefined, source: undefined };
    }
    if (typeof value === 'string') return { raw: value, copy: value, sizeHint: undefined, source: undefined };
    let encoded: string;
    try {
      encoded = codec.encode(value);
    } catch (error) {
      throw new InvalidArgumentError(argument, value, `a value Keyv's format can encode (${(error as Error).message})`);
    }
    // The memory copy is what a read from the primary would return: parsed from the same bytes. A
    // copy that is not an object did not parse (Keyv's serializer writes `undefined` for a symbol
    // inside an object): Redis must not receive what no reader can parse.
    const copy = typeof encoded === 'string' ? codec.decode(encoded) : undefined;
    if (copy === null || typeof copy !== 'object') {
      throw new InvalidArgumentError(
        argument,
        value,
        "a value Keyv's format can encode (no symbols, functions or BigInt)",
      );
    }
    return { raw: encoded, copy, sizeHint: encoded.length, source: this.#kept(copy, encoded) };
  }

  /**
   * This instance writes `key` now: memory gets the copy at once. Returns it, for the near-cache to
   * verify once the primary has taken the write.
   */
  write(key: string, prepared: PreparedValue, keyTtl: KeyTtl | undefined, now: number): MemoryEntry | undefined {
    this.guard.stamp(key);
    const expiresAt = keyTtl === undefined ? Number.POSITIVE_INFINITY : now + keyTtl.ttlMs;
    const { copy, sizeHint, source } = prepared;
    return this.memory.set(key, copy, expiresAt, expiresAt + (keyTtl?.staleMs ?? 0), sizeHint, source, now);
  }

  /** This instance deletes `key` now; true when memory held a live copy. */
  delete(key: string): boolean {
    this.guard.stamp(key);
    return this.memory.delete(key);
  }

  /** A `memory-first` answer: a live copy confirmed within `freshMs`, or `undefined`. */
  fresh(key: string, freshMs: number): MemoryEntry | undefined {
    const now = this.#clock.now();
    const entry = this.memory.getAt(key, now);
    return entry !== undefined && now - entry.refreshedAt < freshMs ? entry : undefined;
  }

  /**
   * A primary answer to a read sent with `ticket` at `started`: a hit refreshes memory with the
   * primary's remaining TTL, a miss drops the copy (the primary is the truth), unless a newer
   * local write owns the key. Returns the value for the caller.
   * @param staleMs the key's stale-if-error grace; `categorised`, whether a category covers it.
   * @param token the near-cache's token when the read was sent: the copy is verified with it.
   */
  fromRead(
    key: string,
    read: PrimaryRead | undefined,
    ticket: number,
    started: number,
    staleMs: number,
    categorised: boolean,
    token?: object,
  ): unknown {
    const verdict = this.guard.verdict(key, ticket);
    if (read === undefined) {
      if (verdict !== 'keep') this.memory.delete(key);
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.primaryHits++;
    const codec = this.#codec;
    let value = read.value;
    // With `serialization: 'store'`: the text the copy comes from, kept beside it for reuse.
    let kept: string | undefined;
    if (codec !== undefined) {
      // Most reads of a cache return what the last one did: the copy decoded from the same text is
      // handed out again instead of parsing and freezing it anew (most of a read's CPU, and garbage
      // that replaced a copy the collector had promoted). The same text always decodes the same.
      const held = typeof value === 'string' ? this.memory.peek(key) : undefined;
      if (held !== undefined && held.source === value) {
        kept = held.source;
        value = held.value;
      } else {
        value = codec.decode(read.value);
        kept = this.#kept(value, read.value);
      }
    }
    if (verdict !== 'fill') {
      if (verdict === 'drop') this.memory.delete(key);
      return value;
    }
    const sizeHint = codec !== undefined && typeof read.value === 'string' ? read.value.length : undefined;
    const grace = this.#graceEnabled ? staleMs : 0;
    // `started`, not now: the memory copy must expire no later than the primary's.
    const fetchTtl = read.fetchTtl;
    if (fetchTtl === undefined || (read.untimedEnvelope === true && !categorised)) {
      // Known TTL, or Keyv's envelope without one on a key no category gives one: it never expires.
      const expiresAt = read.ttlMs === undefined ? Number.POSITIVE_INFINITY : started + read.ttlMs;
      const entry = this.memory.refresh(key, value, expiresAt, expiresAt + grace, sizeHint, kept, started);
      if (token !== undefined) this.near?.verify(key, entry, token);
      return value;
    }
    // Only the primary knows (a category TTL, or a value not in Keyv's format): ask it, and keep
    // the copy unservable until it answers.
    const entry = this.memory.set(key, value, undefined, undefined, sizeHint, kept, started);
    if (token !== undefined) this.near?.verify(key, entry, token);
    if (entry !== undefined) {
      fetchTtl().then(
        (ttlMs) => {
          const expiresAt = ttlMs === undefined ? Number.POSITIVE_INFINITY : started + ttlMs;
          this.memory.expire(key, entry, expiresAt, expiresAt + grace);
        },
        // Unknown TTL: the copy stays unservable and is replaced by the next read or write.
        () => {},
      );
    }
    return value;
  }

  /**
   * The text to keep beside a decoded copy, for {@link fromRead} to reuse it: none when the copy is
   * the text itself (it did not parse), or holds a Buffer (which callers could change: every read
   * that reaches the primary then gets its own).
   */
  #kept(value: unknown, source: unknown): string | undefined {
    if (typeof source !== 'string' || value === source) return undefined;
    return this.#codec?.shareable(source) === true ? source : undefined;
  }

  /** A copy to answer with while the primary cannot: fresh, or expired within its grace (counted). */
  fallback(key: string): MemoryEntry | undefined {
    let entry = this.memory.get(key);
    if (entry === undefined && this.#graceEnabled) {
      entry = this.memory.getStale(key);
      if (entry !== undefined) this.#stats.staleServes++;
    }
    if (entry !== undefined) {
      this.#stats.memoryHits++;
      this.#stats.fallbackServes++;
    }
    return entry;
  }
}
