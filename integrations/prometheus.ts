import type {
  CircuitState,
  LatencyPath,
  NearCacheState,
  ObservedOperation,
  TieredStore,
  TieredStoreStats,
} from 'keyv-failsafe';
import { Counter, Gauge, register as globalRegistry, Histogram, type Registry } from 'prom-client';

/** Where and how a store's metrics are registered. */
export interface PrometheusOptions {
  /** @default prom-client's global registry */
  readonly registry?: Registry;
  /** Metric name prefix. @default 'keyv_failsafe_' */
  readonly prefix?: string;
  /** Value of the `store` label, to tell several stores apart in one registry. @default 'default' */
  readonly storeName?: string;
  /** Latency histogram buckets, in seconds. @default 50 µs to 2.5 s, covering memory hits to deadlines */
  readonly buckets?: readonly number[];
}

const defaultBuckets = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
const circuitStates: readonly CircuitState[] = ['closed', 'open', 'half-open'];
const nearCacheStates: readonly NearCacheState[] = ['live', 'lost', 'unsupported'];
const observedOperations: readonly ObservedOperation[] = ['get', 'set', 'delete'];
const latencyPaths: readonly LatencyPath[] = ['primary', 'memory', 'fallback', 'breaker-open'];

/**
 * Registers a store's metrics with prom-client: counters and gauges read from `store.stats()` when
 * the registry is scraped (nothing on the hot path), and a latency histogram fed by
 * `store.observe()`. Names follow Prometheus conventions (`_total`, `_seconds`, `_bytes`); labels
 * carry no connection details, so no secret can leak into them. Returns a function that
 * unregisters everything.
 *
 * Loaded only from `keyv-failsafe/prometheus`, so prom-client stays an optional peer dependency.
 */
/** One store registered on a registry, and the label that tells it apart. */
interface Member {
  readonly store: TieredStore;
  readonly label: string;
}

/** The metrics of one (registry, prefix): created with the first store, removed with the last. */
interface Family {
  readonly members: Set<Member>;
  readonly latency: Histogram;
  readonly transitions: Counter;
  readonly names: string[];
}

const families = new WeakMap<Registry, Map<string, Family>>();

/**
 * Registers a store's metrics with prom-client: counters and gauges read from `store.stats()` when
 * the registry is scraped (nothing on the hot path), and a latency histogram fed by
 * `store.observe()`. Names follow Prometheus conventions (`_total`, `_seconds`, `_bytes`); labels
 * carry no connection details, so no secret can leak into them. Several stores can share one
 * registry, told apart by `storeName`. Returns a function that unregisters the store (and the
 * metrics, with the last store).
 *
 * Loaded only from `keyv-failsafe/prometheus`, so prom-client stays an optional peer dependency.
 */
export function registerPrometheusMetrics(store: TieredStore, options: PrometheusOptions = {}): () => void {
  const registry = options.registry ?? globalRegistry;
  const prefix = options.prefix ?? 'keyv_failsafe_';
  const label = options.storeName ?? 'default';
  let byPrefix = families.get(registry);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    families.set(registry, byPrefix);
  }
  let family = byPrefix.get(prefix);
  if (family === undefined) {
    family = createFamily(registry, prefix, options.buckets ?? defaultBuckets);
    byPrefix.set(prefix, family);
  }
  for (const member of family.members) {
    if (member.label === label) {
      throw new Error(
        `keyv-failsafe: a store named ${JSON.stringify(label)} is already registered; give each store its own storeName`,
      );
    }
  }
  const member: Member = { store, label };
  family.members.add(member);
  const { latency, transitions } = family;
  const detach = store.observe({
    latency: (operation, path, seconds) => latency.observe({ store: label, operation, path }, seconds),
  });
  const onTransition = (event: { to: CircuitState }) => transitions.inc({ store: label, to: event.to });
  store.on('circuit:state', onTransition);
  const current = family;
  return () => {
    detach();
    store.off('circuit:state', onTransition);
    current.members.delete(member);
    // Event-fed series are removed one by one; the scrape-fed ones simply stop being reported.
    for (const operation of observedOperations) {
      for (const path of latencyPaths) latency.remove({ store: label, operation, path });
    }
    for (const to of circuitStates) transitions.remove({ store: label, to });
    if (current.members.size > 0) return;
    for (const name of current.names) registry.removeSingleMetric(name);
    byPrefix.delete(prefix);
  };
}

type Series = Array<[Record<string, string>, number]>;

function createFamily(registry: Registry, prefix: string, buckets: readonly number[]): Family {
  const members = new Set<Member>();
  const names: string[] = [];
  const name = (suffix: string) => {
    names.push(prefix + suffix);
    return prefix + suffix;
  };

  const latency = new Histogram({
    name: name('operation_duration_seconds'),
    help: 'Latency of get, set and delete by the path that answered: primary, memory, fallback or breaker-open.',
    labelNames: ['store', 'operation', 'path'],
    buckets: [...buckets],
    registers: [registry],
  });
  const transitions = new Counter({
    name: name('circuit_transitions_total'),
    help: 'Circuit breaker transitions, by the state entered.',
    labelNames: ['store', 'to'],
    registers: [registry],
  });

  // A value the store keeps, read on each scrape: counters are the store's totals (monotonic), gauges
  // its current figures. Reset first, so that a store that was unregistered stops being reported.
  const scraped = (
    kind: 'counter' | 'gauge',
    suffix: string,
    help: string,
    labelNames: string[],
    read: (store: TieredStore) => Series,
  ) => {
    const config = { name: name(suffix), help, labelNames: ['store', ...labelNames], registers: [registry] };
    if (kind === 'counter') {
      new Counter({
        ...config,
        collect() {
          this.reset();
          for (const member of members) {
            for (const [labels, value] of read(member.store)) this.inc({ store: member.label, ...labels }, value);
          }
        },
      });
      return;
    }
    new Gauge({
      ...config,
      collect() {
        this.reset();
        for (const member of members) {
          for (const [labels, value] of read(member.store)) this.set({ store: member.label, ...labels }, value);
        }
      },
    });
  };
  const mirrored = (suffix: string, help: string, labelNames: string[], read: (store: TieredStore) => Series) =>
    scraped('counter', suffix, help, labelNames, read);
  const gauge = (suffix: string, help: string, labelNames: string[], read: (store: TieredStore) => Series) =>
    scraped('gauge', suffix, help, labelNames, read);

  mirrored('hits_total', 'Reads answered with a value, by the tier that answered.', ['tier'], (store) => {
    const s = store.stats();
    return [
      [{ tier: 'primary' }, s.hits.primary],
      [{ tier: 'memory' }, s.hits.memory],
    ];
  });
  const simple: Array<[string, string, (s: TieredStoreStats) => number]> = [
    ['misses_total', 'Reads that found nothing.', (s) => s.misses],
    ['primary_failures_total', 'Primary calls that failed, timeouts included.', (s) => s.primaryFailures],
    ['primary_timeouts_total', 'Primary calls abandoned at the deadline.', (s) => s.timeouts],
    ['fallback_serves_total', 'Reads answered from memory because the primary failed.', (s) => s.fallbackServes],
    ['stale_serves_total', 'Expired copies served within stale-if-error grace.', (s) => s.staleServes],
    ['short_circuits_total', 'Calls answered by memory while the breaker was open.', (s) => s.shortCircuits],
    ['degraded_writes_total', 'Writes and deletes that reached memory but not the primary.', (s) => s.degradedWrites],
    ['oversize_total', 'Values too large for the memory tier, kept in the primary only.', (s) => s.oversize],
    ['reconciled_keys_total', 'Keys reconciled with the primary after outages.', (s) => s.reconciled.keys],
    ['reconciliations_total', 'Completed reconciliations.', (s) => s.reconciled.runs],
    ['primary_restarts_total', 'Primary restarts detected (Redis run_id changed).', (s) => s.restarts],
    ['journal_overflows_total', 'Keys the outage journal could not record.', (s) => s.journal.overflows],
    [
      'near_cache_verified_hits_total',
      'near-cache: reads answered by a verified copy, without a network call.',
      (s) => s.nearCache.verifiedHits,
    ],
    [
      'near_cache_revalidations_total',
      'near-cache: reads that found an unverified copy and asked the primary again.',
      (s) => s.nearCache.revalidations,
    ],
    [
      'near_cache_invalidations_total',
      'near-cache: invalidations Redis reported (changes by anyone else, expiry, eviction, FLUSHDB).',
      (s) => s.nearCache.invalidations,
    ],
    ['loader_calls_total', 'getOrSet: loader calls made by this process.', (s) => s.getOrSet.loaderCalls],
    ['lock_waits_total', "getOrSet: callers that waited for another instance's load.", (s) => s.getOrSet.lockWaits],
    [
      'loader_stale_serves_total',
      'getOrSet: stale copies served because the loader failed.',
      (s) => s.getOrSet.staleServes,
    ],
  ];
  for (const [suffix, help, read] of simple) mirrored(suffix, help, [], (store) => [[{}, read(store.stats())]]);
  mirrored('memory_evictions_total', 'Memory entries dropped, by reason.', ['reason'], (store) => [
    [{ reason: 'capacity' }, store.fallback.evictions],
    [{ reason: 'expired' }, store.fallback.expirations],
  ]);
  gauge('circuit_state', 'The breaker state: 1 for the current one.', ['state'], (store) =>
    circuitStates.map((state) => [{ state }, store.circuitState === state ? 1 : 0]),
  );
  gauge('near_cache_state', 'near-cache: 1 for the current state (live, lost, unsupported).', ['state'], (store) =>
    nearCacheStates.map((state) => [{ state }, store.nearCacheState === state ? 1 : 0]),
  );
  gauge('journal_keys', 'Keys awaiting reconciliation with the primary.', [], (store) => [
    [{}, store.stats().journal.size],
  ]);
  gauge('memory_entries', 'Entries in the memory tier.', [], (store) => [[{}, store.fallback.size]]);
  gauge('memory_bytes', 'Bytes in the memory tier, as counted for maxSize (0 when unbounded).', [], (store) => [
    [{}, store.fallback.calculatedSize],
  ]);
  return { members, latency, transitions, names };
}
