import type { CircuitState, TransitionReason } from './circuit-breaker.js';
import type { PrimaryFailure } from './errors.js';
import type { NearCacheStateEvent } from './near-cache.js';
import type { PrimaryConnectionState } from './primary.js';
import type { ReconcileReport } from './reconciler.js';
import type { WarmProgressEvent } from './warm.js';

/** Every store operation that can reach the primary. */
export type Operation =
  | 'get'
  | 'getMany'
  | 'set'
  | 'setMany'
  | 'delete'
  | 'deleteMany'
  | 'has'
  | 'hasMany'
  | 'clear'
  | 'iterator'
  | 'disconnect'
  | 'probe'
  | 'reconcile'
  | 'warm'
  | 'lock';

/** Payload of `primary:failure`: one failed primary call, counted once. */
export interface PrimaryFailureEvent {
  readonly operation: Operation;
  /** A `PrimaryFailure`: `E_PRIMARY_TIMEOUT`, `E_PRIMARY_UNAVAILABLE` or `E_PRIMARY_COMMAND`, with the client's error as `cause`. */
  readonly error: PrimaryFailure;
  /** Physical keys involved, when the operation has any. */
  readonly keys: readonly string[];
}

/** Payload of `fallback:serve`: a read answered from memory because the primary failed. */
export interface FallbackServeEvent {
  readonly operation: Operation;
  /** Physical keys served from memory. */
  readonly keys: readonly string[];
}

/** Payload of `primary:connection`: the primary's connection went up or down. */
export interface PrimaryConnectionEvent {
  readonly state: PrimaryConnectionState;
  /** What brought it down, when known (e.g. `ECONNREFUSED`, `WRONGPASS`). Never holds the password. */
  readonly error?: unknown;
}

/** Payload of `circuit:state`: the breaker moved. */
export interface CircuitStateEvent {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: TransitionReason;
}

/** Payload of `primary:restart`: the primary is a new process (Redis `run_id` changed). */
export interface PrimaryRestartEvent {
  readonly serverId: string;
  /** Keys this instance wrote recently, now reconciled because the new process may have older copies. */
  readonly keys: number;
  /** Namespaces invalidated whole because more keys were written than could be remembered. */
  readonly namespaces: number;
}

/** Payload of `restart:recovered`. */
export interface RestartRecoveredEvent {
  readonly serverId: string;
  readonly namespace: string;
}

/**
 * The store's events, `domain:verb`. The store never emits `error`: an outage is absorbed, counted
 * and reported through these, so an application without listeners cannot be crashed by one.
 */
export interface TieredStoreEvents {
  'primary:failure': [PrimaryFailureEvent];
  'fallback:serve': [FallbackServeEvent];
  'primary:connection': [PrimaryConnectionEvent];
  'primary:restart': [PrimaryRestartEvent];
  'circuit:state': [CircuitStateEvent];
  'reconcile:done': [ReconcileReport];
  'warm:progress': [WarmProgressEvent];
  /**
   * After a restart from disk (`restartRecovery: 'namespace'`): this instance was the first to see
   * the new process and deleted the namespace's keys (`namespace` is its physical prefix).
   */
  'restart:recovered': [RestartRecoveredEvent];
  /** `readPolicy: 'near-cache'`: verification became live, was lost, or is not available (then `memory-first`). */
  'near-cache:state': [NearCacheStateEvent];
  /** Declared because Keyv subscribes to it; never emitted by the store. */
  error: [unknown];
}

/**
 * Which path answered a call: `primary` (the primary answered), `memory` (a `memory-first` hit),
 * `fallback` (memory answered because the primary failed or had not been reconciled) or
 * `breaker-open` (memory answered without trying the primary).
 */
export type LatencyPath = 'primary' | 'memory' | 'fallback' | 'breaker-open';

/** The operations whose latency observers receive. */
export type ObservedOperation = 'get' | 'set' | 'delete';

/** Receives per-call latencies; see `TieredStore.observe`. Must be cheap: it runs on every call. */
export interface StoreObserver {
  latency(operation: ObservedOperation, path: LatencyPath, seconds: number): void;
}
