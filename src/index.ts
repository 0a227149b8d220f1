export type { BreakerOptions, CircuitState, TransitionReason } from './circuit-breaker.js';
export { type Clock, systemClock } from './clock.js';
export type { Duration } from './duration.js';
export {
  InvalidArgumentError,
  InvalidOptionError,
  NamespaceRequiredError,
  PrimaryAuthError,
  PrimaryCommandError,
  PrimaryFailure,
  PrimaryTimeoutError,
  PrimaryUnavailableError,
  TieredStoreError,
  type TieredStoreErrorCode,
  UnknownTtlCategoryError,
} from './errors.js';
export type {
  CircuitStateEvent,
  FallbackServeEvent,
  LatencyPath,
  ObservedOperation,
  Operation,
  PrimaryConnectionEvent,
  PrimaryFailureEvent,
  PrimaryRestartEvent,
  StoreObserver,
  TieredStoreEvents,
} from './events.js';
export type { GetOrSetOptions, Loader } from './get-or-set.js';
export { ENTRY_OVERHEAD_BYTES, type MemoryEntry, MemoryTier, type MemoryTierOptions } from './memory-tier.js';
export type { NearCacheState, NearCacheStateEvent } from './near-cache.js';
export {
  DEFAULT_OPERATION_TIMEOUT_MS,
  type KeyLayoutOption,
  type ReadPolicy,
  type RestartRecovery,
  type TieredStoreOptions,
} from './options.js';
export type {
  InvalidationListener,
  KeyScope,
  LayoutView,
  Primary,
  PrimaryConnectionState,
  PrimaryEntry,
  PrimaryErrorKind,
  PrimaryRead,
  Step,
  TrackingSupport,
} from './primary.js';
export type { ReconcileMode, ReconcileReport } from './reconciler.js';
export type { TieredStoreStats } from './stats.js';
export { TieredStore, type TieredStoreEntry } from './tiered-store.js';
export {
  type CategoryResolver,
  defineTtlCategories,
  type TtlCategories,
  type TtlCategoryOptions,
  type TtlRule,
} from './ttl-categories.js';
export type { WarmEntry, WarmLoader, WarmOptions, WarmProgressEvent, WarmReport } from './warm.js';
