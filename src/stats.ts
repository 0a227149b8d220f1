import type { CircuitState } from './circuit-breaker.js';
import type { OutageJournal } from './journal.js';
import type { MemoryTier } from './memory-tier.js';
import type { NearCacheState } from './near-cache.js';

/** A snapshot of the store's counters since construction. */
export interface TieredStoreStats {
  /** Reads answered with a value, by the tier that answered. `memory` includes fallback serves. */
  readonly hits: { readonly primary: number; readonly memory: number };
  /** Reads that found nothing in the tier that was authoritative for them. */
  readonly misses: number;
  /** Primary calls that failed for any reason, timeouts included. */
  readonly primaryFailures: number;
  /** Primary calls abandoned at `operationTimeoutMs` (a subset of `primaryFailures`). */
  readonly timeouts: number;
  /** Reads answered from memory because the primary failed. */
  readonly fallbackServes: number;
  /** Writes and deletes that reached memory but not the primary. */
  readonly degradedWrites: number;
  /** Memory entries dropped to respect `fallback.max` / `fallback.maxSize`. */
  readonly evictions: number;
  /** Values larger than `fallback.maxEntrySize`, kept in the primary only. */
  readonly oversize: number;
  /** Calls answered by memory without trying the primary, because the breaker was open. */
  readonly shortCircuits: number;
  /** Reads answered with an expired copy within its category's stale-if-error grace. */
  readonly staleServes: number;
  /** Keys awaiting reconciliation with the primary, and journal overflows. */
  readonly journal: { readonly size: number; readonly overflows: number };
  /** Keys reconciled with the primary after outages, and completed reconciliations. */
  readonly reconciled: { readonly keys: number; readonly runs: number };
  /** Primary restarts detected (Redis `run_id` changed). */
  readonly restarts: number;
  /** The breaker's state now. */
  readonly circuit: CircuitState;
  /** `readPolicy: 'near-cache'`: its state now (`undefined` under another policy) and its counters. */
  readonly nearCache: {
    readonly state: NearCacheState | undefined;
    /** Reads answered by a verified copy, without a network call (included in `hits.memory`). */
    readonly verifiedHits: number;
    /** Reads that found a copy that was no longer verified, and asked the primary again. */
    readonly revalidations: number;
    /** Invalidations Redis reported (keys changed by anyone else, expiry, eviction, FLUSHDB). */
    readonly invalidations: number;
  };
  /** `getOrSet`: loader calls made by this process, and callers that waited for another instance's load. */
  readonly getOrSet: { readonly loaderCalls: number; readonly lockWaits: number; readonly staleServes: number };
}

/**
 * Plain integer counters, incremented on the hot path. Deliberately nothing heavier: histograms
 * and exporters read these, they do not replace them.
 * @internal
 */
export class Stats {
  primaryHits = 0;
  memoryHits = 0;
  misses = 0;
  primaryFailures = 0;
  timeouts = 0;
  fallbackServes = 0;
  degradedWrites = 0;
  shortCircuits = 0;
  staleServes = 0;
  reconciledKeys = 0;
  reconciliations = 0;
  restarts = 0;
  verifiedHits = 0;
  revalidations = 0;
  invalidations = 0;
  loaderCalls = 0;
  lockWaits = 0;
  loaderStaleServes = 0;
}

/** The public snapshot of the counters, with what the memory tier and the journal count themselves. @internal */
export function snapshot(
  s: Stats,
  memory: MemoryTier,
  journal: OutageJournal,
  circuit: CircuitState,
  nearCache: NearCacheState | undefined,
): TieredStoreStats {
  return {
    hits: { primary: s.primaryHits, memory: s.memoryHits },
    misses: s.misses,
    primaryFailures: s.primaryFailures,
    timeouts: s.timeouts,
    fallbackServes: s.fallbackServes,
    degradedWrites: s.degradedWrites,
    evictions: memory.evictions,
    oversize: memory.oversize,
    shortCircuits: s.shortCircuits,
    staleServes: s.staleServes,
    journal: { size: journal.size, overflows: journal.overflows },
    reconciled: { keys: s.reconciledKeys, runs: s.reconciliations },
    restarts: s.restarts,
    circuit,
    nearCache: {
      state: nearCache,
      verifiedHits: s.verifiedHits,
      revalidations: s.revalidations,
      invalidations: s.invalidations,
    },
    getOrSet: { loaderCalls: s.loaderCalls, lockWaits: s.lockWaits, staleServes: s.loaderStaleServes },
  };
}
