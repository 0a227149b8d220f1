import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';

/** Bounds of the in-process fallback. */
export interface MemoryTierOptions {
  /**
   * Most entries kept. Costs memory whether used or not: lru-cache preallocates every slot, 36
   * bytes a slot with `maxSize` (24 on the JS heap, 12 in ArrayBuffers), 28 without (16 + 12):
   * 34 MiB for `max: 1_000_000` with `maxSize`.
   * @default 10000
   */
  readonly max?: number;
  /** Most bytes kept (as measured by `sizeOf`); unbounded when omitted. */
  readonly maxSize?: number;
  /**
   * Largest single entry kept in memory, in the same unit as `maxSize`; larger values go to the
   * primary only and are counted as `oversize`.
   * @default maxSize (when set), otherwise unbounded
   */
  readonly maxEntrySize?: number;
  /**
   * Size of an entry in bytes. The default counts a string by its length (its byte length for the
   * ASCII JSON Keyv writes), Buffers and typed arrays exactly, other values by the length of
   * `JSON.stringify`, plus the key and {@link ENTRY_OVERHEAD_BYTES} for the entry's own bookkeeping.
   */
  readonly sizeOf?: (value: unknown, key: string) => number;
  /** Time source; share it with the store. */
  readonly clock?: Clock;
}

/** One memory copy. `expiresAt` mirrors the primary's expiry; `refreshedAt` bounds `memory-first`. */
export interface MemoryEntry {
  readonly value: unknown;
  /** Clock time after which the copy is expired; `Infinity` when the primary keeps it forever. */
  readonly expiresAt: number;
  /**
   * Clock time until which an expired copy may still be served while the primary is unavailable
   * (stale-if-error); equal to `expiresAt` when the key's category allows none.
   */
  readonly staleUntil: number;
  /** Clock time the copy was last written or confirmed by the primary. */
  readonly refreshedAt: number;
  /** True until the primary has said how long the copy lives: it is kept but never served. */
  readonly ttlPending: boolean;
  /** The near-cache's epoch token when the copy is verified (see `src/near-cache.ts`), else `undefined`. */
  readonly verifiedBy: object | undefined;
  /**
   * With `serialization: 'store'`, the primary's text the value was decoded from: a read that
   * returns the same text again reuses the value instead of parsing it (see `MemoryCopies.fromRead`).
   */
  readonly source: string | undefined;
}

/** The tier's own view of an entry: expiry and refresh time move when the primary confirms it. */
interface StoredEntry extends MemoryEntry {
  expiresAt: number;
  staleUntil: number;
  refreshedAt: number;
  ttlPending: boolean;
  verifiedBy: object | undefined;
  source: string | undefined;
}

/**
 * Heap bytes an entry costs beyond its key and value: the entry object and its boxed numbers,
 * lru-cache's `Map` entry, the string headers. Measured on Node 20 with 100,000 entries of flat
 * strings (100 B and 1 KB values alike): 227 bytes; at 1,000,000 keys through `maxSize` 32 MiB, 393
 * heap bytes an entry against 382 counted. Counted so that `maxSize` bounds the heap, not just the
 * payloads. (A string with characters beyond Latin-1 takes two bytes a character and is
 * undercounted: the count is its length.)
 */
export const ENTRY_OVERHEAD_BYTES = 230;

/**
 * Bytes each slot of `max` costs before any entry is stored: lru-cache preallocates its key and
 * value lists (8 bytes a slot each), its links and free list (three 4-byte typed arrays) and, with
 * `maxSize`, the sizes (8). Not counted by `maxSize`: a fixed cost of `max`.
 */
export const MAX_SLOT_BYTES = 36;

/**
 * Makes `text` one flat string, in place. A string built by concatenation (Keyv's serializer builds
 * its envelope piece by piece; a physical key is the namespace's prefix plus the key) is a rope of
 * every piece until something reads it: 1,128 heap bytes for a 120-character envelope, 146 once
 * flat. A write that reaches Redis is flattened by the socket write; one that only memory keeps
 * would hold the rope for as long as it lives, uncounted. Reading a character flattens it (~50 ns
 * for 120 characters); the comparison keeps the read from being optimized away.
 */
function flatten(text: string): string {
  return text.length === 0 || text.charCodeAt(0) >= 0 ? text : text;
}

function defaultSizeOf(value: unknown, key: string): number {
  const overhead = key.length + ENTRY_OVERHEAD_BYTES;
  if (typeof value === 'string') return value.length + overhead;
  if (ArrayBuffer.isView(value)) return value.byteLength + overhead;
  if (value instanceof ArrayBuffer) return value.byteLength + overhead;
  return (JSON.stringify(value)?.length ?? 8) + overhead;
}

function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, value, 'a positive integer');
  }
  return value;
}

/** The option names of {@link MemoryTierOptions}, checked by the compiler against the type. */
const MEMORY_TIER_OPTIONS = Object.keys({
  max: true,
  maxSize: true,
  maxEntrySize: true,
  sizeOf: true,
  clock: true,
} as const satisfies Record<keyof MemoryTierOptions, true>) as ReadonlyArray<keyof MemoryTierOptions>;

/** Most entries a tier may hold: 2^24 preallocated slots already cost lru-cache about 3 s and 200 MB. */
export const MAX_ENTRIES = 2 ** 24;

/**
 * The bounded in-process fallback over `lru-cache`. Keys are physical keys (namespace included,
 * in the primary's layout, from the store's `KeyLayout`), so one tier can be shared by every store
 * of a process.
 *
 * Expiry is checked here against the shared clock rather than by lru-cache's TTL, so that one
 * clock drives deadlines and TTLs and an entry's expiry can be copied from the primary exactly.
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, StoredEntry>;
  readonly #clock: Clock;
  readonly #sizeOf: ((value: unknown, key: string) => number) | undefined;
  readonly #maxEntrySize: number;
  readonly #max: number;
  readonly #maxSize: number | undefined;
  /** lru-cache accepts a per-entry size only when it bounds bytes itself. */
  readonly #boundsBytes: boolean;
  #evictions = 0;
  #expirations = 0;
  #oversize = 0;

  constructor(options: MemoryTierOptions = {}, optionName = 'fallback') {
    const proto = options === null || typeof options !== 'object' ? undefined : Object.getPrototypeOf(options);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidOptionError(
        optionName,
        options,
        'a MemoryTier or a plain object { max, maxSize, maxEntrySize }',
      );
    }
    for (const name of Object.keys(options)) {
      if (!(MEMORY_TIER_OPTIONS as readonly string[]).includes(name)) {
        throw new InvalidOptionError(
          `${optionName}.${name}`,
          undefined,
          `one of ${MEMORY_TIER_OPTIONS.join(', ')}`,
          true,
        );
      }
    }
    const max = positiveInteger(options.max ?? 10_000, `${optionName}.max`);
    if (max > MAX_ENTRIES) {
      throw new InvalidOptionError(
        `${optionName}.max`,
        max,
        `at most ${MAX_ENTRIES} (lru-cache preallocates every slot: beyond that the allocation alone takes seconds and gigabytes)`,
      );
    }
    const maxSize =
      options.maxSize === undefined ? undefined : positiveInteger(options.maxSize, `${optionName}.maxSize`);
    const maxEntrySize =
      options.maxEntrySize === undefined
        ? (maxSize ?? Number.POSITIVE_INFINITY)
        : positiveInteger(options.maxEntrySize, `${optionName}.maxEntrySize`);
    if (maxSize !== undefined && maxEntrySize > maxSize) {
      throw new InvalidOptionError(`${optionName}.maxEntrySize`, maxEntrySize, `at most fallback.maxSize (${maxSize})`);
    }
    if (options.sizeOf !== undefined && typeof options.sizeOf !== 'function') {
      throw new InvalidOptionError(`${optionName}.sizeOf`, options.sizeOf, 'a function (value, key) => bytes');
    }
    this.#clock = options.clock ?? systemClock;
    this.#maxEntrySize = maxEntrySize;
    this.#max = max;
    this.#maxSize = maxSize;
    this.#boundsBytes = maxSize !== undefined;
    // Sizes are only computed when something bounds them: counting bytes costs a pass over objects.
    this.#sizeOf =
      maxSize !== undefined || Number.isFinite(maxEntrySize) ? (options.sizeOf ?? defaultSizeOf) : undefined;
    this.#lru = new LRUCache<string, StoredEntry>({
      max,
      ...(maxSize === undefined ? {} : { maxSize }),
      disposeAfter: (_value, _key, reason) => {
        if (reason === 'evict') this.#evictions++;
      },
    });
  }

  /** The copy of `key` if it has not expired; a copy past its stale-if-error grace is dropped. */
  get(key: string): MemoryEntry | undefined {
    return this.getAt(key, this.#clock.now());
  }

  /** {@link get} at clock time `now`, for a caller that read the clock already (one reading a hit). */
  getAt(key: string, now: number): MemoryEntry | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined || entry.ttlPending) return undefined;
    if (entry.expiresAt > now) return entry;
    this.#dropIfDead(key, entry, now);
    return undefined;
  }

  /** The copy of `key` as held, expired or not, its recency untouched. */
  peek(key: string): MemoryEntry | undefined {
    return this.#lru.peek(key);
  }

  /** The copy of `key` if it has expired but is within its stale-if-error grace. */
  getStale(key: string): MemoryEntry | undefined {
    const entry = this.#lru.peek(key);
    if (entry === undefined || entry.ttlPending) return undefined;
    const now = this.#clock.now();
    if (entry.expiresAt <= now && entry.staleUntil > now) return entry;
    this.#dropIfDead(key, entry, now);
    return undefined;
  }

  #dropIfDead(key: string, entry: MemoryEntry, now: number): void {
    if (entry.staleUntil > now) return;
    this.#lru.delete(key);
    this.#expirations++;
  }

  /**
   * Stores a copy that expires at `expiresAt` (`undefined`: not known yet, see {@link expire}).
   * Returns the stored entry, or `undefined` when the value is over `maxEntrySize`: then any older
   * copy is dropped too, so that memory can never serve a value the primary replaced.
   */
  set(
    key: string,
    value: unknown,
    expiresAt: number | undefined,
    staleUntil = expiresAt,
    /** The value's size when the caller already knows it (its serialized length), saving `sizeOf`. */
    sizeHint?: number,
    /** The text `value` was decoded from, kept beside it (see {@link MemoryEntry.source}) and counted. */
    source?: string,
    /** When the primary confirmed it (a read: when it was sent), if the caller read the clock already. */
    now = this.#clock.now(),
  ): MemoryEntry | undefined {
    flatten(key);
    if (typeof value === 'string') flatten(value);
    if (source !== undefined) flatten(source);
    const pending = expiresAt === undefined;
    const entry: StoredEntry = {
      value,
      expiresAt: pending ? now : expiresAt,
      staleUntil: pending ? now : (staleUntil as number),
      refreshedAt: now,
      ttlPending: pending,
      verifiedBy: undefined,
      source,
    };
    if (this.#sizeOf === undefined) {
      this.#lru.set(key, entry);
      return entry;
    }
    const valueSize = sizeHint === undefined ? this.#sizeOf(value, key) : sizeHint + key.length + ENTRY_OVERHEAD_BYTES;
    let size = Math.max(1, Math.ceil(valueSize + (source === undefined ? 0 : source.length)));
    if (size > this.#maxEntrySize && source !== undefined && valueSize <= this.#maxEntrySize) {
      // Too big with its text, not without: kept without it (no reuse), rather than not at all.
      entry.source = undefined;
      size = Math.max(1, Math.ceil(valueSize));
    }
    if (size > this.#maxEntrySize) {
      this.#lru.delete(key);
      this.#oversize++;
      return undefined;
    }
    this.#lru.set(key, entry, this.#boundsBytes ? { size } : undefined);
    return entry;
  }

  /**
   * Confirms a copy the primary returned again: when memory already holds the same value, only its
   * expiry and `refreshedAt` move (no new entry, and the value just read dies young instead of
   * replacing a retained one, which keeps garbage out of the old generation on the Redis path);
   * otherwise it is stored as by {@link set}.
   */
  refresh(
    key: string,
    value: unknown,
    expiresAt: number,
    staleUntil = expiresAt,
    sizeHint?: number,
    source?: string,
    now = this.#clock.now(),
  ): MemoryEntry | undefined {
    const stored = this.#lru.get(key);
    if (stored === undefined || stored.ttlPending || stored.value !== value) {
      return this.set(key, value, expiresAt, staleUntil, sizeHint, source, now);
    }
    stored.expiresAt = expiresAt;
    stored.staleUntil = staleUntil;
    stored.refreshedAt = now;
    // Confirmed by this read, verified again only if the read qualifies.
    stored.verifiedBy = undefined;
    return stored;
  }

  /** Marks a copy verified by the near-cache's `token`, unless a newer copy replaced it meanwhile. */
  verify(key: string, entry: MemoryEntry, token: object): void {
    const stored = this.#lru.peek(key);
    if (stored === entry) stored.verifiedBy = token;
  }

  /** Gives a copy stored with a pending TTL its expiry, unless a newer copy replaced it meanwhile. */
  expire(key: string, entry: MemoryEntry, expiresAt: number, staleUntil = expiresAt): void {
    const stored = this.#lru.peek(key);
    if (stored !== entry) return;
    stored.expiresAt = expiresAt;
    stored.staleUntil = staleUntil;
    stored.ttlPending = false;
  }

  delete(key: string): boolean {
    const entry = this.#lru.peek(key);
    if (entry === undefined) return false;
    this.#lru.delete(key);
    return !entry.ttlPending && entry.expiresAt > this.#clock.now();
  }

  /**
   * Drops every key starting with `prefix` (a namespace's, from the store's `KeyLayout`) that
   * `owns` accepts (by default all of them).
   */
  clear(prefix: string, owns: (key: string) => boolean = () => true): void {
    const doomed: string[] = [];
    for (const key of this.#lru.keys()) if (key.startsWith(prefix) && owns(key)) doomed.push(key);
    for (const key of doomed) this.#lru.delete(key);
  }

  /** Live entries whose key starts with `prefix` and that `owns` accepts, as `[physicalKey, entry]`. */
  *entries(prefix: string, owns: (key: string) => boolean = () => true): Generator<[string, MemoryEntry]> {
    // The keys first: a read while the caller consumes would move a key to the front of lru-cache's
    // list, and a lazy walk would then skip some keys and repeat others.
    const keys: string[] = [];
    for (const key of this.#lru.keys()) if (key.startsWith(prefix) && owns(key)) keys.push(key);
    for (const key of keys) {
      const entry = this.#lru.peek(key);
      if (entry === undefined || entry.ttlPending || entry.expiresAt <= this.#clock.now()) continue;
      yield [key, entry];
    }
  }

  /** Most entries held (`max`). */
  get max(): number {
    return this.#max;
  }

  /** Most bytes held (`maxSize`), if bounded. */
  get maxSize(): number | undefined {
    return this.#maxSize;
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.#lru.size;
  }

  /** Bytes held, as measured by `sizeOf` (0 when no byte bound is set). */
  get calculatedSize(): number {
    return this.#lru.calculatedSize;
  }

  /** Entries dropped to make room. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Entries dropped because they had expired. */
  get expirations(): number {
    return this.#expirations;
  }

  /** Values refused for being larger than `maxEntrySize`. */
  get oversize(): number {
    return this.#oversize;
  }
}
