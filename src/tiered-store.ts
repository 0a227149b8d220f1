// The Keyv surface of the store and its wiring. Over 400 lines because it is the whole Keyv adapter
// contract (both majors), fourteen public methods with their documentation, each a short route
// between the tiers; the work lives in the modules it wires (see docs/architecture.md).
import { EventEmitter } from 'node:events';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { type Codec, keyvCodec } from './codec.js';
import { createPrimary } from './compose.js';
import { InvalidArgumentError, NamespaceRequiredError, PrimaryAuthError, quote } from './errors.js';
import type { LatencyPath, ObservedOperation, StoreObserver, TieredStoreEvents } from './events.js';
import { type GetOrSetOptions, type Loader, Loads } from './get-or-set.js';
import { OutageJournal } from './journal.js';
import { KeyLayout } from './key-layout.js';
import { KEYV6_CAPABILITIES, ttlFromExpires } from './keyv-major.js';
import { MemoryCopies } from './memory-copies.js';
import { type MemoryEntry, MemoryTier, type MemoryTierOptions } from './memory-tier.js';
import { NearCache, type NearCacheState } from './near-cache.js';
import { type KeyLayoutOption, type ReadPolicy, resolveOptions, type TieredStoreOptions } from './options.js';
import type { Primary, PrimaryRead } from './primary.js';
import { FAILED, PrimaryCalls } from './primary-calls.js';
import { ReadGuard } from './read-guard.js';
import { ReadRoutes } from './read-routes.js';
import { RecentWrites } from './recent-writes.js';
import { RECONCILE_COALESCE_MS, Recovery } from './recovery.js';
import { Stats, snapshot, type TieredStoreStats } from './stats.js';
import { type KeyTtl, TtlRouter } from './ttl-categories.js';
import { checkEntries, checkKey, checkKeys, checkTtl } from './validate.js';
import { type WarmLoader, type WarmOptions, type WarmReport, warmFromLoader, warmFromPrimary } from './warm.js';

/** An entry of `setMany`, as Keyv passes it: a relative `ttl` from Keyv 5, an absolute `expires` from Keyv 6. */
export interface TieredStoreEntry {
  key: string;
  value: unknown;
  ttl?: number | undefined;
  expires?: number | undefined;
}

/** The tier's options with the store's clock, unless they bring one; anything else is the tier's to refuse. */
function withClock(fallback: unknown, clock: Clock): MemoryTierOptions {
  const proto = fallback !== null && typeof fallback === 'object' ? Object.getPrototypeOf(fallback) : undefined;
  // As MemoryTier accepts them: a null-prototype object is plain too, and must get the clock.
  const plain = proto === Object.prototype || proto === null;
  return (plain ? { clock, ...(fallback as MemoryTierOptions) } : fallback) as MemoryTierOptions;
}

/**
 * A Keyv storage adapter over a primary (Redis, shared, the source of truth) and a bounded
 * in-process fallback. It keeps answering when the primary dies or hangs: every primary call has
 * a deadline, a circuit breaker stops calling a primary that is down, no method rejects because
 * the primary failed, and writes the primary missed are reconciled before it serves those keys
 * again. Bad input rejects with an `InvalidArgumentError` before either tier is touched.
 *
 * This file is the Keyv surface and the wiring; the work is in `primary-calls.ts` (the one call
 * path), `memory-copies.ts` (what memory holds), `recovery.ts` (probe, restart, reconciliation) and
 * `key-layout.ts` (which keys are ours), `keyv-major.ts` (what Keyv 6 differs in).
 *
 * @example
 * const keyv = new Keyv({ store: new TieredStore({ primary: 'redis://127.0.0.1:6379' }) });
 */
export class TieredStore<C extends string = string> extends EventEmitter<TieredStoreEvents> {
  /** What Keyv 5 reads (`dialect`, to wire its iterator); see the `opts` getter. */
  readonly #opts: Record<string, unknown>;
  /** The Keyv major that adopted the store (see {@link keyvMajor}); Keyv 5's contract until then. */
  #major: 5 | 6 | undefined;
  readonly #keyLayout: KeyLayoutOption;
  readonly #primary: Primary;
  readonly #layout: KeyLayout;
  readonly #memory: MemoryTier;
  readonly #copies: MemoryCopies;
  readonly #calls: PrimaryCalls;
  readonly #recovery: Recovery;
  readonly #router: TtlRouter | undefined;
  readonly #journal: OutageJournal;
  readonly #recent: RecentWrites;
  readonly #breaker: CircuitBreaker;
  readonly #stats = new Stats();
  readonly #clock: Clock;
  readonly #loads: Loads;
  readonly #routes: ReadRoutes;
  /** `near-cache` with a primary that reports invalidations; dropped if the server refuses tracking. */
  #near: NearCache | undefined;
  /** The near-cache's state, kept when it is dropped (`unsupported`). */
  #nearState: NearCacheState | undefined;
  readonly #fallbackWritesSucceed: boolean;
  /** Set with `serialization: 'store'`: values are encoded for the primary, frozen objects in memory. */
  readonly #codec: Codec | undefined;
  #closed = false;
  /** Replaced, never mutated, so a call iterates a stable list. */
  #observers: readonly StoreObserver[] = [];
  /** Events whose listener threw, already reported (see {@link emit}). */
  readonly #listenerBugs = new Set<string>();

  /** @throws {InvalidOptionError} naming the option and quoting the bad value (a URL without its password). */
  constructor(options: TieredStoreOptions<C>) {
    super();
    const resolved = resolveOptions(options as TieredStoreOptions<string>);
    this.#clock = resolved.clock;
    this.#fallbackWritesSucceed = resolved.fallbackWritesSucceed;
    this.#codec = resolved.serialization === 'store' ? keyvCodec : undefined;
    this.#journal = new OutageJournal(resolved.journalMaxKeys);
    this.#recent = new RecentWrites(resolved.journalMaxKeys);
    this.#router = options.ttl === undefined ? undefined : new TtlRouter(options.ttl, 'ttl');
    const fallback = options.fallback;
    this.#memory =
      fallback instanceof MemoryTier
        ? fallback
        : new MemoryTier(fallback === undefined ? { clock: this.#clock } : withClock(fallback, this.#clock));
    this.#copies = new MemoryCopies(
      this.#memory,
      new ReadGuard(resolved.journalMaxKeys),
      this.#clock,
      this.#codec,
      this.#stats,
      this.#router?.hasGrace === true,
    );

    this.#routes = new ReadRoutes(
      {
        copies: this.#copies,
        journal: this.#journal,
        stats: this.#stats,
        usable: () => this.#calls.usable,
        memoryTtlMs: resolved.memoryTtlMs,
        emitServe: (event) => this.emit('fallback:serve', event),
      },
      resolved.readPolicy === 'memory-first',
    );

    this.#primary = createPrimary(options.primary, resolved);
    this.#layout = new KeyLayout(this.#primary.separator, options.namespace ?? this.#primary.initialNamespace);
    this.#primary.useLayout?.(this.#layout);
    this.#calls = new PrimaryCalls(
      this.#primary,
      resolved.operationTimeoutMs,
      this.#clock,
      this.#stats,
      (event) => this.emit('primary:failure', event),
      () => this.#recovery.lateReply(),
    );
    this.#recovery = new Recovery({
      primary: this.#primary,
      calls: this.#calls,
      journal: this.#journal,
      recent: this.#recent,
      memory: this.#memory,
      layout: this.#layout,
      clock: this.#clock,
      stats: this.#stats,
      mode: resolved.reconcile,
      restartRecovery: resolved.restartRecovery,
      retryMs: resolved.breaker.cooldownMs,
      encode: this.#codec?.encode,
      onRestart: (event) => this.emit('primary:restart', event),
      onNamespaceRecovered: (event) => this.emit('restart:recovered', event),
      onReconciled: (report) => this.emit('reconcile:done', report),
    });
    this.#breaker = new CircuitBreaker(
      resolved.breaker,
      this.#clock,
      () => this.#recovery.probe(),
      (from, to, reason) => {
        if (to === 'open') this.#recovery.cancel();
        this.emit('circuit:state', { from, to, reason });
      },
    );
    this.#calls.breaker = this.#breaker;
    this.#recovery.breaker = this.#breaker;
    this.#primary.onConnectionChange = (state, error) => this.#connectionChanged(state, error);
    if (resolved.readPolicy === 'near-cache') this.#startNearCache(resolved.nearCacheLeaseMs);
    this.#loads = new Loads({
      layout: this.#layout,
      memory: this.#memory,
      primary: this.#primary,
      calls: this.#calls,
      clock: this.#clock,
      stats: this.#stats,
      objects: this.#codec !== undefined,
      major: () => this.#major,
      get: (storeKey) => this.get(storeKey),
      set: (storeKey, value, ttl) => this.set(storeKey, value, ttl),
      categoryOf: (storeKey) => this.#categoryOf(storeKey),
    });
    this.#keyLayout = resolved.keyLayout;
    this.#opts = {
      dialect: this.#primary.dialect ?? 'tiered',
      url: '',
      readPolicy: resolved.readPolicy satisfies ReadPolicy,
      operationTimeoutMs: resolved.operationTimeoutMs,
    };
    // Never blocks: until the primary is ready, calls fail fast and memory answers.
    this.#primary.connect?.();
  }

  /**
   * Read by Keyv 5 when it adopts the store (and never by Keyv 6): the store then speaks Keyv 5's
   * contract. `dialect` wires Keyv 5's iterator; the conformance suite writes to this object. Not the
   * store's configuration: that is fixed at construction.
   */
  get opts(): Record<string, unknown> {
    this.#adopt(5);
    return this.#opts;
  }

  /**
   * Read by Keyv 6 when it adopts the store (and never by Keyv 5): the store then speaks Keyv 6's
   * storage contract natively (absolute `expires` on `set`/`setMany`, bare keys under the namespace
   * Keyv assigns, `deleteMany` per key, `iterator()` without an argument) instead of being wrapped
   * in Keyv 6's bridge.
   */
  get capabilities(): typeof KEYV6_CAPABILITIES {
    this.#adopt(6);
    return KEYV6_CAPABILITIES;
  }

  /**
   * The Keyv major whose contract the store speaks: the first Keyv to adopt it decides (Keyv 5 reads
   * `opts`, Keyv 6 reads `capabilities`). `undefined` until then, when it behaves as under Keyv 5.
   */
  get keyvMajor(): 5 | 6 | undefined {
    return this.#major;
  }

  #adopt(major: 5 | 6): void {
    if (this.#major === major) return;
    if (this.#major !== undefined) {
      // One contract per store: Keyv 6's absolute expiries read as Keyv 5's TTLs would live ~56 years.
      throw new InvalidArgumentError(
        'store',
        `adopted by Keyv ${this.#major}`,
        `a TieredStore of its own for each Keyv major (this one speaks Keyv ${this.#major}'s contract)`,
      );
    }
    this.#major = major;
    if (major === 6) {
      this.#layout.mode = this.#keyLayout === 'keyv5' ? 'keyv6-compat' : 'keyv6';
      this.#primary.useLayout?.(this.#layout);
      this.#near?.start(this.#layout.ownedPrefix ?? '');
    }
  }

  /** The namespace Keyv set (`keyv` by default in Keyv 5, none in Keyv 6); `''` counts as none. */
  get namespace(): string | undefined {
    return this.#layout.namespace;
  }

  set namespace(value: string | undefined) {
    if (value !== undefined) checkKey(value, 'namespace');
    this.#layout.namespace = value;
    this.#primary.useLayout?.(this.#layout);
    this.#near?.start(this.#layout.ownedPrefix ?? '');
  }

  /** The in-process tier, e.g. to share it with another store. */
  get fallback(): MemoryTier {
    return this.#memory;
  }

  /**
   * With `readPolicy: 'near-cache'`: `live` (verified copies answer without a network call), `lost`
   * (none verified: reads ask the primary), `unsupported` (the store behaves as `memory-first`);
   * `undefined` under another policy, and until the first connection.
   */
  get nearCacheState(): NearCacheState | undefined {
    return this.#nearState;
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
    return snapshot(this.#stats, this.#memory, this.#journal, this.#breaker.state, this.#nearState);
  }

  // ---- reads ---------------------------------------------------------------------------------

  get(key: string): Promise<unknown> {
    // Not async: a copy that answers is handed back in a resolved promise, without an async
    // function's frame around it (the memory hit is the path that costs least, so any cost shows).
    let physical: string;
    let entry: MemoryEntry | undefined;
    const t0 = this.#observers.length === 0 ? 0 : this.#clock.now();
    try {
      physical = this.#layout.physicalKey(checkKey(key));
      entry = this.#routes.answered(physical);
    } catch (error) {
      return Promise.reject(error);
    }
    if (entry === undefined) return this.#getFromPrimary(key, physical, t0);
    this.#stats.memoryHits++;
    return Promise.resolve(this.#observed('get', 'memory', t0, entry.value));
  }

  /** The rest of `get` when no copy answers: memory in place of the primary, or the primary. */
  async #getFromPrimary(key: string, physical: string, t0: number): Promise<unknown> {
    if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      return this.#observed('get', 'breaker-open', t0, this.#routes.serve('get', physical));
    }
    // The primary holds an older copy until reconciled: memory has this instance's newest.
    if (this.#routes.journaled(physical)) {
      return this.#observed('get', 'fallback', t0, this.#routes.serve('get', physical));
    }
    // Before the read is sent: a category function that throws must not leave a read open.
    const ttl = this.#router === undefined ? undefined : this.#categoryOf(key);
    const started = this.#clock.now();
    const ticket = this.#copies.guard.begin();
    const token = this.#near?.current();
    let value: unknown;
    try {
      let read: PrimaryRead | undefined;
      try {
        read = await this.#calls.bounded('get', this.#primary.get(physical), started);
        this.#calls.succeeded(started);
      } catch (error) {
        this.#calls.failed('get', error, [physical]);
        return this.#observed('get', 'fallback', t0, this.#routes.serve('get', physical));
      }
      value = this.#copies.fromRead(physical, read, ticket, started, ttl?.staleMs ?? 0, ttl !== undefined, token);
    } finally {
      // After the fill: ending the read may forget the stamps it was checked against.
      this.#copies.guard.end();
    }
    return this.#observed('get', 'primary', t0, value);
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    const physical = this.#physicalKeys(keys);
    // Filled, not sparse: Keyv walks the result with for...in, which skips holes.
    const results = new Array<unknown>(keys.length).fill(undefined);
    const ask = this.#routes.route('getMany', physical, (i, value) => {
      results[i] = value;
    });
    if (ask.length > 0) {
      const ttls = this.#router === undefined ? undefined : ask.map((i) => this.#categoryOf(keys[i] as string));
      const started = this.#clock.now();
      const ticket = this.#copies.guard.begin();
      const token = this.#near?.current();
      const asked = ask.map((i) => physical[i] as string);
      try {
        const send = () => this.#primary.getMany(asked);
        const reads = await this.#calls.call('getMany', asked, send, asked.length, started);
        if (reads === FAILED) {
          this.#routes.serveBatch('getMany', physical, ask, (i, value) => {
            results[i] = value;
          });
        } else {
          for (const [j, i] of ask.entries()) {
            const ttl = ttls?.[j];
            const key = physical[i] as string;
            const grace = ttl?.staleMs ?? 0;
            results[i] = this.#copies.fromRead(key, reads[j], ticket, started, grace, ttl !== undefined, token);
          }
        }
      } finally {
        this.#copies.guard.end();
      }
    }
    return results;
  }

  async has(key: string): Promise<boolean> {
    const physical = this.#layout.physicalKey(checkKey(key));
    if (this.#routes.answered(physical) !== undefined) {
      this.#stats.memoryHits++;
      return true;
    }
    if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      return this.#routes.serve('has', physical) !== undefined;
    }
    if (this.#routes.journaled(physical)) {
      return this.#routes.serve('has', physical) !== undefined;
    }
    const found = await this.#calls.call('has', physical, () => this.#primary.has(physical));
    return found === FAILED ? this.#routes.serve('has', physical) !== undefined : found;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const physical = this.#physicalKeys(keys);
    const results = new Array<boolean>(keys.length).fill(false);
    const ask = this.#routes.route('hasMany', physical, (i, value) => {
      results[i] = value !== undefined;
    });
    if (ask.length > 0) {
      const asked = ask.map((i) => physical[i] as string);
      const found = await this.#calls.call('hasMany', asked, () => this.#primary.hasMany(asked), asked.length);
      if (found === FAILED) {
        this.#routes.serveBatch('hasMany', physical, ask, (i, value) => {
          results[i] = value !== undefined;
        });
      } else {
        for (const [j, i] of ask.entries()) results[i] = found[j] === true;
      }
    }
    return results;
  }

  /**
   * Yields `[key, value]` for the namespace from the primary; if the primary is unavailable before
   * the first entry, from memory instead. A failure after that ends the iteration early (counted),
   * because switching tiers midway would repeat or skip keys. Only keys the namespace provably owns
   * are yielded; without a namespace it throws {@link NamespaceRequiredError}.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown], void> {
    // Keyv hands the store its own namespace; another one would read keys this store cannot own.
    if (namespace !== undefined && namespace !== '' && namespace !== this.#layout.namespace) {
      throw new InvalidArgumentError('namespace', namespace, `this store's own namespace (${quote(this.namespace)})`);
    }
    const layout = this.#layout;
    const scope = layout.scope;
    if (scope === undefined) throw new NamespaceRequiredError('iterator');
    if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      yield* this.#memoryEntries(layout);
      return;
    }
    const source = this.#primary.iterator(scope, this.#calls.step);
    let yielded = false;
    try {
      while (true) {
        let step: IteratorResult<[string, unknown], void>;
        try {
          step = await this.#calls.step('iterator', source.next());
        } catch (error) {
          this.#calls.failed('iterator', error, []);
          if (!yielded) yield* this.#memoryEntries(layout);
          return;
        }
        if (step.done) return;
        yielded = true;
        const [physical, raw] = step.value;
        yield [layout.storeKey(physical), this.#codec === undefined ? raw : this.#codec.decode(raw)];
      }
    } finally {
      // Stops the primary's SCAN when the consumer breaks out; a hung server must not hold us.
      source.return(undefined).catch(() => {});
    }
  }

  *#memoryEntries(layout: KeyLayout): Generator<[string, unknown]> {
    for (const [physical, entry] of this.#memory.entries(layout.ownedPrefix as string, layout.owns)) {
      this.#stats.fallbackServes++;
      yield [layout.storeKey(physical), entry.value];
    }
  }

  // ---- writes --------------------------------------------------------------------------------

  /**
   * @param ttl under Keyv 5, a TTL in ms; under Keyv 6, the absolute expiry time (ms since the
   * epoch) Keyv computed. `undefined` or 0: the key's category TTL, or none.
   */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const t0 = this.#observers.length === 0 ? 0 : this.#clock.now();
    const physical = this.#layout.physicalKey(checkKey(key));
    const keyTtl = this.#ttlFor(key, this.#ttlArgument(ttl, 'ttl'));
    const prepared = this.#copies.prepare(value);
    const copy = this.#copies.write(physical, prepared, keyTtl, this.#clock.now());
    if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      return this.#observed('set', 'breaker-open', t0, this.#missed([physical], 'set'));
    }
    const token = this.#near?.current();
    const sent = await this.#calls.call('set', physical, () =>
      this.#primary.set(physical, prepared.raw, keyTtl?.ttlMs),
    );
    if (sent === FAILED) return this.#observed('set', 'fallback', t0, this.#missed([physical], 'set'));
    this.#near?.verify(physical, copy, token);
    this.#wrote(physical);
    return this.#observed('set', 'primary', t0, true);
  }

  async setMany(entries: TieredStoreEntry[]): Promise<boolean[]> {
    // The whole batch is checked before either tier is touched: one bad entry writes nothing.
    const now = this.#clock.now();
    const six = this.#major === 6;
    const batch = checkEntries(entries).map(({ key, value, ttl, expires }, i) => ({
      key: this.#layout.physicalKey(key),
      keyTtl: this.#ttlFor(
        key,
        this.#ttlArgument(six ? expires : ttl, six ? `entries[${i}].expires` : `entries[${i}].ttl`),
      ),
      prepared: this.#copies.prepare(value, `entries[${i}].value`),
    }));
    const physical = batch.map((entry) => entry.key);
    if (physical.length === 0) return [];
    const copies = batch.map((entry) => this.#copies.write(entry.key, entry.prepared, entry.keyTtl, now));
    let ok: boolean;
    if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      ok = this.#missed(physical, 'set');
    } else {
      const toSend = batch.map(({ key, prepared, keyTtl }) => ({ key, value: prepared.raw, ttlMs: keyTtl?.ttlMs }));
      const token = this.#near?.current();
      const sent = await this.#calls.call('setMany', physical, () => this.#primary.setMany(toSend), toSend.length);
      ok = sent !== FAILED;
      if (ok) {
        for (const [i, key] of physical.entries()) {
          this.#near?.verify(key, copies[i], token);
          this.#wrote(key);
        }
      } else {
        ok = this.#missed(physical, 'set');
      }
    }
    return batch.map(() => ok);
  }

  /**
   * Deletes the key from both tiers. Resolves what the primary said (whether it held the key); when
   * the primary could not be reached, memory drops its copy, the delete is journaled and the result
   * is `false`, as for `set` (with `fallbackWritesSucceed`, whether memory held the key).
   */
  async delete(key: string): Promise<boolean> {
    const t0 = this.#observers.length === 0 ? 0 : this.#clock.now();
    const physical = this.#layout.physicalKey(checkKey(key));
    const inMemory = this.#copies.delete(physical);
    if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      return this.#observed('delete', 'breaker-open', t0, this.#missed([physical], 'delete') && inMemory);
    }
    const deleted = await this.#calls.call('delete', physical, () => this.#primary.delete(physical));
    if (deleted === FAILED) {
      return this.#observed('delete', 'fallback', t0, this.#missed([physical], 'delete') && inMemory);
    }
    this.#wrote(physical);
    return this.#observed('delete', 'primary', t0, deleted);
  }

  /**
   * As {@link delete}, for a batch. Under Keyv 5: `true` when the primary deleted any of the keys;
   * under Keyv 6: whether each key was deleted.
   */
  async deleteMany(keys: string[]): Promise<boolean | boolean[]> {
    const physical = this.#physicalKeys(keys);
    const inMemory = physical.map((key) => this.#copies.delete(key));
    let deleted: boolean[];
    if (physical.length === 0) {
      deleted = [];
    } else if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      const claimed = this.#missed(physical, 'delete');
      deleted = inMemory.map((held) => claimed && held);
    } else {
      const sent = await this.#calls.call(
        'deleteMany',
        physical,
        () => this.#primary.deleteMany(physical),
        physical.length,
      );
      if (sent === FAILED) {
        const claimed = this.#missed(physical, 'delete');
        deleted = inMemory.map((held) => claimed && held);
      } else {
        for (const key of physical) this.#wrote(key);
        deleted = sent;
      }
    }
    return this.#major === 6 ? deleted : deleted.includes(true);
  }

  /**
   * Deletes every key of this store's namespace, in both tiers: only keys the namespace provably
   * owns (`ns::ns:*` under Keyv 5), so another namespace, another application's keys and plain
   * `@keyv/redis` keys survive. Without a namespace it deletes nothing and throws
   * {@link NamespaceRequiredError}: a namespace-less store cannot prove any key in a shared Redis is
   * its own.
   */
  async clear(): Promise<void> {
    const prefix = this.#layout.ownedPrefix;
    const scope = this.#layout.scope;
    if (prefix === undefined || scope === undefined) throw new NamespaceRequiredError('clear');
    // Memory by prefix alone: dropping a copy another namespace might claim is only a cold read,
    // while Redis keys are deleted only where ownership is proven.
    this.#memory.clear(prefix);
    if (!this.#calls.usable) {
      this.#stats.shortCircuits++;
      this.#journal.recordPrefix(prefix);
      return;
    }
    try {
      await this.#primary.clear(scope, this.#calls.step);
      this.#breaker.success();
    } catch (error) {
      this.#calls.failed('clear', error, []);
      this.#journal.recordPrefix(prefix);
      this.#recovery.schedule(0);
    }
  }

  /** Closes the primary's connection (bounded by the deadline) and stops probing. Memory is kept. */
  async disconnect(): Promise<void> {
    this.#closed = true;
    this.#breaker.dispose();
    this.#recovery.close();
    this.#near?.close();
    try {
      await this.#calls.step('disconnect', this.#primary.disconnect());
    } catch (error) {
      this.#calls.failed('disconnect', error, []);
    }
  }

  /**
   * Fills the memory tier: from the primary (`SCAN` + batched reads with each key's remaining TTL)
   * for keys of this namespace whose application key matches `match`, or from a loader function
   * (memory only: e.g. a snapshot from the database at startup while Redis is down). Bounded by the
   * tier's size, cancellable with `signal`, yielding to normal traffic between batches; emits
   * `warm:progress`. Never rejects for an outage: it stops, and says why. Warming from the primary
   * needs a namespace ({@link NamespaceRequiredError}).
   *
   * @example
   * await store.warm({ match: 'price:*', limit: 5_000 });
   * await store.warm(async function* () { for (const row of await db.prices()) yield { key: `price:${row.symbol}`, value: row, ttl: 30_000 }; });
   */
  async warm(source: WarmOptions | WarmLoader = {}, options: WarmOptions = {}): Promise<WarmReport> {
    const context = {
      primary: this.#primary,
      copies: this.#copies,
      clock: this.#clock,
      step: this.#calls.step,
      codec: this.#codec,
      layout: this.#layout,
      primaryUsable: () => this.#calls.usable && !this.#closed,
      onProgress: (event: { loaded: number; seen: number }) => this.emit('warm:progress', event),
    };
    if (typeof source === 'function') return warmFromLoader(context, source, options);
    if (this.#layout.ownedPrefix === undefined) throw new NamespaceRequiredError('warm');
    return warmFromPrimary(context, source);
  }

  /**
   * The value of `key` (the application's key, as given to Keyv: Keyv's namespace applies), or, on
   * a miss, `loader`'s, written to both tiers as Keyv writes it (so `keyv.get(key)` reads it back),
   * with `options.ttl` or the key's category TTL. However many callers ask at once, the loader runs
   * once per key in this process; with `lock`, once across instances sharing the primary (the others
   * wait, bounded, for its value). While one caller reloads an expired key, the others get the copy
   * still within its category's stale-if-error grace; when the loader throws, that copy answers, or
   * the loader's error reaches the caller. Works with the primary down (loader and memory).
   *
   * @example
   * const price = await store.getOrSet('price:EURUSD', () => db.price('EURUSD'), { ttl: 5_000, lock: true });
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    return this.#loads.getOrSet(key, loader, options);
  }

  /**
   * Reconciles now what the primary missed, if the breaker is closed. Resolves `true` when nothing
   * is left pending. Runs on its own after outages; exposed for tests and graceful shutdown.
   */
  async reconcile(): Promise<boolean> {
    if (!this.#calls.usable) return this.#journal.pending === 0;
    return this.#recovery.run();
  }

  /**
   * Receives the latency of every `get`, `set` and `delete` with the path that answered it, for
   * exporters and dashboards. Nothing is timed while no observer is attached. Returns a function
   * that detaches it.
   */
  observe(observer: StoreObserver): () => void {
    if (observer === null || typeof observer !== 'object' || typeof observer.latency !== 'function') {
      throw new InvalidArgumentError('observer', observer, 'an object with a latency(operation, path, seconds) method');
    }
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  /**
   * Emits as `EventEmitter` does, except that a listener that throws cannot change what the call
   * that emitted returns: an outage the store absorbed must not reach the caller as a listener's
   * rejection. The error is reported as a process warning (`KeyvFailsafeListenerWarning`), once per
   * event name (a listener that throws on every call must not flood the log); the listeners after
   * the one that threw do not run, as with `EventEmitter`.
   */
  override emit<K extends keyof TieredStoreEvents>(event: K, ...args: TieredStoreEvents[K]): boolean {
    try {
      return (super.emit as (event: K, ...args: unknown[]) => boolean)(event, ...args);
    } catch (error) {
      if (!this.#listenerBugs.has(event)) {
        this.#listenerBugs.add(event);
        const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        process.emitWarning(`a '${event}' listener threw (${why}); the store carried on (said once per event)`, {
          type: 'KeyvFailsafeListenerWarning',
        });
      }
      return true;
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  #connectionChanged(state: 'ready' | 'down', error: unknown): void {
    if (this.#closed) return;
    const reported =
      error !== undefined && this.#primary.classify(error) === 'auth'
        ? new PrimaryAuthError(this.#primary.safeName, error)
        : error;
    this.emit('primary:connection', reported === undefined ? { state } : { state, error: reported });
    if (state === 'down') this.#breaker.connectionLost();
    else if (!this.#breaker.closed) this.#breaker.connectionBack();
    // First connection: learn the server's identity (and reconcile, if anything is pending).
    else void this.#recovery.probe();
  }

  /**
   * `near-cache`: tracks the namespace's keys if the primary can report changes; otherwise says why
   * (on the next tick, so a listener attached after construction hears it) and reads `memory-first`.
   */
  #startNearCache(leaseMs: number): void {
    const support = this.#primary.trackingSupport?.() ?? {
      supported: false as const,
      reason: 'this primary cannot report changes (a Redis URL primary can)',
    };
    const near = new NearCache({
      primary: this.#primary,
      memory: this.#memory,
      guard: this.#copies.guard,
      clock: this.#clock,
      stats: this.#stats,
      leaseMs,
      onState: (event) => {
        this.#nearState = event.state;
        if (event.state === 'unsupported') this.#dropNearCache();
        if (!this.#closed) this.emit('near-cache:state', event);
      },
    });
    if (!support.supported) {
      process.nextTick(() => near.unsupported(support.reason));
      this.#dropNearCache();
      return;
    }
    this.#near = near;
    this.#copies.near = near;
    near.start(this.#layout.ownedPrefix ?? '');
  }

  #dropNearCache(): void {
    this.#near?.close();
    this.#near = undefined;
    this.#copies.near = undefined;
    this.#routes.memoryFirst = true;
  }

  #physicalKeys(keys: unknown): string[] {
    return checkKeys(keys).map((key) => this.#layout.physicalKey(key));
  }

  /** Reports a call's latency to the observers, if any, and passes its result through. */
  #observed<T>(operation: ObservedOperation, path: LatencyPath, t0: number, result: T): T {
    const observers = this.#observers;
    if (observers.length !== 0) {
      const seconds = (this.#clock.now() - t0) / 1000;
      for (const observer of observers) {
        try {
          observer.latency(operation, path, seconds);
        } catch {
          // An observer's bug must not turn a call that succeeded into a rejection.
        }
      }
    }
    return result;
  }

  /** The primary took a write or delete: it is newer than anything journaled for the key. */
  #wrote(physical: string): void {
    if (this.#journal.pending !== 0) {
      this.#journal.forget(physical);
      // The primary takes writes again (a refusal such as OOM is over): reconcile now, not at the retry.
      if (this.#journal.pending !== 0) this.#recovery.schedule(0);
    }
    this.#recent.add(physical, this.#layout.ownedPrefix);
  }

  /** Writes or deletes that reached memory only: counted and journaled. Returns what to report. */
  #missed(physical: string[], op: 'set' | 'delete'): boolean {
    this.#stats.degradedWrites += physical.length;
    const at = this.#clock.now();
    const prefix = this.#layout.ownedPrefix;
    for (const key of physical) {
      // Journal full and no namespace to invalidate instead: memory must not keep what Redis lacks.
      if (!this.#journal.record(key, op, at, prefix)) this.#memory.delete(key);
    }
    // While the breaker is closed (a server reply such as OOM, or failures below the threshold),
    // reconcile soon; while it is open, the probe reconciles before closing.
    if (this.#calls.usable) this.#recovery.schedule(RECONCILE_COALESCE_MS);
    return this.#fallbackWritesSucceed;
  }

  /** The application's key: rules are written against it, not Keyv's `namespace:` prefix. */
  #categoryOf(key: string): KeyTtl | undefined {
    return this.#router?.resolve(this.#layout.appKey(key));
  }

  /** A `set` TTL argument in ms: as given under Keyv 5; from Keyv 6's absolute `expires`. */
  #ttlArgument(ttl: unknown, argument: string): number | undefined {
    return this.#major === 6 ? ttlFromExpires(ttl, argument) : checkTtl(ttl, argument);
  }

  /** Explicit TTL wins; otherwise the key's category, if any. */
  #ttlFor(key: string, ttlMs: number | undefined): KeyTtl | undefined {
    if (ttlMs === undefined) return this.#router === undefined ? undefined : this.#categoryOf(key);
    const staleMs = this.#router?.hasGrace ? (this.#categoryOf(key)?.staleMs ?? 0) : 0;
    return { ttlMs, staleMs };
  }
}
