/**
 * The port between the tiering core and a concrete primary (adapters/redis-primary.ts,
 * adapters/keyv-primary.ts, or a scripted one in tests). Types only: an adapter imports nothing
 * else from the core, and the core knows no adapter but through `compose.ts`.
 *
 * Every key crossing the port is a physical key, as the core's `KeyLayout` built it: the adapter
 * stores it as it is. Implementations report every failure by rejecting, and sort what they
 * rejected with through {@link Primary.classify}; they never turn an outage into a miss. The core
 * adds the deadline, the breaker, the counting and the fallback.
 */

/** A value read from the primary and how long the primary will keep it. */
export interface PrimaryRead {
  readonly value: unknown;
  /** Remaining TTL in ms; `undefined` when the entry does not expire (or, with `fetchTtl`, is not known). */
  readonly ttlMs: number | undefined;
  /**
   * Present when the value did not say how long it lives: asks the primary (`undefined` for no
   * expiry). Until it answers, the memory copy is kept but not served, so that it can never outlive
   * the primary's.
   */
  readonly fetchTtl?: () => Promise<number | undefined>;
  /**
   * True when the value is Keyv's envelope without `expires`: Keyv wrote it without a TTL, so
   * only a TTL the store itself applied (a TTL category) can make the primary expire it.
   */
  readonly untimedEnvelope?: boolean;
}

/** One entry of a batch write. */
export interface PrimaryEntry {
  readonly key: string;
  readonly value: unknown;
  readonly ttlMs: number | undefined;
}

/** Bounds one round trip of a multi-step operation with the store's deadline. */
export type Step = <T>(operation: string, promise: Promise<T>) => Promise<T>;

/** Connection state changes a primary reports. */
export type PrimaryConnectionState = 'ready' | 'down';

/**
 * What an error an adapter rejected with means: `unavailable` (no connection, reset, refused: the
 * primary is not there), `command` (the server answered with an error: it is there) or `auth` (it
 * refused the credentials).
 */
export type PrimaryErrorKind = 'unavailable' | 'command' | 'auth';

/** Which keys a namespace-wide operation may touch: both a `SCAN MATCH` pattern and the proof. */
export interface KeyScope {
  /** Glob-escaped `SCAN MATCH` pattern. */
  readonly pattern: string;
  /** True for a key the store can prove it owns; nothing else is ever deleted or yielded. */
  readonly owns: (physicalKey: string) => boolean;
}

/** What a primary may read of the core's key layout. */
export interface LayoutView {
  readonly namespace: string | undefined;
  /** The key as Keyv handed it to the store, from a physical key. */
  storeKey(physicalKey: string): string;
  /** The physical key of a key as Keyv hands it to the store. */
  physicalKey(storeKey: string): string;
}

/**
 * What a primary reports to the near-cache (`readPolicy: 'near-cache'`): changes to keys under the
 * tracked prefix made by any other connection, in the order the server made them, on the connection
 * the store's own commands use (so they are ordered with the replies).
 */
export interface InvalidationListener {
  /** This physical key changed (written, deleted, expired, evicted); `null`: every key (FLUSHDB). */
  invalidated(key: string | null): void;
  /**
   * Tracking is armed on the current connection (`true`: every later change will be reported) or
   * lost (`false`: the connection went away, or the server refused tracking, with `reason`).
   */
  tracking(armed: boolean, reason: string): void;
}

/** Whether the primary can report invalidations, and if not, why. */
export type TrackingSupport = { readonly supported: true } | { readonly supported: false; readonly reason: string };

export interface Primary {
  /** Keyv's iterator wiring needs a known dialect such as `redis`. */
  readonly dialect: string | undefined;
  /** Between namespace and key in this primary's layout (`@keyv/redis`: its `keyPrefixSeparator`). */
  readonly separator: string;
  /** The namespace the adapter was built with, if any: the store adopts it. */
  readonly initialNamespace: string | undefined;
  /** The server, without credentials, for messages. */
  readonly safeName: string;
  /** Sorts an error this primary rejected with. */
  classify(error: unknown): PrimaryErrorKind;
  get(key: string): Promise<PrimaryRead | undefined>;
  getMany(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>>;
  set(key: string, value: unknown, ttlMs: number | undefined): Promise<void>;
  setMany(entries: readonly PrimaryEntry[]): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Whether each key existed (Keyv 6 reports per key; Keyv 5 whether any did). */
  deleteMany(keys: readonly string[]): Promise<boolean[]>;
  has(key: string): Promise<boolean>;
  hasMany(keys: readonly string[]): Promise<boolean[]>;
  /** Deletes every key of `scope` (and only keys `scope.owns`); `step` bounds each round trip. */
  clear(scope: KeyScope, step: Step): Promise<void>;
  /**
   * One round trip that proves the primary answers. Resolves the server's identity where it has
   * one (Redis's `run_id`, which changes on restart), else `undefined`.
   */
  probe(): Promise<string | undefined>;
  /** `[physicalKey, value]` of every key of `scope`; `step` bounds each round trip. */
  iterator(scope: KeyScope, step: Step): AsyncGenerator<[string, unknown], void>;
  /**
   * Keys matching a glob, a batch per round trip (`SCAN`, never `KEYS`), for warming the memory
   * tier. Optional: a primary without it cannot warm from itself.
   */
  scan?(pattern: string, count: number): AsyncGenerator<string[], void>;
  /** Values and remaining TTLs of keys, in one round trip. Optional, with `scan`. */
  readPhysical?(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>>;
  /**
   * Told the store's layout at construction and whenever its namespace changes: a primary that
   * namespaces keys itself (any Keyv store) maps physical keys back to its own with it.
   */
  useLayout?(layout: LayoutView): void;
  /** Starts connecting in the background, if the primary connects at all. Never blocks, never throws. */
  connect?(): void;
  /**
   * Drops the connection and connects anew: for a connection that stays open but answers nothing
   * (a peer that vanished without a reset), which no socket event will ever report.
   */
  reconnect?(): void;
  /**
   * Whether {@link track} can work with this primary as it is configured (a Redis connection in
   * RESP3 that receives push messages). Optional: a primary without it has no near-cache.
   */
  trackingSupport?(): TrackingSupport;
  /**
   * Reports changes to keys starting with `prefix` to `listener`, re-armed on every new connection;
   * called again with another prefix (a namespace change), replaces the previous one.
   */
  track?(prefix: string, listener: InvalidationListener): void;
  /**
   * One round trip on the tracking connection (`PING`): when it resolves, every change the server
   * made before it received the ping has been reported.
   */
  heartbeat?(): Promise<void>;
  /** `SET key value NX PX ttlMs`: true when this call created the key (a lock, a marker). */
  setIfAbsent?(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes `key` only if it still holds `value` (releases a lock this instance took). */
  deleteIfEqual?(key: string, value: string): Promise<boolean>;
  /**
   * Whether the server, since it started, loaded data from disk (an RDB snapshot or an AOF): then it
   * may hold values older than writes it acknowledged before it restarted. `undefined`: cannot tell.
   */
  loadedFromDisk?(): Promise<boolean | undefined>;
  disconnect(): Promise<void>;
  /** Called by the primary when its connection goes up or down. */
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;
}
