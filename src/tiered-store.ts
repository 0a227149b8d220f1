import { EventEmitter } from 'node:events';
import KeyvRedis from '@keyv/redis';
import type { KeyvStoreAdapter } from 'keyv';
import { KeyvStorePrimary } from '../adapters/keyv-primary.js';
import { MemoryTier, NAMESPACE_SEPARATOR } from '../adapters/memory-tier.js';
import { createFailFastClient, RedisPrimary } from '../adapters/redis-primary.js';
import type { Clock } from './clock.js';
import { withDeadline } from './deadline.js';
import {
  InvalidOptionError,
  type PrimaryFailure,
  PrimaryTimeoutError,
  PrimaryUnavailableError,
  quote,
} from './errors.js';
import type { Operation, TieredStoreEvents } from './events.js';
import { OutageJournal } from './journal.js';
import { type ReadPolicy, redactUrl, resolveOptions, type TieredStoreOptions } from './options.js';
import type { Primary, PrimaryRead } from './primary.js';
import { Stats, type TieredStoreStats } from './stats.js';
import { TtlRouter } from './ttl-categories.js';

/** An entry of `setMany`, as Keyv passes it. */
export interface TieredStoreEntry {
  key: string;
  value: unknown;
  ttl?: number | undefined;
}

function isRedisUrl(value: string): boolean {
  return /^(redis|rediss|valkey|valkeys):\/\//i.test(value);
}

function looksLikeKeyvRedis(value: object): value is KeyvRedis<unknown> {
  return (
    value instanceof KeyvRedis ||
    ((value as { opts?: { dialect?: unknown } }).opts?.dialect === 'redis' &&
      typeof (value as { createKeyPrefix?: unknown }).createKeyPrefix === 'function' &&
      typeof (value as { client?: unknown }).client === 'object')
  );
}

function isKeyvStore(value: object): value is KeyvStoreAdapter {
  const store = value as Record<string, unknown>;
  return ['get', 'set', 'delete', 'clear'].every((method) => typeof store[method] === 'function');
}

/**
 * A Keyv storage adapter over a primary (Redis, shared, the source of truth) and a bounded
 * in-process fallback. It keeps answering when the primary dies or hangs: every primary call has
 * a deadline, no method rejects because the primary failed, and the memory copy, kept in step with
 * the primary's TTL, serves reads until the primary is back.
 *
 * @example
 * const keyv = new Keyv({ store: new TieredStore({ primary: 'redis://127.0.0.1:6379' }) });
 */
export class TieredStore<C extends string = string> extends EventEmitter<TieredStoreEvents> {
  /**
   * Keyv reads `dialect` to wire its iterator; the test suite writes to this object. Not the store's
   * configuration: that is fixed at construction.
   */
  readonly opts: Record<string, unknown>;
  readonly #primary: Primary;
  readonly #memory: MemoryTier;
  readonly #router: TtlRouter | undefined;
  readonly #journal: OutageJournal;
  readonly #stats = new Stats();
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #memoryFirst: boolean;
  readonly #memoryTtlMs: number;
  readonly #fallbackWritesSucceed: boolean;
  readonly #readPolicy: ReadPolicy;
  /** Bound once: `step` is handed to multi-round-trip primary operations. */
  readonly #step = <T>(operation: string, promise: Promise<T>): Promise<T> =>
    withDeadline(promise, this.#timeoutMs, this.#clock, () => new PrimaryTimeoutError(operation, this.#timeoutMs));

  /** @throws {InvalidOptionError} naming the option and quoting the bad value. */
  constructor(options: TieredStoreOptions<C>) {
    super();
    const resolved = resolveOptions(options as TieredStoreOptions<string>);
    this.#clock = resolved.clock;
    this.#timeoutMs = resolved.operationTimeoutMs;
    this.#readPolicy = resolved.readPolicy;
    this.#memoryFirst = resolved.readPolicy === 'memory-first';
    this.#memoryTtlMs = resolved.memoryTtlMs;
    this.#fallbackWritesSucceed = resolved.fallbackWritesSucceed;
    this.#journal = new OutageJournal(resolved.journalMaxKeys);
    this.#router = options.ttl === undefined ? undefined : new TtlRouter(options.ttl, 'ttl');

    const fallback = options.fallback;
    if (fallback instanceof MemoryTier) this.#memory = fallback;
    else this.#memory = new MemoryTier({ clock: this.#clock, ...(fallback ?? {}) });

    const primary = options.primary;
    let ownsConnection = false;
    if (typeof primary === 'string') {
      if (!isRedisUrl(primary)) {
        throw new InvalidOptionError(
          'primary',
          redactUrl(primary),
          'a redis:// or rediss:// URL, a KeyvRedis, or a Keyv store',
        );
      }
      const client = createFailFastClient(primary, resolved);
      this.#primary = new RedisPrimary(new KeyvRedis(client, { throwOnErrors: true }));
      ownsConnection = true;
    } else if (primary !== null && typeof primary === 'object' && looksLikeKeyvRedis(primary)) {
      this.#primary = new RedisPrimary(primary);
    } else if (primary !== null && typeof primary === 'object' && isKeyvStore(primary)) {
      this.#primary = new KeyvStorePrimary(primary);
    } else {
      throw new InvalidOptionError(
        'primary',
        typeof primary === 'object' && primary !== null
          ? `[object ${(primary as object).constructor?.name ?? 'Object'}]`
          : primary,
        'a redis:// or rediss:// URL, a KeyvRedis, or a Keyv store with get/set/delete/clear',
      );
    }
    if (options.namespace !== undefined) this.#primary.namespace = options.namespace;
    this.#primary.onConnectionChange = (state, error) => {
      this.emit('primary:connection', error === undefined ? { state } : { state, error });
    };
    this.opts = {
      dialect: this.#primary.dialect ?? 'tiered',
      url: '',
      readPolicy: this.#readPolicy,
      operationTimeoutMs: this.#timeoutMs,
      ownsConnection,
    };
    // Never blocks: until the primary is ready, calls fail fast and memory answers.
    this.#primary.connect?.();
  }

  /** The namespace Keyv set (`keyv` by default); keys are stored as `namespace::key`. */
  get namespace(): string | undefined {
    return this.#primary.namespace;
  }

  set namespace(value: string | undefined) {
    this.#primary.namespace = value;
  }

  /** The in-process tier, e.g. to share it with another store. */
  get fallback(): MemoryTier {
    return this.#memory;
  }

  /** Counters since construction. */
  stats(): TieredStoreStats {
    const s = this.#stats;
    return {
      hits: { primary: s.primaryHits, memory: s.memoryHits },
      misses: s.misses,
      primaryFailures: s.primaryFailures,
      timeouts: s.timeouts,
      fallbackServes: s.fallbackServes,
      degradedWrites: s.degradedWrites,
      evictions: this.#memory.evictions,
      oversize: this.#memory.oversize,
      journal: { size: this.#journal.size, overflows: this.#journal.overflows },
    };
  }

  /**
   * Keys whose last write or delete did not reach the primary, oldest first, for reconciliation.
   * @internal until the reconciliation API lands.
   */
  get journal(): OutageJournal {
    return this.#journal;
  }

  // ---- reads ---------------------------------------------------------------------------------

  async get(key: string): Promise<unknown> {
    const memoryKey = this.#primary.physicalKey(key);
    if (this.#memoryFirst) {
      const entry = this.#memory.get(memoryKey);
      if (entry !== undefined && this.#clock.now() - entry.refreshedAt < this.#memoryTtlMs) {
        this.#stats.memoryHits++;
        return entry.value;
      }
    }
    const started = this.#clock.now();
    let read: PrimaryRead | undefined;
    try {
      read = await this.#step('get', this.#primary.get(key));
    } catch (error) {
      this.#failed('get', error, [memoryKey]);
      return this.#serveFromMemory('get', memoryKey);
    }
    return this.#accept(memoryKey, read, started);
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    // Filled, not sparse: Keyv walks the result with for...in, which skips holes.
    const results = new Array<unknown>(keys.length).fill(undefined);
    const memoryKeys = keys.map((key) => this.#primary.physicalKey(key));
    let askKeys = keys;
    let askIndexes: number[] | undefined;
    if (this.#memoryFirst) {
      askKeys = [];
      askIndexes = [];
      const now = this.#clock.now();
      for (let i = 0; i < keys.length; i++) {
        const entry = this.#memory.get(memoryKeys[i] as string);
        if (entry !== undefined && now - entry.refreshedAt < this.#memoryTtlMs) {
          this.#stats.memoryHits++;
          results[i] = entry.value;
        } else {
          askKeys.push(keys[i] as string);
          askIndexes.push(i);
        }
      }
      if (askKeys.length === 0) return results;
    }
    const indexOf = (j: number): number => (askIndexes === undefined ? j : (askIndexes[j] as number));
    const started = this.#clock.now();
    let reads: Array<PrimaryRead | undefined>;
    try {
      reads = await this.#step('getMany', this.#primary.getMany(askKeys));
    } catch (error) {
      const askMemoryKeys = askKeys.map((_key, j) => memoryKeys[indexOf(j)] as string);
      this.#failed('getMany', error, askMemoryKeys);
      const served: string[] = [];
      for (let j = 0; j < askKeys.length; j++) {
        const entry = this.#memory.get(askMemoryKeys[j] as string);
        if (entry === undefined) {
          this.#stats.misses++;
        } else {
          this.#stats.memoryHits++;
          this.#stats.fallbackServes++;
          served.push(askMemoryKeys[j] as string);
          results[indexOf(j)] = entry.value;
        }
      }
      if (served.length > 0) this.emit('fallback:serve', { operation: 'getMany', keys: served });
      return results;
    }
    for (let j = 0; j < askKeys.length; j++) {
      const i = indexOf(j);
      results[i] = this.#accept(memoryKeys[i] as string, reads[j], started);
    }
    return results;
  }

  async has(key: string): Promise<boolean> {
    const memoryKey = this.#primary.physicalKey(key);
    if (this.#memoryFirst) {
      const entry = this.#memory.get(memoryKey);
      if (entry !== undefined && this.#clock.now() - entry.refreshedAt < this.#memoryTtlMs) return true;
    }
    try {
      return await this.#step('has', this.#primary.has(key));
    } catch (error) {
      this.#failed('has', error, [memoryKey]);
      return this.#serveFromMemory('has', memoryKey) !== undefined;
    }
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    try {
      return await this.#step('hasMany', this.#primary.hasMany(keys));
    } catch (error) {
      const memoryKeys = keys.map((key) => this.#primary.physicalKey(key));
      this.#failed('hasMany', error, memoryKeys);
      const found = memoryKeys.map((memoryKey) => this.#memory.get(memoryKey) !== undefined);
      const served = memoryKeys.filter((_k, i) => found[i]);
      this.#stats.fallbackServes += served.length;
      if (served.length > 0) this.emit('fallback:serve', { operation: 'hasMany', keys: served });
      return found;
    }
  }

  /**
   * Yields `[key, value]` for the namespace from the primary; if the primary fails before the first
   * entry, from memory instead. A failure after that ends the iteration early (counted), because
   * switching tiers midway would repeat or skip keys.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown], void> {
    const source = this.#primary.iterator(namespace);
    let yielded = false;
    try {
      while (true) {
        let step: IteratorResult<[string, unknown], void>;
        try {
          step = await this.#step('iterator', source.next());
        } catch (error) {
          this.#failed('iterator', error, []);
          if (!yielded) yield* this.#memoryEntries(namespace);
          return;
        }
        if (step.done) return;
        yielded = true;
        yield step.value;
      }
    } finally {
      // Stops the primary's SCAN when the consumer breaks out; a hung server must not hold us.
      source.return(undefined).catch(() => {});
    }
  }

  *#memoryEntries(namespace: string | undefined): Generator<[string, unknown]> {
    const prefix = namespace ? `${namespace}${NAMESPACE_SEPARATOR}` : undefined;
    for (const [memoryKey, entry] of this.#memory.entries(prefix)) {
      this.#stats.fallbackServes++;
      yield [prefix === undefined ? memoryKey : memoryKey.slice(prefix.length), entry.value];
    }
  }

  // ---- writes --------------------------------------------------------------------------------

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const ttlMs = this.#ttlFor(key, ttl);
    const memoryKey = this.#primary.physicalKey(key);
    this.#memory.set(memoryKey, value, ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#clock.now() + ttlMs);
    try {
      await this.#step('set', this.#primary.set(key, value, ttlMs));
    } catch (error) {
      return this.#degraded('set', error, [memoryKey], 'set');
    }
    this.#journal.forget(memoryKey);
    return true;
  }

  async setMany(entries: TieredStoreEntry[]): Promise<boolean[]> {
    const now = this.#clock.now();
    const memoryKeys: string[] = [];
    const resolved = entries.map(({ key, value, ttl }) => {
      const ttlMs = this.#ttlFor(key, ttl);
      const memoryKey = this.#primary.physicalKey(key);
      memoryKeys.push(memoryKey);
      this.#memory.set(memoryKey, value, ttlMs === undefined ? Number.POSITIVE_INFINITY : now + ttlMs);
      return { key, value, ttlMs };
    });
    try {
      await this.#step('setMany', this.#primary.setMany(resolved));
    } catch (error) {
      const ok = this.#degraded('setMany', error, memoryKeys, 'set');
      return entries.map(() => ok);
    }
    for (const memoryKey of memoryKeys) this.#journal.forget(memoryKey);
    return entries.map(() => true);
  }

  async delete(key: string): Promise<boolean> {
    const memoryKey = this.#primary.physicalKey(key);
    const inMemory = this.#memory.delete(memoryKey);
    let deleted: boolean;
    try {
      deleted = await this.#step('delete', this.#primary.delete(key));
    } catch (error) {
      this.#degraded('delete', error, [memoryKey], 'delete');
      return inMemory;
    }
    this.#journal.forget(memoryKey);
    return deleted;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const memoryKeys = keys.map((key) => this.#primary.physicalKey(key));
    let inMemory = false;
    for (const memoryKey of memoryKeys) inMemory = this.#memory.delete(memoryKey) || inMemory;
    let deleted: boolean;
    try {
      deleted = await this.#step('deleteMany', this.#primary.deleteMany(keys));
    } catch (error) {
      this.#degraded('deleteMany', error, memoryKeys, 'delete');
      return inMemory;
    }
    for (const memoryKey of memoryKeys) this.#journal.forget(memoryKey);
    return deleted;
  }

  /** Deletes every key of this store's namespace, in both tiers. */
  async clear(): Promise<void> {
    const namespace = this.#primary.namespace;
    this.#memory.clear(namespace ? `${namespace}${NAMESPACE_SEPARATOR}` : undefined);
    try {
      await this.#primary.clear(this.#step);
    } catch (error) {
      this.#failed('clear', error, []);
      this.#journal.recordClear(namespace ?? '');
    }
  }

  /** Closes the primary's connection (bounded by the deadline). Memory is kept. */
  async disconnect(): Promise<void> {
    try {
      await this.#step('disconnect', this.#primary.disconnect());
    } catch (error) {
      this.#failed('disconnect', error, []);
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  /** A primary answer: a hit refreshes memory with the primary's remaining TTL, a miss drops it. */
  #accept(memoryKey: string, read: PrimaryRead | undefined, started: number): unknown {
    if (read === undefined) {
      // The primary is the truth: an older memory copy must not outlive its deletion.
      this.#memory.delete(memoryKey);
      this.#stats.misses++;
      return undefined;
    }
    // `started`, not now: the memory copy must die no later than the primary's.
    this.#memory.set(memoryKey, read.value, read.ttlMs === undefined ? Number.POSITIVE_INFINITY : started + read.ttlMs);
    this.#stats.primaryHits++;
    return read.value;
  }

  #serveFromMemory(operation: Operation, memoryKey: string): unknown {
    const entry = this.#memory.get(memoryKey);
    if (entry === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.memoryHits++;
    this.#stats.fallbackServes++;
    this.emit('fallback:serve', { operation, keys: [memoryKey] });
    return entry.value;
  }

  /** A write or delete that reached memory only: counted, journaled, reported per `fallbackWritesSucceed`. */
  #degraded(operation: Operation, error: unknown, memoryKeys: string[], op: 'set' | 'delete'): boolean {
    this.#failed(operation, error, memoryKeys);
    this.#stats.degradedWrites += memoryKeys.length;
    const at = this.#clock.now();
    for (const memoryKey of memoryKeys) this.#journal.record(memoryKey, op, at);
    return this.#fallbackWritesSucceed;
  }

  #failed(operation: Operation, error: unknown, keys: readonly string[]): void {
    const failure = (
      error instanceof PrimaryTimeoutError || (error as { code?: string } | null)?.code?.startsWith?.('E_PRIMARY_')
        ? error
        : new PrimaryUnavailableError(operation, error)
    ) as PrimaryFailure;
    this.#stats.primaryFailures++;
    if (failure.code === 'E_PRIMARY_TIMEOUT') this.#stats.timeouts++;
    this.emit('primary:failure', { operation, error: failure, keys });
  }

  /** Explicit TTL wins (Keyv passes 0 or undefined for none); otherwise the key's category, if any. */
  #ttlFor(key: string, ttl: number | undefined): number | undefined {
    if (ttl !== undefined && ttl !== 0) {
      if (typeof ttl !== 'number' || !(ttl > 0) || !Number.isFinite(ttl)) {
        throw new InvalidOptionError('ttl', ttl, `a positive number of milliseconds for key ${quote(key)}`);
      }
      return Math.ceil(ttl);
    }
    if (this.#router === undefined) return undefined;
    const namespace = this.#primary.namespace;
    // Rules are written against the application's keys, not Keyv's `namespace:` prefix.
    const appKey = namespace && key.startsWith(`${namespace}:`) ? key.slice(namespace.length + 1) : key;
    return this.#router.ttlFor(appKey);
  }
}
