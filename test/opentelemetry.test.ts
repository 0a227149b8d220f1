import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerOpenTelemetryMetrics } from '../integrations/opentelemetry.js';
import { TieredStore } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

describe('OpenTelemetry metrics, read through the SDK in-memory exporter', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('exports observable counters and gauges and the per-path latency histogram', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const store = new TieredStore({ primary: server.url });
    const detach = registerOpenTelemetryMetrics(store, provider.getMeter('test'), { storeName: 'prices' });
    const keyv = new Keyv({ store });
    await keyv.set('a', 1);
    await keyv.get('a');
    await keyv.get('nope');
    await server.kill();
    await keyv.get('a');
    // The lost connection opens the breaker as soon as the client reports it.
    for (let i = 0; i < 200 && store.circuitState === 'closed'; i++) await new Promise((r) => setTimeout(r, 5));

    await provider.forceFlush();
    const metrics = exporter.getMetrics().at(-1)?.scopeMetrics[0]?.metrics ?? [];
    const points = (name: string): Point[] =>
      (metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as unknown as Point[];
    const value = (name: string, attributes: Record<string, unknown>) =>
      points(name).find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value;

    expect(value('keyv_failsafe.hits', { store: 'prices', tier: 'primary' })).toBe(1);
    expect(value('keyv_failsafe.hits', { store: 'prices', tier: 'memory' })).toBe(1);
    expect(value('keyv_failsafe.misses', { store: 'prices' })).toBe(1);
    expect(value('keyv_failsafe.circuit.state', { state: 'closed' })).toBe(0);
    expect(value('keyv_failsafe.circuit.state', { state: 'open' })).toBe(1);
    expect(value('keyv_failsafe.memory.entries', { store: 'prices' })).toBe(1);
    const primaryGets = value('keyv_failsafe.operation.duration', { operation: 'get', path: 'primary' }) as {
      count: number;
    };
    expect(primaryGets.count).toBe(2);
    const durations = points('keyv_failsafe.operation.duration').map((p) => p.attributes.path);
    // Answered from memory: as a failed call, or without one if the lost connection came first.
    expect(durations.some((path) => path === 'fallback' || path === 'breaker-open')).toBe(true);
    expect(JSON.stringify(metrics)).not.toContain(String(server.port));

    detach();
    await store.disconnect();
    await provider.shutdown();
    await server.restart();
  });
});
