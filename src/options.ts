import type { KeyvStoreAdapter } from 'keyv';
import { type BreakerOptions, defaultBreakerOptions } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import type { MemoryTier, MemoryTierOptions } from './memory-tier.js';
import type { Primary } from './primary.js';
import type { ReconcileMode } from './reconciler.js';
import type { TtlCategoryOptions } from './ttl-categories.js';

/** Where reads go first. */
export type ReadPolicy = 'primary-first' | 'memory-first' | 'near-cache';

/**
 * What the store does when the primary turns out to be a new process that loaded data from disk
 * (an RDB snapshot or an AOF), which may hold values older than writes it acknowledged before.
 */
export type RestartRecovery = 'namespace' | 'own-writes';

/**
 * The key layout in Redis: `native`, the layout of the Keyv major driving the store (Keyv 5:
 * `ns::ns:key`, Keyv 6: `ns::key`, each what plain Keyv + `@keyv/redis` of that major writes), or
 * `keyv5`, Keyv 5's layout under Keyv 6 too, for a fleet moving from 5 to 6 one instance at a time.
 */
export type KeyLayoutOption = 'native' | 'keyv5';

/** Options of {@link TieredStore}. Durations are milliseconds. */
export interface TieredStoreOptions<C extends string = string> {
  /**
   * The source of truth: a Redis URL (`redis://`, `rediss://`, `valkey://`, `valkeys://`), a Redis
   * Cluster (`{ cluster: { rootNodes: ['redis://host:7000', ...] } }`) or a primary under Sentinel
   * (`{ sentinel: { name, sentinelRootNodes: [{ host, port }] } }`), for each of which the store
   * builds a fail-fast client; an existing `KeyvRedis` (on one Redis, a cluster or a Sentinel
   * client), any other Keyv storage adapter, or a ready {@link Primary} (a custom adapter, or a
   * scripted one in tests).
   */
  readonly primary:
    | string
    | {
        readonly cluster: {
          readonly rootNodes: ReadonlyArray<
            string | { readonly url: string; readonly username?: string; readonly password?: string }
          >;
          readonly username?: string;
          readonly password?: string;
        };
      }
    | {
        readonly sentinel: {
          readonly name: string;
          readonly sentinelRootNodes: ReadonlyArray<string | { readonly host: string; readonly port: number }>;
          readonly username?: string;
          readonly password?: string;
          readonly sentinelUsername?: string;
          readonly sentinelPassword?: string;
        };
      }
    | KeyvStoreAdapter
    | Primary;
  /**
   * The in-process fallback: bounds for a new one, or a `MemoryTier` to share between stores.
   * @default { max: 10000 }
   */
  readonly fallback?: MemoryTierOptions | MemoryTier;
  /**
   * `primary-first` asks the primary on every read; `memory-first` answers from a memory copy
   * confirmed within `memoryTtlMs` without a network call; `near-cache` answers from a memory copy
   * without a network call for as long as Redis has not reported a change to it (RESP3 client
   * tracking; Redis 6 or later, a URL primary), and behaves as `memory-first` where the primary
   * cannot report changes (the `near-cache:state` event says why).
   * @default 'primary-first'
   */
  readonly readPolicy?: ReadPolicy;
  /**
   * With `near-cache`: the silent-partition bound. A memory copy answers without a network call only
   * while the server has answered a heartbeat sent within this many ms (one is sent every third of
   * it); past it, every copy must be revalidated. The longest a copy can be served stale while its
   * connection looks open but delivers nothing (a black hole, a frozen proxy).
   * @default 300
   */
  readonly nearCacheLeaseMs?: number;
  /**
   * After the primary restarted from disk (see {@link RestartRecovery}): `namespace` (the first
   * instance to see the new process deletes this namespace's keys, leaving a marker so the others do
   * not repeat it: a cold namespace, and no instance reads a value older than one acknowledged before
   * the restart); `own-writes` (each instance reconciles only the keys it wrote recently: cheaper,
   * but another instance's keys may come back snapshot-old). A restart that loaded nothing costs
   * nothing either way.
   * @default 'namespace'
   */
  readonly restartRecovery?: RestartRecovery;
  /**
   * With `memory-first`: how long a memory copy answers without asking the primary, which is how
   * stale a read can be when another instance changed the key.
   * @default 1000
   */
  readonly memoryTtlMs?: number;
  /**
   * Deadline of every primary call, including one already written to a hung server.
   * @default 100
   */
  readonly operationTimeoutMs?: number;
  /**
   * With a URL primary: how long one connection attempt may take.
   * @default 1000
   */
  readonly connectTimeoutMs?: number;
  /**
   * With a URL primary: first reconnect delay, doubled on every failed attempt.
   * @default 50
   */
  readonly reconnectMinDelayMs?: number;
  /**
   * With a URL primary: longest reconnect delay, which bounds how long after Redis is back
   * the store notices (recovery target: under 250 ms). A refused connect costs Redis nothing.
   * @default 150
   */
  readonly reconnectMaxDelayMs?: number;
  /**
   * With a URL primary: the connection's name in `CLIENT LIST`.
   * @default 'keyv-failsafe'
   */
  readonly clientName?: string;
  /** TTLs by key, for writes that carry none. */
  readonly ttl?: TtlCategoryOptions<C>;
  /**
   * Report a write that reached memory but not the primary as a success. Off, `set` tells the
   * truth: `false` when only memory has the value.
   * @default false
   */
  readonly fallbackWritesSucceed?: boolean;
  /**
   * Most keys remembered for reconciliation after an outage; past it, their namespaces are
   * invalidated whole. Also how many recently written keys are reconciled after a primary restart.
   * @default 10000
   */
  readonly journalMaxKeys?: number;
  /**
   * How keys the primary missed are reconciled when it is back: deleted from it (`invalidate`,
   * safe with many writers) or rewritten from memory with their remaining TTL (`replay`).
   * @default 'invalidate'
   */
  readonly reconcile?: ReconcileMode;
  /**
   * `keyv`: Keyv serializes, the store keeps strings. `store`: for Keyv created with
   * `serialize: undefined, deserialize: undefined`, the store writes Keyv's format to the primary
   * itself and keeps deeply frozen objects in memory, so a memory hit costs no parsing. Values read
   * back are then frozen: copy before changing one.
   * @default 'keyv'
   */
  readonly serialization?: 'keyv' | 'store';
  /** When the circuit breaker opens and how it probes; see {@link BreakerOptions} for defaults. */
  readonly breaker?: Partial<BreakerOptions>;
  /**
   * Under Keyv 6: `'keyv5'` reads and writes Keyv 5's layout (`ns::ns:key`), so Keyv 5 and Keyv 6
   * instances share a warm cache during a rolling upgrade; switch it off (`'native'`, Keyv 6's
   * `ns::key`) once every instance runs Keyv 6. No effect under Keyv 5.
   * @default 'native'
   */
  readonly keyLayout?: KeyLayoutOption;
  /** Namespace, as Keyv's `namespace`; Keyv sets it on the store itself. */
  readonly namespace?: string;
  /** Time source for deadlines and TTLs. Tests inject one. */
  readonly clock?: Clock;
}

/** Options after defaults and validation. @internal */
export interface ResolvedOptions {
  readonly readPolicy: ReadPolicy;
  readonly memoryTtlMs: number;
  readonly nearCacheLeaseMs: number;
  readonly restartRecovery: RestartRecovery;
  readonly operationTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly reconnectMinDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly clientName: string | undefined;
  readonly fallbackWritesSucceed: boolean;
  readonly journalMaxKeys: number;
  readonly reconcile: ReconcileMode;
  readonly serialization: 'keyv' | 'store';
  readonly keyLayout: KeyLayoutOption;
  readonly breaker: BreakerOptions;
  readonly clock: Clock;
}

/**
 * Why 100 ms: a healthy Redis answers in 0.1-5 ms (loopback to LAN), so 100 ms is 20x the slow
 * end and rides out a GC pause or a 64 KB value, while a caller waiting on a hung server loses
 * at most a tenth of a second before the memory copy answers.
 */
export const DEFAULT_OPERATION_TIMEOUT_MS = 100;

/**
 * Longest duration a timer can wait: Node clamps a longer `setTimeout` to 1 ms, which would turn a
 * deadline of "never" into one of a millisecond (and a timer re-armed every millisecond).
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

function positive(value: unknown, option: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const ok = typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= max;
  if (!ok) throw new InvalidOptionError(option, value, `a positive integer up to ${max}`);
  return value;
}

/** A duration in ms that a timer waits for. */
function duration(value: unknown, option: string, fallback: number): number {
  return positive(value, option, fallback, MAX_TIMER_MS);
}

/** At least 3 ms: a heartbeat every third of the lease must be a timer of at least 1 ms. */
function leaseMs(value: unknown): number {
  const lease = duration(value, 'nearCacheLeaseMs', 300);
  if (lease < 3) throw new InvalidOptionError('nearCacheLeaseMs', lease, 'at least 3 (ms)');
  return lease;
}

function boolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, value, 'true or false');
  return value;
}

/** Every option name, checked by the compiler against {@link TieredStoreOptions} both ways. */
const optionNames = {
  primary: true,
  fallback: true,
  readPolicy: true,
  memoryTtlMs: true,
  nearCacheLeaseMs: true,
  restartRecovery: true,
  operationTimeoutMs: true,
  connectTimeoutMs: true,
  reconnectMinDelayMs: true,
  reconnectMaxDelayMs: true,
  clientName: true,
  ttl: true,
  fallbackWritesSucceed: true,
  journalMaxKeys: true,
  reconcile: true,
  serialization: true,
  keyLayout: true,
  breaker: true,
  namespace: true,
  clock: true,
} as const satisfies Record<keyof TieredStoreOptions, true>;
const knownOptions: ReadonlySet<string> = new Set(Object.keys(optionNames));

/** Applies defaults and validates everything but `primary`, `fallback` and `ttl`. @internal */
export function resolveOptions(options: TieredStoreOptions<string>): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    // A URL where the options belong (the `new KeyvRedis(url)` habit): the error hides its password.
    throw new InvalidOptionError('options', options, 'an object with at least `primary`, e.g. { primary: url }');
  }
  for (const name of Object.keys(options)) {
    // A misspelt option silently ignored is a default the user did not choose.
    // Its value is not shown: `{ url, password }` is a typical mistake, and a secret.
    if (!knownOptions.has(name)) {
      throw new InvalidOptionError(name, undefined, `one of ${[...knownOptions].join(', ')} (no such option)`, true);
    }
  }
  const readPolicy = options.readPolicy ?? 'primary-first';
  if (readPolicy !== 'primary-first' && readPolicy !== 'memory-first' && readPolicy !== 'near-cache') {
    throw new InvalidOptionError('readPolicy', readPolicy, "'primary-first', 'memory-first' or 'near-cache'");
  }
  const restartRecovery = options.restartRecovery ?? 'namespace';
  if (restartRecovery !== 'namespace' && restartRecovery !== 'own-writes') {
    throw new InvalidOptionError('restartRecovery', restartRecovery, "'namespace' or 'own-writes'");
  }
  const reconnectMinDelayMs = duration(options.reconnectMinDelayMs, 'reconnectMinDelayMs', 50);
  const reconnectMaxDelayMs = duration(options.reconnectMaxDelayMs, 'reconnectMaxDelayMs', 150);
  if (reconnectMaxDelayMs < reconnectMinDelayMs) {
    throw new InvalidOptionError(
      'reconnectMaxDelayMs',
      reconnectMaxDelayMs,
      `at least reconnectMinDelayMs (${reconnectMinDelayMs})`,
    );
  }
  const clientName = options.clientName ?? 'keyv-failsafe';
  if (typeof clientName !== 'string' || !/^[!-~]+$/.test(clientName)) {
    throw new InvalidOptionError('clientName', clientName, 'a non-empty string of printable characters without spaces');
  }
  const clock = options.clock ?? systemClock;
  if (
    typeof clock?.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw new InvalidOptionError('clock', clock, 'an object with now(), setTimeout() and clearTimeout()');
  }
  const reconcile = options.reconcile ?? 'invalidate';
  if (reconcile !== 'invalidate' && reconcile !== 'replay') {
    throw new InvalidOptionError('reconcile', reconcile, "'invalidate' or 'replay'");
  }
  const serialization = options.serialization ?? 'keyv';
  if (serialization !== 'keyv' && serialization !== 'store') {
    throw new InvalidOptionError('serialization', serialization, "'keyv' or 'store'");
  }
  const keyLayout = options.keyLayout ?? 'native';
  if (keyLayout !== 'native' && keyLayout !== 'keyv5') {
    throw new InvalidOptionError('keyLayout', keyLayout, "'native' or 'keyv5'");
  }
  if (options.namespace !== undefined && (typeof options.namespace !== 'string' || !options.namespace.isWellFormed())) {
    throw new InvalidOptionError('namespace', options.namespace, 'a string without lone surrogates');
  }
  return {
    readPolicy,
    memoryTtlMs: positive(options.memoryTtlMs, 'memoryTtlMs', 1_000),
    nearCacheLeaseMs: leaseMs(options.nearCacheLeaseMs),
    restartRecovery,
    operationTimeoutMs: duration(options.operationTimeoutMs, 'operationTimeoutMs', DEFAULT_OPERATION_TIMEOUT_MS),
    connectTimeoutMs: duration(options.connectTimeoutMs, 'connectTimeoutMs', 1_000),
    reconnectMinDelayMs,
    reconnectMaxDelayMs,
    clientName,
    fallbackWritesSucceed: boolean(options.fallbackWritesSucceed, 'fallbackWritesSucceed', false),
    journalMaxKeys: positive(options.journalMaxKeys, 'journalMaxKeys', 10_000),
    reconcile,
    serialization,
    keyLayout,
    breaker: resolveBreaker(options.breaker),
    clock,
  };
}

const breakerKeys = Object.keys(defaultBreakerOptions) as Array<keyof BreakerOptions>;

function resolveBreaker(options: Partial<BreakerOptions> | undefined): BreakerOptions {
  if (options === undefined) return defaultBreakerOptions;
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('breaker', options, `an object with any of ${breakerKeys.join(', ')}`);
  }
  for (const name of Object.keys(options)) {
    if (!(breakerKeys as string[]).includes(name)) {
      throw new InvalidOptionError(`breaker.${name}`, undefined, `one of ${breakerKeys.join(', ')}`, true);
    }
  }
  const d = defaultBreakerOptions;
  const failureRate = options.failureRate ?? d.failureRate;
  if (typeof failureRate !== 'number' || !(failureRate > 0 && failureRate <= 1)) {
    throw new InvalidOptionError('breaker.failureRate', failureRate, 'a number in (0, 1]');
  }
  const resolved: BreakerOptions = {
    failureThreshold: positive(options.failureThreshold, 'breaker.failureThreshold', d.failureThreshold),
    failureRate,
    minimumCalls: positive(options.minimumCalls, 'breaker.minimumCalls', d.minimumCalls),
    windowMs: duration(options.windowMs, 'breaker.windowMs', d.windowMs),
    cooldownMs: duration(options.cooldownMs, 'breaker.cooldownMs', d.cooldownMs),
    maxCooldownMs: duration(options.maxCooldownMs, 'breaker.maxCooldownMs', d.maxCooldownMs),
  };
  if (resolved.maxCooldownMs < resolved.cooldownMs) {
    throw new InvalidOptionError(
      'breaker.maxCooldownMs',
      resolved.maxCooldownMs,
      `at least breaker.cooldownMs (${resolved.cooldownMs})`,
    );
  }
  return Object.freeze(resolved);
}
