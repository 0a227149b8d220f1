import type { Attributes, Meter } from '@opentelemetry/api';
import type { CircuitState, TieredStore } from 'keyv-failsafe';

/** How a store's OpenTelemetry instruments are labelled. */
export interface OpenTelemetryOptions {
  /** Value of the `store` attribute, to tell several stores apart. @default 'default' */
  readonly storeName?: string;
}

const circuitStates: readonly CircuitState[] = ['closed', 'open', 'half-open'];

/**
 * Registers a store's metrics on an OpenTelemetry `Meter` (from `@opentelemetry/api`, an optional
 * peer dependency: this module is loaded only from `keyv-failsafe/opentelemetry`). Counters and
 * gauges are observable instruments read from `store.stats()` at collection time, so they cost
 * nothing on the hot path; the latency histogram is fed by `store.observe()`. Attributes carry no
 * connection details. Returns a function that detaches everything.
 */
export function registerOpenTelemetryMetrics(
  store: TieredStore,
  meter: Meter,
  options: OpenTelemetryOptions = {},
): () => void {
  const base: Attributes = { store: options.storeName ?? 'default' };
  const duration = meter.createHistogram('keyv_failsafe.operation.duration', {
    description: 'Latency of get, set and delete by the path that answered: primary, memory, fallback or breaker-open.',
    unit: 's',
  });
  const detach = store.observe({
    latency: (operation, path, seconds) => duration.record(seconds, { ...base, operation, path }),
  });

  const counter = (name: string, description: string) => meter.createObservableCounter(name, { description });
  const hits = counter('keyv_failsafe.hits', 'Reads answered with a value, by the tier that answered.');
  const misses = counter('keyv_failsafe.misses', 'Reads that found nothing.');
  const failures = counter('keyv_failsafe.primary.failures', 'Primary calls that failed, timeouts included.');
  const timeouts = counter('keyv_failsafe.primary.timeouts', 'Primary calls abandoned at the deadline.');
  const fallbackServes = counter(
    'keyv_failsafe.fallback.serves',
    'Reads answered from memory because the primary failed.',
  );
  const staleServes = counter('keyv_failsafe.stale.serves', 'Expired copies served within stale-if-error grace.');
  const shortCircuits = counter('keyv_failsafe.short_circuits', 'Calls answered by memory while the breaker was open.');
  const degradedWrites = counter('keyv_failsafe.degraded_writes', 'Writes that reached memory but not the primary.');
  const evictions = counter('keyv_failsafe.memory.evictions', 'Memory entries dropped, by reason.');
  const reconciled = counter('keyv_failsafe.reconciled.keys', 'Keys reconciled with the primary after outages.');
  const restarts = counter('keyv_failsafe.primary.restarts', 'Primary restarts detected.');
  const nearCache = counter(
    'keyv_failsafe.near_cache.events',
    'near-cache: verified hits, revalidations and invalidations received, by kind.',
  );
  const loads = counter('keyv_failsafe.get_or_set', 'getOrSet: loader calls, lock waits and stale serves, by kind.');
  const nearCacheState = meter.createObservableGauge('keyv_failsafe.near_cache.state', {
    description: 'near-cache: 1 for the current state (live, lost, unsupported).',
  });
  const circuit = meter.createObservableGauge('keyv_failsafe.circuit.state', {
    description: 'The breaker state: 1 for the current one.',
  });
  const journal = meter.createObservableGauge('keyv_failsafe.journal.keys', {
    description: 'Keys awaiting reconciliation with the primary.',
  });
  const entries = meter.createObservableGauge('keyv_failsafe.memory.entries', {
    description: 'Entries in the memory tier.',
  });
  const bytes = meter.createObservableGauge('keyv_failsafe.memory.size', {
    description: 'Bytes in the memory tier, as counted for maxSize.',
    unit: 'By',
  });
  const observables = [
    hits,
    misses,
    failures,
    timeouts,
    fallbackServes,
    staleServes,
    shortCircuits,
    degradedWrites,
    evictions,
    reconciled,
    restarts,
    nearCache,
    loads,
    nearCacheState,
    circuit,
    journal,
    entries,
    bytes,
  ];

  // One callback for all: one stats() snapshot per collection, consistent across instruments.
  const callback = (result: { observe(o: unknown, v: number, a?: Attributes): void }) => {
    const s = store.stats();
    const observe = (instrument: unknown, value: number, attributes: Attributes = {}) =>
      result.observe(instrument, value, { ...base, ...attributes });
    observe(hits, s.hits.primary, { tier: 'primary' });
    observe(hits, s.hits.memory, { tier: 'memory' });
    observe(misses, s.misses);
    observe(failures, s.primaryFailures);
    observe(timeouts, s.timeouts);
    observe(fallbackServes, s.fallbackServes);
    observe(staleServes, s.staleServes);
    observe(shortCircuits, s.shortCircuits);
    observe(degradedWrites, s.degradedWrites);
    observe(evictions, store.fallback.evictions, { reason: 'capacity' });
    observe(evictions, store.fallback.expirations, { reason: 'expired' });
    observe(reconciled, s.reconciled.keys);
    observe(restarts, s.restarts);
    observe(nearCache, s.nearCache.verifiedHits, { kind: 'verified_hit' });
    observe(nearCache, s.nearCache.revalidations, { kind: 'revalidation' });
    observe(nearCache, s.nearCache.invalidations, { kind: 'invalidation' });
    observe(loads, s.getOrSet.loaderCalls, { kind: 'loader_call' });
    observe(loads, s.getOrSet.lockWaits, { kind: 'lock_wait' });
    observe(loads, s.getOrSet.staleServes, { kind: 'stale_serve' });
    for (const state of ['live', 'lost', 'unsupported'] as const) {
      observe(nearCacheState, s.nearCache.state === state ? 1 : 0, { state });
    }
    for (const state of circuitStates) observe(circuit, s.circuit === state ? 1 : 0, { state });
    observe(journal, s.journal.size);
    observe(entries, store.fallback.size);
    observe(bytes, store.fallback.calculatedSize);
  };
  const batch = callback as unknown as Parameters<Meter['addBatchObservableCallback']>[0];
  meter.addBatchObservableCallback(batch, observables);
  return () => {
    detach();
    meter.removeBatchObservableCallback(batch, observables);
  };
}
