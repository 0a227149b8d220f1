import Keyv from 'keyv';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPrometheusMetrics } from '../integrations/prometheus.js';
import { TieredStore } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

/** The value of one sample line of the text exposition, e.g. `name{a="b"} 3`. */
function sample(text: string, metric: string, labels: string): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${metric}{${labels}}`) || l.startsWith(`${metric}{${labels},`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('Prometheus metrics through prom-client, scraped from a real registry', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start(['--requirepass', 'scrape-secret']);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('exports counters, gauges and per-path latency, follows an outage, and leaks no secret', async () => {
    const registry = new Registry();
    const store = new TieredStore({ primary: `redis://:scrape-secret@127.0.0.1:${server.port}` });
    const unregister = registerPrometheusMetrics(store, { registry, storeName: 'prices' });
    const keyv = new Keyv({ store });
    await keyv.set('a', 1);
    await keyv.get('a');
    await keyv.get('a');
    await keyv.get('missing');

    let text = await registry.metrics();
    expect(sample(text, 'keyv_failsafe_hits_total', 'store="prices",tier="primary"')).toBe(2);
    expect(sample(text, 'keyv_failsafe_misses_total', 'store="prices"')).toBe(1);
    expect(sample(text, 'keyv_failsafe_circuit_state', 'store="prices",state="closed"')).toBe(1);
    expect(sample(text, 'keyv_failsafe_memory_entries', 'store="prices"')).toBe(1);
    expect(
      sample(text, 'keyv_failsafe_operation_duration_seconds_count', 'store="prices",operation="get",path="primary"'),
    ).toBe(3);
    expect(text).toMatch(/# TYPE keyv_failsafe_operation_duration_seconds histogram/);
    expect(text).toMatch(/# TYPE keyv_failsafe_hits_total counter/);

    await server.kill();
    await keyv.get('a');
    await keyv.get('a');
    // The lost connection opens the breaker as soon as the client reports it.
    for (let i = 0; i < 200 && store.circuitState === 'closed'; i++) await new Promise((r) => setTimeout(r, 5));
    text = await registry.metrics();
    // Scraped twice: mirrored counters must not double count.
    text = await registry.metrics();
    expect(sample(text, 'keyv_failsafe_circuit_state', 'store="prices",state="open"')).toBe(1);
    expect(sample(text, 'keyv_failsafe_circuit_transitions_total', 'store="prices",to="open"')).toBe(1);
    expect(sample(text, 'keyv_failsafe_hits_total', 'store="prices",tier="memory"')).toBe(2);
    expect(sample(text, 'keyv_failsafe_hits_total', 'store="prices",tier="primary"')).toBe(2);
    expect(
      sample(
        text,
        'keyv_failsafe_operation_duration_seconds_count',
        'store="prices",operation="get",path="breaker-open"',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('scrape-secret');
    expect(text).not.toContain(String(server.port));

    unregister();
    expect(await registry.metrics()).toBe('\n');
    await store.disconnect();
    await server.restart();
  });
});

describe('several stores on one registry', () => {
  it('are told apart by storeName; the metrics go with the last one', async () => {
    const registry = new Registry();
    const a = new TieredStore({ primary: 'redis://127.0.0.1:1' });
    const b = new TieredStore({ primary: 'redis://127.0.0.1:1' });
    const offA = registerPrometheusMetrics(a, { registry, storeName: 'a' });
    const offB = registerPrometheusMetrics(b, { registry, storeName: 'b' });
    expect(() => registerPrometheusMetrics(b, { registry, storeName: 'b' })).toThrowError(/already registered/);
    await new Keyv({ store: a }).get('x');
    const text = await registry.metrics();
    expect(sample(text, 'keyv_failsafe_misses_total', 'store="a"')).toBe(1);
    expect(sample(text, 'keyv_failsafe_misses_total', 'store="b"')).toBe(0);
    expect(sample(text, 'keyv_failsafe_memory_entries', 'store="b"')).toBe(0);
    offA();
    expect(await registry.metrics()).not.toContain('store="a"');
    offB();
    expect(await registry.metrics()).toBe('\n');
    await Promise.all([a.disconnect(), b.disconnect()]);
  });
});
