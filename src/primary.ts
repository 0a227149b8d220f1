/**
 * The contract between the tiering core and a concrete primary (adapters/redis-primary.ts,
 * adapters/keyv-primary.ts). Implementations report every failure by rejecting; they never turn
 * an outage into a miss. The core adds the deadline, the counting and the fallback.
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

/** One entry of a batch write, key as the caller gave it (the primary applies the namespace). */
export interface PrimaryEntry {
  readonly key: string;
  readonly value: unknown;
  readonly ttlMs: number | undefined;
}

/** An entry addressed by its physical key, for reconciliation. */
export interface PhysicalEntry {
  readonly physicalKey: string;
  readonly value: unknown;
  readonly ttlMs: number | undefined;
}

/** Bounds one round trip of a multi-step operation with the store's deadline. */
export type Step = <T>(operation: string, promise: Promise<T>) => Promise<T>;

/** Connection state changes a primary reports, for events and (later) the circuit breaker. */
export type PrimaryConnectionState = 'ready' | 'down';

export interface Primary {
  /** Keyv's iterator wiring needs a known dialect such as `redis`. */
  readonly dialect: string | undefined;
  /** The namespace applied to every key, in the primary's own layout. */
  namespace: string | undefined;
  /** The key as the primary stores it, which the memory tier reuses so the two never disagree. */
  physicalKey(key: string): string;
  get(key: string): Promise<PrimaryRead | undefined>;
  getMany(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>>;
  set(key: string, value: unknown, ttlMs: number | undefined): Promise<void>;
  setMany(entries: readonly PrimaryEntry[]): Promise<void>;
  delete(key: string): Promise<boolean>;
  deleteMany(keys: readonly string[]): Promise<boolean>;
  has(key: string): Promise<boolean>;
  hasMany(keys: readonly string[]): Promise<boolean[]>;
  /** Deletes every key of `namespace` (`undefined`: keys without one); `step` bounds each round trip. */
  clear(namespace: string | undefined, step: Step): Promise<void>;
  /**
   * One round trip that proves the primary answers. Resolves the server's identity where it has
   * one (Redis's `run_id`, which changes on restart), else `undefined`.
   */
  probe(): Promise<string | undefined>;
  /** Deletes physical keys (reconciliation). */
  invalidate(physicalKeys: readonly string[]): Promise<void>;
  /** Writes physical keys with their remaining TTL (reconciliation in `replay` mode). */
  restore(entries: readonly PhysicalEntry[]): Promise<void>;
  iterator(namespace: string | undefined): AsyncGenerator<[string, unknown], void>;
  /**
   * Physical keys matching a glob, a batch per round trip (`SCAN`, never `KEYS`), for warming the
   * memory tier. Optional: a primary without it cannot warm from itself.
   */
  scan?(pattern: string, count: number): AsyncGenerator<string[], void>;
  /** Values and remaining TTLs of physical keys, in one round trip. Optional, with `scan`. */
  readPhysical?(physicalKeys: readonly string[]): Promise<Array<PrimaryRead | undefined>>;
  /** Starts connecting in the background, if the primary connects at all. Never blocks, never throws. */
  connect?(): void;
  /**
   * Drops the connection and connects anew: for a connection that stays open but answers nothing
   * (a peer that vanished without a reset), which no socket event will ever report.
   */
  reconnect?(): void;
  disconnect(): Promise<void>;
  /** Called by the primary when its connection goes up or down. */
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;
}
