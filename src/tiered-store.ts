import { EventEmitter } from 'node:events';
import KeyvRedis from '@keyv/redis';
import type { KeyvStoreAdapter } from 'keyv';
import { KeyvStorePrimary } from '../adapters/keyv-primary.js';
import { type MemoryEntry, MemoryTier, NAMESPACE_SEPARATOR } from '../adapters/memory-tier.js';
import { createFailFastClient, RedisPrimary } from '../adapters/redis-primary.js';
import { redactUrl } from '../adapters/redis-url.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { type Codec, keyvCodec } from './codec.js';
import { Deadlines } from './deadline.js';
import {
  InvalidOptionError,
  type PrimaryFailure,
  PrimaryTimeoutError,
  PrimaryUnavailableError,
  quote,
} from './errors.js';
import type { LatencyPath, ObservedOperation, Operation, StoreObserver, TieredStoreEvents } from './events.js';
import { OutageJournal } from './journal.js';
import { type ReadPolicy, resolveOptions, type TieredStoreOptions } from './options.js';
import type { Primary, PrimaryRead } from './primary.js';
import { RecentWrites } from './recent-writes.js';
import { type ReconcileMode, reconcile } from './reconciler.js';
import { Stats, type TieredStoreStats } from './stats.js';
import { type KeyTtl, TtlRouter } from './ttl-categories.js';
import {
  type WarmContext,
  type WarmLoader,
  type WarmOptions,
  type WarmReport,
  warmFromLoader,
  warmFromPrimary,
} from './warm.js';

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

/** Rounds of reconciliation a probe runs while writes keep arriving, before it closes anyway. */
const PROBE_RECONCILE_ROUNDS = 5;

/**
 * Probes that time out in a row on a connection the client still believes open before it is
 * dropped and made anew (with the default cooldowns, about 7 s into a hang). Not sooner: a hung
 * server that resumes answers on the old connection, in order, which is what orders reconciliation
 * after writes already on the wire; a new connection loses that order.
 */
const PROBE_TIMEOUTS_BEFORE_RECONNECT = 3;

/**
 * Delay before reconciling writes the primary refused while the breaker stays closed (OOM, an
 * ACL): failures within it are reconciled in one batch instead of one round trip each.
 */
const RECONCILE_COALESCE_MS = 20;

/**
 * A Keyv storage adapter over a primary (Redis, shared, the source of truth) and a bounded
 * in-process fallback. It keeps answering when the primary dies or hangs: every primary call has
 * a deadline, a circuit breaker stops calling a primary that is down, no method rejects because
 * the primary failed, and writes the primary missed are reconciled before it serves those keys
 * again.
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
  readonly #recent: RecentWrites;
  readonly #breaker: CircuitBreaker;
  readonly #stats = new Stats();
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #memoryFirst: boolean;
  readonly #memoryTtlMs: number;
  readonly #fallbackWritesSucceed: boolean;
  readonly #reconcileMode: ReconcileMode;
  readonly #retryMs: number;
  /** Set with `serialization: 'store'`: values are encoded for the primary, frozen objects in memory. */
  readonly #codec: Codec | undefined;
  /** The primary's identity (Redis `run_id`) as last seen; a change means it restarted. */
  #serverId: string | undefined;
  /** The single reconciliation in flight, if any. */
  #reconciling: Promise<boolean> | undefined;
  #reconcileTimer: unknown;
  #probeTimeouts = 0;
  #closed = false;
  /** Replaced, never mutated, so a call iterates a stable list. */
  #observers: readonly StoreObserver[] = [];
  readonly #deadlines: Deadlines;
  /** Bound once: the deadline, handed to multi-round-trip primary operations. */
  readonly #step = <T>(operation: string, promise: Promise<T>): Promise<T> =>
    this.#deadlines.bound(promise, () => new PrimaryTimeoutError(operation, this.#timeoutMs));

  /** @throws {InvalidOptionError} naming the option and quoting the bad value. */
  constructor(options: TieredStoreOptions<C>) {
    super();
    const resolved = resolveOptions(options as TieredStoreOptions<string>);
    this.#clock = resolved.clock;
    this.#timeoutMs = resolved.operationTimeoutMs;
    this.#deadlines = new Deadlines(this.#timeoutMs, this.#clock);
    this.#memoryFirst = resolved.readPolicy === 'memory-first';
    this.#memoryTtlMs = resolved.memoryTtlMs;
    this.#fallbackWritesSucceed = resolved.fallbackWritesSucceed;
    this.#reconcileMode = resolved.reconcile;
    this.#retryMs = resolved.breaker.cooldownMs;
    this.#codec = resolved.serialization === 'store' ? keyvCodec : undefined;
    this.#journal = new OutageJournal(resolved.journalMaxKeys);
    this.#recent = new RecentWrites(resolved.journalMaxKeys);
    this.#router = options.ttl === undefined ? undefined : new TtlRouter(options.ttl, 'ttl');

    const fallback = options.fallback;
    if (fallback instanceof MemoryTier) this.#memory = fallback;
    else this.#memory = new MemoryTier({ clock: this.#clock, ...(fallback ?? {}) });

    this.#primary = TieredStore.#makePrimary(options.primary, resolved);
    if (options.namespace !== undefined) this.#primary.namespace = options.namespace;
    this.#breaker = new CircuitBreaker(
      resolved.breaker,
      this.#clock,
      () => this.#probe(),
      (from, to, reason) => {
        if (to === 'open') this.#cancelReconcile();
        this.emit('circuit:state', { from, to, reason });
      },
    );
    this.#primary.onConnectionChange = (state, error) => {
      if (this.#closed) return;
      this.emit('primary:connection', error === undefined ? { state } : { state, error });
      if (state === 'down') this.#breaker.connectionLost();
      else if (!this.#breaker.closed) this.#breaker.connectionBack();
      // First connection: learn the server's identity (and reconcile, if anything is pending).
      else void this.#probe();
    };
    this.opts = {
      dialect: this.#primary.dialect ?? 'tiered',
      url: '',
      readPolicy: resolved.readPolicy satisfies ReadPolicy,
      operationTimeoutMs: this.#timeoutMs,
    };
    // Never blocks: until the primary is ready, calls fail fast and memory answers.
    this.#primary.connect?.();
  }

  static #makePrimary(primary: unknown, resolved: ReturnType<typeof resolveOptions>): Primary {
    if (typeof primary === 'string') {
      if (!isRedisUrl(primary)) {
        throw new InvalidOptionError(
          'primary',
          redactUrl(primary),
          'a redis:// or rediss:// URL, a KeyvRedis, or a Keyv store',
        );
      }
      return new RedisPrimary(new KeyvRedis(createFailFastClient(primary, resolved), { throwOnErrors: true }));
    }
    if (primary !== null && typeof primary === 'object') {
      if (looksLikeKeyvRedis(primary)) return new RedisPrimary(primary);
      if (isKeyvStore(primary)) return new KeyvStorePrimary(primary);
    }
    throw new InvalidOptionError(
      'primary',
      typeof primary === 'object' && primary !== null ? `[object ${primary.constructor?.name ?? 'Object'}]` : primary,
      'a redis:// or rediss:// URL, a KeyvRedis, or a Keyv store with get/set/delete/clear',
    );
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

  /** `closed` (calls reach the primary), `open` (memory answers everything) or `half-open` (probing). */
  get circuitState(): CircuitState {
    return this.#breaker.state;
  }

  /** Keys whose last write or delete the primary missed, awaiting reconciliation. */
  get journal(): OutageJournal {
    return this.#journal;
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
      shortCircuits: s.shortCircuits,
      staleServes: s.staleServes,
      journal: { size: this.#journal.size, overflows: this.#journal.overflows },
      reconciled: { keys: s.reconciledKeys, runs: s.reconciliations },
      restarts: s.restarts,
      circuit: this.#breaker.state,
    };
  }

  // ---- reads ---------------------------------------------------------------------------------

  async get(key: string): Promise<unknown> {
    const t0 = this.#observers.length === 0 ? 0 : this.#clock.now();
    const memoryKey = this.#primary.physicalKey(key);
    if (this.#memoryFirst) {
      const entry = this.#memory.get(memoryKey);
      if (entry !== undefined && this.#clock.now() - entry.refreshedAt < this.#memoryTtlMs) {
        this.#stats.memoryHits++;
        return this.#observed('get', 'memory', t0, entry.value);
      }
    }
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      return this.#observed('get', 'breaker-open', t0, this.#serveFromMemory('get', memoryKey));
    }
    // The primary holds an older copy until reconciled: memory has this instance's newest.
    if (this.#journal.size !== 0 && this.#journal.has(memoryKey)) {
      return this.#observed('get', 'fallback', t0, this.#serveFromMemory('get', memoryKey));
    }
    const started = this.#clock.now();
    let read: PrimaryRead | undefined;
    try {
      read = await this.#step('get', this.#primary.get(key));
    } catch (error) {
      this.#failed('get', error, [memoryKey]);
      return this.#observed('get', 'fallback', t0, this.#serveFromMemory('get', memoryKey));
    }
    this.#breaker.success();
    return this.#observed('get', 'primary', t0, this.#accept(key, memoryKey, read, started));
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    // Filled, not sparse: Keyv walks the result with for...in, which skips holes.
    const results = new Array<unknown>(keys.length).fill(undefined);
    const memoryKeys = keys.map((key) => this.#primary.physicalKey(key));
    const ask: number[] = [];
    const fromMemory: number[] = [];
    const now = this.#clock.now();
    const primaryOpen = this.#breaker.closed;
    if (!primaryOpen) this.#stats.shortCircuits++;
    for (let i = 0; i < keys.length; i++) {
      const memoryKey = memoryKeys[i] as string;
      if (this.#memoryFirst) {
        const entry = this.#memory.get(memoryKey);
        if (entry !== undefined && now - entry.refreshedAt < this.#memoryTtlMs) {
          this.#stats.memoryHits++;
          results[i] = entry.value;
          continue;
        }
      }
      if (!primaryOpen || (this.#journal.size !== 0 && this.#journal.has(memoryKey))) fromMemory.push(i);
      else ask.push(i);
    }
    if (ask.length > 0) {
      const started = this.#clock.now();
      try {
        const reads = await this.#step('getMany', this.#primary.getMany(ask.map((i) => keys[i] as string)));
        this.#breaker.success();
        for (let j = 0; j < ask.length; j++) {
          const i = ask[j] as number;
          results[i] = this.#accept(keys[i] as string, memoryKeys[i] as string, reads[j], started);
        }
      } catch (error) {
        this.#failed(
          'getMany',
          error,
          ask.map((i) => memoryKeys[i] as string),
        );
        fromMemory.push(...ask);
      }
    }
    const served: string[] = [];
    for (const i of fromMemory) {
      const entry = this.#fallbackEntry(memoryKeys[i] as string);
      if (entry === undefined) {
        this.#stats.misses++;
      } else {
        served.push(memoryKeys[i] as string);
        results[i] = entry.value;
      }
    }
    if (served.length > 0) this.emit('fallback:serve', { operation: 'getMany', keys: served });
    return results;
  }

  async has(key: string): Promise<boolean> {
    const memoryKey = this.#primary.physicalKey(key);
    if (this.#memoryFirst) {
      const entry = this.#memory.get(memoryKey);
      if (entry !== undefined && this.#clock.now() - entry.refreshedAt < this.#memoryTtlMs) return true;
    }
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      return this.#serveFromMemory('has', memoryKey) !== undefined;
    }
    if (this.#journal.size !== 0 && this.#journal.has(memoryKey)) {
      return this.#serveFromMemory('has', memoryKey) !== undefined;
    }
    try {
      const found = await this.#step('has', this.#primary.has(key));
      this.#breaker.success();
      return found;
    } catch (error) {
      this.#failed('has', error, [memoryKey]);
      return this.#serveFromMemory('has', memoryKey) !== undefined;
    }
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const memoryKeys = keys.map((key) => this.#primary.physicalKey(key));
    const pending = this.#journal.size !== 0 && memoryKeys.some((memoryKey) => this.#journal.has(memoryKey));
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
    } else if (!pending) {
      try {
        const found = await this.#step('hasMany', this.#primary.hasMany(keys));
        this.#breaker.success();
        return found;
      } catch (error) {
        this.#failed('hasMany', error, memoryKeys);
      }
    }
    const served: string[] = [];
    const found = memoryKeys.map((memoryKey) => {
      const hit = this.#fallbackEntry(memoryKey) !== undefined;
      if (hit) served.push(memoryKey);
      return hit;
    });
    if (served.length > 0) this.emit('fallback:serve', { operation: 'hasMany', keys: served });
    return found;
  }

  /**
   * Yields `[key, value]` for the namespace from the primary; if the primary is unavailable before
   * the first entry, from memory instead. A failure after that ends the iteration early (counted),
   * because switching tiers midway would repeat or skip keys.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown], void> {
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      yield* this.#memoryEntries(namespace);
      return;
    }
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
        yield this.#codec === undefined ? step.value : [step.value[0], this.#codec.decode(step.value[1])];
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
    const t0 = this.#observers.length === 0 ? 0 : this.#clock.now();
    const keyTtl = this.#ttlFor(key, ttl);
    const memoryKey = this.#primary.physicalKey(key);
    const raw = this.#remember(memoryKey, value, keyTtl, this.#clock.now());
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      return this.#observed('set', 'breaker-open', t0, this.#missed([memoryKey], 'set'));
    }
    try {
      await this.#step('set', this.#primary.set(key, raw, keyTtl?.ttlMs));
    } catch (error) {
      this.#failed('set', error, [memoryKey]);
      return this.#observed('set', 'fallback', t0, this.#missed([memoryKey], 'set'));
    }
    this.#breaker.success();
    this.#wrote(memoryKey);
    return this.#observed('set', 'primary', t0, true);
  }

  async setMany(entries: TieredStoreEntry[]): Promise<boolean[]> {
    const now = this.#clock.now();
    const memoryKeys: string[] = [];
    const resolved = entries.map(({ key, value, ttl }) => {
      const keyTtl = this.#ttlFor(key, ttl);
      const memoryKey = this.#primary.physicalKey(key);
      memoryKeys.push(memoryKey);
      return { key, value: this.#remember(memoryKey, value, keyTtl, now), ttlMs: keyTtl?.ttlMs };
    });
    let ok = true;
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      ok = this.#missed(memoryKeys, 'set');
    } else {
      try {
        await this.#step('setMany', this.#primary.setMany(resolved));
        this.#breaker.success();
        for (const memoryKey of memoryKeys) this.#wrote(memoryKey);
      } catch (error) {
        this.#failed('setMany', error, memoryKeys);
        ok = this.#missed(memoryKeys, 'set');
      }
    }
    return entries.map(() => ok);
  }

  async delete(key: string): Promise<boolean> {
    const t0 = this.#observers.length === 0 ? 0 : this.#clock.now();
    const memoryKey = this.#primary.physicalKey(key);
    const inMemory = this.#memory.delete(memoryKey);
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      this.#missed([memoryKey], 'delete');
      return this.#observed('delete', 'breaker-open', t0, inMemory);
    }
    let deleted: boolean;
    try {
      deleted = await this.#step('delete', this.#primary.delete(key));
    } catch (error) {
      this.#failed('delete', error, [memoryKey]);
      this.#missed([memoryKey], 'delete');
      return this.#observed('delete', 'fallback', t0, inMemory);
    }
    this.#breaker.success();
    this.#wrote(memoryKey);
    return this.#observed('delete', 'primary', t0, deleted);
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const memoryKeys = keys.map((key) => this.#primary.physicalKey(key));
    let inMemory = false;
    for (const memoryKey of memoryKeys) inMemory = this.#memory.delete(memoryKey) || inMemory;
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      this.#missed(memoryKeys, 'delete');
      return inMemory;
    }
    let deleted: boolean;
    try {
      deleted = await this.#step('deleteMany', this.#primary.deleteMany(keys));
    } catch (error) {
      this.#failed('deleteMany', error, memoryKeys);
      this.#missed(memoryKeys, 'delete');
      return inMemory;
    }
    this.#breaker.success();
    for (const memoryKey of memoryKeys) this.#wrote(memoryKey);
    return deleted;
  }

  /** Deletes every key of this store's namespace, in both tiers. */
  async clear(): Promise<void> {
    const namespace = this.#primary.namespace;
    this.#memory.clear(namespace ? `${namespace}${NAMESPACE_SEPARATOR}` : undefined);
    if (!this.#breaker.closed) {
      this.#stats.shortCircuits++;
      this.#journal.recordNamespace(namespace ?? '');
      return;
    }
    try {
      await this.#primary.clear(namespace, this.#step);
      this.#breaker.success();
    } catch (error) {
      this.#failed('clear', error, []);
      this.#journal.recordNamespace(namespace ?? '');
      this.#scheduleReconcile(0);
    }
  }

  /** Closes the primary's connection (bounded by the deadline) and stops probing. Memory is kept. */
  async disconnect(): Promise<void> {
    this.#closed = true;
    this.#breaker.dispose();
    this.#cancelReconcile();
    try {
      await this.#step('disconnect', this.#primary.disconnect());
    } catch (error) {
      this.#failed('disconnect', error, []);
    }
  }

  /**
   * Fills the memory tier: from the primary (`SCAN` + batched reads with each key's remaining TTL)
   * for keys matching `match`, or from a loader function (memory only: e.g. a snapshot from the
   * database at startup while Redis is down). Bounded by the tier's size, cancellable with
   * `signal`, yielding to normal traffic between batches; emits `warm:progress`. Never rejects for
   * an outage: it stops, and says why.
   *
   * @example
   * await store.warm({ match: 'price:*', limit: 5_000 });
   * await store.warm(async function* () { for (const row of await db.prices()) yield { key: `price:${row.symbol}`, value: row, ttl: 30_000 }; });
   */
  async warm(source: WarmOptions | WarmLoader = {}, options: WarmOptions = {}): Promise<WarmReport> {
    const namespace = this.#primary.namespace;
    // Keyv prefixes every key with `namespace:` before the store sees it.
    const keyvKey = (appKey: string) => (namespace ? `${namespace}:${appKey}` : appKey);
    const context: WarmContext = {
      primary: this.#primary,
      memory: this.#memory,
      clock: this.#clock,
      step: this.#step,
      codec: this.#codec,
      physicalOf: (appKey) => this.#primary.physicalKey(keyvKey(appKey)),
      patternOf: (glob) => this.#primary.physicalKey(keyvKey(glob)),
      primaryUsable: () => this.#breaker.closed && !this.#closed,
      onProgress: (event) => this.emit('warm:progress', event),
    };
    if (typeof source !== 'function') return warmFromPrimary(context, source);
    const codec = this.#codec;
    return warmFromLoader(context, source, options, (value, ttlMs) => {
      // The envelope Keyv would have written for this value.
      const raw = keyvCodec.encode({ value, expires: ttlMs === undefined ? undefined : Date.now() + ttlMs });
      return codec === undefined ? raw : codec.decode(raw);
    });
  }

  /**
   * Reconciles now what the primary missed, if the breaker is closed. Resolves `true` when nothing
   * is left pending. Runs on its own after outages; exposed for tests and graceful shutdown.
   */
  async reconcile(): Promise<boolean> {
    if (!this.#breaker.closed) return this.#journal.pending === 0;
    return this.#runReconcile();
  }

  /**
   * Receives the latency of every `get`, `set` and `delete` with the path that answered it, for
   * exporters and dashboards. Nothing is timed while no observer is attached. Returns a function
   * that detaches it.
   */
  observe(observer: StoreObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Reports a call's latency to the observers, if any, and passes its result through. */
  #observed<T>(operation: ObservedOperation, path: LatencyPath, t0: number, result: T): T {
    const observers = this.#observers;
    if (observers.length !== 0) {
      const seconds = (this.#clock.now() - t0) / 1000;
      for (const observer of observers) observer.latency(operation, path, seconds);
    }
    return result;
  }

  /** A primary answer: a hit refreshes memory with the primary's remaining TTL, a miss drops it. */
  #accept(key: string, memoryKey: string, read: PrimaryRead | undefined, started: number): unknown {
    if (read === undefined) {
      // The primary is the truth: an older memory copy must not outlive its deletion.
      this.#memory.delete(memoryKey);
      this.#stats.misses++;
      return undefined;
    }
    const staleMs = this.#router?.hasGrace ? (this.#categoryOf(key)?.staleMs ?? 0) : 0;
    const codec = this.#codec;
    const value = codec === undefined ? read.value : codec.decode(read.value);
    const sizeHint = codec !== undefined && typeof read.value === 'string' ? read.value.length : undefined;
    // `started`, not now: the memory copy must expire no later than the primary's.
    const fetchTtl = read.fetchTtl;
    if (fetchTtl === undefined || (read.untimedEnvelope === true && this.#categoryOf(key) === undefined)) {
      // Known TTL, or Keyv's envelope without one on a key no category gives one: it never expires.
      const expiresAt = read.ttlMs === undefined ? Number.POSITIVE_INFINITY : started + read.ttlMs;
      this.#memory.refresh(memoryKey, value, expiresAt, expiresAt + staleMs, sizeHint);
    } else {
      // Only the primary knows (a category TTL, or a value not in Keyv's format): ask it, and keep
      // the copy unservable until it answers.
      const entry = this.#memory.set(memoryKey, value, undefined, undefined, sizeHint);
      if (entry !== undefined) {
        fetchTtl().then(
          (ttlMs) => {
            const expiresAt = ttlMs === undefined ? Number.POSITIVE_INFINITY : started + ttlMs;
            this.#memory.expire(memoryKey, entry, expiresAt, expiresAt + staleMs);
          },
          // Unknown TTL: the copy stays unservable and is replaced by the next read or write.
          () => {},
        );
      }
    }
    this.#stats.primaryHits++;
    return value;
  }

  /** Writes the memory copy of a value being written; returns the value in the primary's form. */
  #remember(memoryKey: string, value: unknown, keyTtl: KeyTtl | undefined, now: number): unknown {
    let raw = value;
    let copy = value;
    let sizeHint: number | undefined;
    if (this.#codec !== undefined && typeof value !== 'string') {
      // The memory copy is what a read from the primary would return: parsed from the same bytes.
      const encoded = this.#codec.encode(value);
      raw = encoded;
      copy = this.#codec.decode(encoded);
      sizeHint = encoded.length;
    }
    const expiresAt = keyTtl === undefined ? Number.POSITIVE_INFINITY : now + keyTtl.ttlMs;
    this.#memory.set(memoryKey, copy, expiresAt, expiresAt + (keyTtl?.staleMs ?? 0), sizeHint);
    return raw;
  }

  /** A fresh memory copy, or within stale-if-error grace an expired one (counted). */
  #fallbackEntry(memoryKey: string): MemoryEntry | undefined {
    let entry = this.#memory.get(memoryKey);
    if (entry === undefined && this.#router?.hasGrace) {
      entry = this.#memory.getStale(memoryKey);
      if (entry !== undefined) this.#stats.staleServes++;
    }
    if (entry !== undefined) {
      this.#stats.memoryHits++;
      this.#stats.fallbackServes++;
    }
    return entry;
  }

  #serveFromMemory(operation: Operation, memoryKey: string): unknown {
    const entry = this.#fallbackEntry(memoryKey);
    if (entry === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    this.emit('fallback:serve', { operation, keys: [memoryKey] });
    return entry.value;
  }

  /** The primary took a write or delete: it is newer than anything journaled for the key. */
  #wrote(memoryKey: string): void {
    if (this.#journal.size !== 0) this.#journal.forget(memoryKey);
    this.#recent.add(memoryKey);
  }

  /** Writes or deletes that reached memory only: counted and journaled. */
  #missed(memoryKeys: string[], op: 'set' | 'delete'): boolean {
    this.#stats.degradedWrites += memoryKeys.length;
    const at = this.#clock.now();
    for (const memoryKey of memoryKeys) this.#journal.record(memoryKey, op, at);
    // While the breaker is closed (a server reply such as OOM, or failures below the threshold),
    // reconcile soon; while it is open, the probe reconciles before closing.
    if (this.#breaker.closed) this.#scheduleReconcile(RECONCILE_COALESCE_MS);
    return this.#fallbackWritesSucceed;
  }

  #failed(operation: Operation, error: unknown, keys: readonly string[]): void {
    const failure = (
      (error as { code?: string } | null)?.code?.startsWith?.('E_PRIMARY_')
        ? error
        : new PrimaryUnavailableError(operation, error)
    ) as PrimaryFailure;
    this.#stats.primaryFailures++;
    if (failure.code === 'E_PRIMARY_TIMEOUT') this.#stats.timeouts++;
    // A server reply (OOM, READONLY, NOPERM) means the primary is there: reads may still work.
    if (failure.code !== 'E_PRIMARY_ERROR') this.#breaker.failure();
    this.emit('primary:failure', { operation, error: failure, keys });
  }

  /**
   * The breaker's probe: one round trip, restart detection, then reconciliation, all before any
   * user call reaches the primary again. Also run once on the first connection.
   */
  async #probe(): Promise<boolean> {
    const probe = this.#primary.probe();
    try {
      const serverId = await this.#step('probe', probe);
      if (serverId !== undefined) {
        if (this.#serverId !== undefined && serverId !== this.#serverId) this.#restarted(serverId);
        this.#serverId = serverId;
      }
    } catch (error) {
      this.#failed('probe', error, []);
      if ((error as { code?: string }).code === 'E_PRIMARY_TIMEOUT') {
        // A hung server that resumes answers this probe late: that is the moment it is back, so
        // probe again at once instead of waiting out the cooldown (the connection never dropped).
        probe.then(
          () => {
            if (!this.#closed) this.#breaker.connectionBack();
          },
          () => {},
        );
        if (++this.#probeTimeouts >= PROBE_TIMEOUTS_BEFORE_RECONNECT) {
          this.#probeTimeouts = 0;
          this.#primary.reconnect?.();
        }
      }
      return false;
    }
    this.#probeTimeouts = 0;
    for (let round = 0; round < PROBE_RECONCILE_ROUNDS && this.#journal.pending > 0; round++) {
      if (!(await this.#runReconcile())) return this.#journal.pending === 0;
    }
    // Still pending after several rounds (writes keep coming): close anyway; reads of those keys
    // are answered by memory until the background reconciliation catches up.
    if (this.#journal.pending > 0) this.#scheduleReconcile(0);
    return true;
  }

  /** The primary is a new process that may hold older copies of what we wrote: reconcile those. */
  #restarted(serverId: string): void {
    const { keys, namespaces } = this.#recent.drain();
    const at = this.#clock.now();
    for (const key of keys) this.#journal.record(key, 'set', at);
    for (const namespace of namespaces) this.#journal.recordNamespace(namespace);
    this.#stats.restarts++;
    this.emit('primary:restart', { serverId, keys: keys.length, namespaces: namespaces.length });
  }

  /** One reconciliation at a time; resolves whether it completed. */
  #runReconcile(): Promise<boolean> {
    this.#reconciling ??= reconcile(
      this.#primary,
      this.#journal,
      this.#memory,
      this.#reconcileMode,
      this.#clock,
      this.#step,
      this.#codec?.encode,
    )
      .then(
        (report) => {
          this.#stats.reconciledKeys += report.keys;
          this.#stats.reconciliations++;
          this.emit('reconcile:done', report);
          return true;
        },
        (error: unknown) => {
          this.#failed('reconcile', error, []);
          return false;
        },
      )
      .finally(() => {
        this.#reconciling = undefined;
      });
    return this.#reconciling;
  }

  #scheduleReconcile(delayMs: number): void {
    if (this.#reconcileTimer !== undefined || this.#closed) return;
    this.#reconcileTimer = this.#clock.setTimeout(() => {
      this.#reconcileTimer = undefined;
      if (!this.#breaker.closed || this.#journal.pending === 0) return;
      void this.#runReconcile().then((ok) => {
        if (this.#journal.pending > 0 && this.#breaker.closed) this.#scheduleReconcile(ok ? 0 : this.#retryMs);
      });
    }, delayMs);
  }

  #cancelReconcile(): void {
    if (this.#reconcileTimer !== undefined) this.#clock.clearTimeout(this.#reconcileTimer);
    this.#reconcileTimer = undefined;
  }

  /** The application's key: rules are written against it, not Keyv's `namespace:` prefix. */
  #categoryOf(key: string): KeyTtl | undefined {
    if (this.#router === undefined) return undefined;
    const namespace = this.#primary.namespace;
    const appKey = namespace && key.startsWith(`${namespace}:`) ? key.slice(namespace.length + 1) : key;
    return this.#router.resolve(appKey);
  }

  /** Explicit TTL wins (Keyv passes 0 or undefined for none); otherwise the key's category, if any. */
  #ttlFor(key: string, ttl: number | undefined): KeyTtl | undefined {
    if (ttl !== undefined && ttl !== 0) {
      if (typeof ttl !== 'number' || !(ttl > 0) || !Number.isFinite(ttl)) {
        throw new InvalidOptionError('ttl', ttl, `a positive number of milliseconds for key ${quote(key)}`);
      }
      const staleMs = this.#router?.hasGrace ? (this.#categoryOf(key)?.staleMs ?? 0) : 0;
      return { ttlMs: Math.ceil(ttl), staleMs };
    }
    return this.#router === undefined ? undefined : this.#categoryOf(key);
  }
}
