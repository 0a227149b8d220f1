import { randomUUID } from 'node:crypto';
import { defaultDeserialize } from '@keyv/serialize';
import type { Clock } from './clock.js';
import { keyvCodec } from './codec.js';
import { InvalidArgumentError } from './errors.js';
import type { KeyLayout } from './key-layout.js';
import type { MemoryTier } from './memory-tier.js';
import type { Primary } from './primary.js';
import { FAILED, type PrimaryCalls } from './primary-calls.js';
import type { Stats } from './stats.js';
import type { KeyTtl } from './ttl-categories.js';
import { checkKey, checkTtl } from './validate.js';

/** Options of `TieredStore.getOrSet`. */
export interface GetOrSetOptions {
  /** TTL of a loaded value, in ms; default: the key's TTL category, or none. */
  readonly ttl?: number;
  /**
   * Agree with the other instances through the primary that one of them loads a missing key while
   * the others wait for its value: `true`, or `{ ttlMs, waitMs }`. `ttlMs` (default 5000) bounds how
   * long a lock holder that crashed can make others wait; `waitMs` (default `ttlMs`) how long a
   * waiter waits before it loads the value itself. Without it, one load per key per process.
   */
  readonly lock?: boolean | { readonly ttlMs?: number; readonly waitMs?: number };
}

/** Produces the value of a missing key: the database query, the computation. */
export type Loader<T> = () => T | Promise<T>;

/** What `getOrSet` needs from the store: its own Keyv-level read and write, and the tiers. */
export interface LoadContext {
  readonly layout: KeyLayout;
  readonly memory: MemoryTier;
  readonly primary: Primary;
  readonly calls: PrimaryCalls;
  readonly clock: Clock;
  readonly stats: Stats;
  /** Values cross the store as objects (`serialization: 'store'`), not as Keyv's strings. */
  readonly objects: boolean;
  readonly major: () => 5 | 6 | undefined;
  /** The store's `get`/`set`, as Keyv calls them (store keys; Keyv 6: absolute expiry). */
  readonly get: (storeKey: string) => Promise<unknown>;
  readonly set: (storeKey: string, value: unknown, ttl: number | undefined) => Promise<boolean>;
  readonly categoryOf: (storeKey: string) => KeyTtl | undefined;
}

const DEFAULT_LOCK_TTL_MS = 5_000;
/** Waiting for another instance's value: the first poll soon, then at most this far apart. */
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 50;
/** Locks live outside every namespace, under a name no Keyv key has, and are only ever created with NX. */
const LOCK_PREFIX = 'keyv-failsafe:lock:';

interface LockOptions {
  readonly ttlMs: number;
  readonly waitMs: number;
}

function checkLock(lock: unknown): LockOptions | undefined {
  if (lock === undefined || lock === false) return undefined;
  if (lock === true) return { ttlMs: DEFAULT_LOCK_TTL_MS, waitMs: DEFAULT_LOCK_TTL_MS };
  if (lock === null || typeof lock !== 'object' || Array.isArray(lock)) {
    throw new InvalidArgumentError('options.lock', lock, 'true, false, or { ttlMs, waitMs }');
  }
  const { ttlMs, waitMs, ...rest } = lock as { ttlMs?: unknown; waitMs?: unknown };
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw new InvalidArgumentError(`options.lock.${extra}`, undefined, 'ttlMs or waitMs');
  const positive = (value: unknown, name: string, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 2 ** 31 - 1) {
      throw new InvalidArgumentError(`options.lock.${name}`, value, 'a positive integer of milliseconds');
    }
    return value;
  };
  const lockTtl = positive(ttlMs, 'ttlMs', DEFAULT_LOCK_TTL_MS);
  return { ttlMs: lockTtl, waitMs: positive(waitMs, 'waitMs', lockTtl) };
}

/**
 * The application value in Keyv's envelope, or `undefined` when there is none or (unless
 * `expiredToo`, for a stale copy) it has expired.
 */
function unwrap(raw: unknown, expiredToo = false): { value: unknown } | undefined {
  if (raw === undefined || raw === null) return undefined;
  let data: unknown = raw;
  if (typeof raw === 'string') {
    try {
      data = defaultDeserialize(raw);
    } catch {
      return undefined;
    }
  }
  if (data === null || typeof data !== 'object' || !('value' in data)) return undefined;
  const { value, expires } = data as { value: unknown; expires?: unknown };
  if (!expiredToo && typeof expires === 'number' && Date.now() > expires) return undefined;
  return { value };
}

/**
 * `getOrSet`: one loader call per key per process however many callers wait (single flight), one in
 * total with `lock` (a `SET NX PX` lock in the primary: the others poll for the holder's value, then,
 * after `waitMs`, load themselves), stale-while-revalidate and stale-if-error from the key's
 * category grace. Values are written as Keyv writes them, so `keyv.get(key)` reads them back.
 */
export class Loads {
  readonly #context: LoadContext;
  /** Loads in flight by physical key, with the stale copy (if any) that answers meanwhile. */
  readonly #flights = new Map<string, { load: Promise<unknown>; stale: { value: unknown } | undefined }>();

  constructor(context: LoadContext) {
    this.#context = context;
  }

  async getOrSet<T>(key: string, loader: Loader<T>, options: GetOrSetOptions = {}): Promise<T> {
    checkKey(key);
    if (typeof loader !== 'function')
      throw new InvalidArgumentError('loader', loader, 'a function returning the value');
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', options, 'an object { ttl, lock }');
    }
    const { ttl, lock, ...rest } = options;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new InvalidArgumentError(`options.${extra}`, undefined, 'ttl or lock');
    const ttlMs = checkTtl(ttl, 'options.ttl');
    const lockOptions = checkLock(lock);
    const { layout } = this.#context;
    const physical = layout.physicalOfApp(key);
    const storeKey = layout.storeKey(physical);

    const flight = this.#flights.get(physical);
    if (flight !== undefined) {
      // Stale-while-revalidate: while another caller reloads, the copy within its grace answers.
      return (flight.stale === undefined ? flight.load : flight.stale.value) as T;
    }
    // Taken before the read: a primary that no longer holds the key drops the memory copy.
    const stale = this.#stale(physical);
    const found = unwrap(await this.#context.get(storeKey));
    if (found !== undefined) return found.value as T;
    // Another caller may have started loading while this one read.
    const joined = this.#flights.get(physical);
    if (joined !== undefined) return (joined.stale === undefined ? joined.load : joined.stale.value) as T;
    const load = this.#load(physical, storeKey, loader, ttlMs, lockOptions, stale).finally(() => {
      this.#flights.delete(physical);
    });
    this.#flights.set(physical, { load, stale });
    return load as Promise<T>;
  }

  /** A memory copy past its expiry but within its category's stale-if-error grace. */
  #stale(physical: string): { value: unknown } | undefined {
    const entry = this.#context.memory.getStale(physical);
    return entry === undefined ? undefined : unwrap(entry.value, true);
  }

  async #load(
    physical: string,
    storeKey: string,
    loader: Loader<unknown>,
    ttlMs: number | undefined,
    lock: LockOptions | undefined,
    stale: { value: unknown } | undefined,
  ): Promise<unknown> {
    const lease = lock === undefined ? undefined : await this.#acquire(physical, storeKey, lock);
    if (lease !== undefined && 'value' in lease) return lease.value;
    const { stats } = this.#context;
    try {
      if (lease !== undefined && 'token' in lease) {
        // The previous holder may have written and released between our miss and our lock.
        const found = unwrap(await this.#context.get(storeKey));
        if (found !== undefined) return found.value;
      }
      stats.loaderCalls++;
      let value: unknown;
      try {
        value = await loader();
      } catch (error) {
        // Stale-if-error: the copy within its grace, as the store serves it when Redis fails.
        if (stale === undefined) throw error;
        stats.loaderStaleServes++;
        return stale.value;
      }
      // Keyv reads an undefined value as a miss: nothing to cache.
      if (value !== undefined) await this.#write(storeKey, value, ttlMs);
      return value;
    } finally {
      if (lease !== undefined && 'token' in lease) this.#release(physical, lease.token);
    }
  }

  /**
   * Takes the key's lock, or waits for the holder's value. Resolves `{ token }` (this instance
   * loads and releases), `{ value }` (the holder's value arrived), or `{}` (no lock to be had: the
   * primary is unavailable, or the wait ran out: load without one).
   */
  async #acquire(
    physical: string,
    storeKey: string,
    lock: LockOptions,
  ): Promise<{ token: string } | { value: unknown } | Record<string, never>> {
    const { primary, calls, clock, stats } = this.#context;
    const setIfAbsent = primary.setIfAbsent;
    if (setIfAbsent === undefined || !calls.usable) return {};
    const token = randomUUID();
    const lockKey = LOCK_PREFIX + physical;
    const take = () => calls.call('lock', lockKey, () => setIfAbsent.call(primary, lockKey, token, lock.ttlMs));
    const taken = await take();
    if (taken === FAILED) return {};
    if (taken) return { token };
    stats.lockWaits++;
    const until = clock.now() + lock.waitMs;
    for (let delay = POLL_MIN_MS; clock.now() < until; delay = Math.min(POLL_MAX_MS, delay * 2)) {
      await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), delay));
      const found = unwrap(await this.#context.get(storeKey));
      if (found !== undefined) return found;
      // The holder gave up without a value (its loader failed) or crashed and its lock expired.
      const retaken = await take();
      if (retaken === FAILED) return {};
      if (retaken) return { token };
    }
    return {};
  }

  #release(physical: string, token: string): void {
    const { primary, calls } = this.#context;
    const deleteIfEqual = primary.deleteIfEqual;
    if (deleteIfEqual === undefined || !calls.usable) return;
    const lockKey = LOCK_PREFIX + physical;
    // Not awaited: the caller has its value; a lock that is not released expires with its TTL.
    void calls.call('lock', lockKey, () => deleteIfEqual.call(primary, lockKey, token));
  }

  /** Writes `value` as Keyv would: its envelope, its TTL (explicit, else the key's category). */
  async #write(storeKey: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    const { categoryOf, objects, major, set } = this.#context;
    const ttl = ttlMs ?? categoryOf(storeKey)?.ttlMs;
    const expires = ttl === undefined ? undefined : Date.now() + ttl;
    const envelope = { value, expires };
    let payload: unknown = envelope;
    if (!objects) {
      try {
        payload = keyvCodec.encode(envelope);
      } catch (error) {
        throw new InvalidArgumentError(
          'loader value',
          value,
          `a value Keyv can serialize (${(error as Error).message})`,
        );
      }
    }
    await set(storeKey, payload, major() === 6 ? expires : ttl);
  }
}
