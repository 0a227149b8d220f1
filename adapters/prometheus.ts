import { Counter, Gauge, register as globalRegistry, Histogram, type Registry } from 'prom-client';
import type { CircuitState } from '../src/circuit-breaker.js';
import type { TieredStore } from '../src/tiered-store.js';

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

/**
 * Registers a store's metrics with prom-client: counters and gauges read from `store.stats()` when
 * the registry is scraped (nothing on the hot path), and a latency histogram fed by
 * `store.observe()`. Names follow Prometheus conventions (`_total`, `_seconds`, `_bytes`); labels
 * carry no connection details, so no secret can leak into them. Returns a function that
 * unregisters everything.
 *
 * Loaded only from `keyv-failsafe/prometheus`, so prom-client stays an optional peer dependency.
 */
export function registerPrometheusMetrics(store: TieredStore, options: PrometheusOptions = {}): () => void {
  const registry = options.registry ?? globalRegistry;
  const prefix = options.prefix ?? 'keyv_failsafe_';
  const storeLabel = { store: options.storeName ?? 'default' };
  const registered: string[] = [];
  const name = (suffix: string) => {
    registered.push(prefix + suffix);
    return prefix + suffix;
  };

  const latency = new Histogram({
    name: name('operation_duration_seconds'),
    help: 'Latency of get, set and delete by the path that answered: primary, memory, fallback or breaker-open.',
    labelNames: ['store', 'operation', 'path'],
    buckets: [...(options.buckets ?? defaultBuckets)],
    registers: [registry],
  });
  const detach = store.observe({
    latency: (operation, path, seconds) => latency.observe({ ...storeLabel, operation, path }, seconds),
  });

  // A counter kept by the store, exported as a Prometheus counter: increased by the difference on scrape.
  const mirrored = (
    suffix: string,
    help: string,
    labelNames: string[],
    read: () => Array<[Record<string, string>, number]>,
  ) => {
    const last = new Map<string, number>();
    new Counter({
      name: name(suffix),
      help,
      labelNames: ['store', ...labelNames],
      registers: [registry],
      collect() {
        for (const [labels, value] of read()) {
          const key = JSON.stringify(labels);
          const delta = value - (last.get(key) ?? 0);
          last.set(key, value);
          if (delta > 0) this.inc({ ...storeLabel, ...labels }, delta);
        }
      },
    });
  };
  const gauge = (
    suffix: string,
    help: string,
    labelNames: string[],
    read: () => Array<[Record<string, string>, number]>,
  ) =>
    new Gauge({
      name: name(suffix),
      help,
      labelNames: ['store', ...labelNames],
      registers: [registry],
      collect() {
        for (const [labels, value] of read()) this.set({ ...storeLabel, ...labels }, value);
      },
    });

  const stats = () => store.stats();
  mirrored('hits_total', 'Reads answered with a value, by the tier that answered.', ['tier'], () => {
    const s = stats();
    return [
      [{ tier: 'primary' }, s.hits.primary],
      [{ tier: 'memory' }, s.hits.memory],
    ];
  });
  const simple: Array<[string, string, () => number]> = [
    ['misses_total', 'Reads that found nothing.', () => stats().misses],
    ['primary_failures_total', 'Primary calls that failed, timeouts included.', () => stats().primaryFailures],
    ['primary_timeouts_total', 'Primary calls abandoned at the deadline.', () => stats().timeouts],
    ['fallback_serves_total', 'Reads answered from memory because the primary failed.', () => stats().fallbackServes],
    ['stale_serves_total', 'Expired copies served within stale-if-error grace.', () => stats().staleServes],
    ['short_circuits_total', 'Calls answered by memory while the breaker was open.', () => stats().shortCircuits],
    [
      'degraded_writes_total',
      'Writes and deletes that reached memory but not the primary.',
      () => stats().degradedWrites,
    ],
    ['oversize_total', 'Values too large for the memory tier, kept in the primary only.', () => stats().oversize],
    ['reconciled_keys_total', 'Keys reconciled with the primary after outages.', () => stats().reconciled.keys],
    ['reconciliations_total', 'Completed reconciliations.', () => stats().reconciled.runs],
    ['primary_restarts_total', 'Primary restarts detected (Redis run_id changed).', () => stats().restarts],
    ['journal_overflows_total', 'Keys the outage journal could not record.', () => stats().journal.overflows],
  ];
  for (const [suffix, help, read] of simple) mirrored(suffix, help, [], () => [[{}, read()]]);
  mirrored('memory_evictions_total', 'Memory entries dropped, by reason.', ['reason'], () => [
    [{ reason: 'capacity' }, store.fallback.evictions],
    [{ reason: 'expired' }, store.fallback.expirations],
  ]);

  const transitions = new Counter({
    name: name('circuit_transitions_total'),
    help: 'Circuit breaker transitions, by the state entered.',
    labelNames: ['store', 'to'],
    registers: [registry],
  });
  const onTransition = (event: { to: CircuitState }) => transitions.inc({ ...storeLabel, to: event.to });
  store.on('circuit:state', onTransition);

  gauge('circuit_state', 'The breaker state: 1 for the current one.', ['state'], () =>
    circuitStates.map((state) => [{ state }, store.circuitState === state ? 1 : 0]),
  );
  gauge('journal_keys', 'Keys awaiting reconciliation with the primary.', [], () => [[{}, stats().journal.size]]);
  gauge('memory_entries', 'Entries in the memory tier.', [], () => [[{}, store.fallback.size]]);
  gauge('memory_bytes', 'Bytes in the memory tier, as counted for maxSize (0 when unbounded).', [], () => [
    [{}, store.fallback.calculatedSize],
  ]);

  return () => {
    detach();
    store.off('circuit:state', onTransition);
    for (const metric of registered) registry.removeSingleMetric(metric);
  };
}
