import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PrimaryFailureEvent, TieredStore } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

// A real redis-server, killed (SIGKILL) and hung (SIGSTOP) while calls are in flight. Every call
// must settle within operationTimeoutMs plus a margin, none may reject, memory must answer, and the
// counters must say exactly what happened.

const TIMEOUT_MS = 100;
/** Scheduling slack on a shared 2-core machine: event-loop delay, not our code. */
const MARGIN_MS = 150;

interface Timed<T> {
  value: T;
  ms: number;
}

async function timed<T>(call: () => Promise<T>): Promise<Timed<T>> {
  const started = performance.now();
  const value = await call();
  return { value, ms: performance.now() - started };
}

function circuitClosed(store: TieredStore): Promise<void> {
  return new Promise<void>((resolve) => {
    const listener = (event: { to: string }) => {
      if (event.to !== 'closed') return;
      store.off('circuit:state', listener);
      resolve();
    };
    store.on('circuit:state', listener);
  });
}

describe('outages of a real redis-server with calls in flight', () => {
  let server: RedisServer;
  let store: TieredStore;
  let keyv: Keyv;
  let failures: PrimaryFailureEvent[];
  const keys = Array.from({ length: 40 }, (_, i) => `outage:${i}`);

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  async function freshStore(): Promise<void> {
    store = new TieredStore({ primary: server.url, operationTimeoutMs: TIMEOUT_MS, reconnectMaxDelayMs: 100 });
    keyv = new Keyv({ store });
    failures = [];
    store.on('primary:failure', (event) => failures.push(event));
    for (const key of keys) expect(await keyv.set(key, `v1:${key}`, 60_000)).toBe(true);
    expect(store.stats().primaryFailures).toBe(0);
  }

  afterEach(async () => {
    server.resume();
    await store.disconnect();
    if (server.pid === undefined) await server.restart();
  });

  it('hung (SIGSTOP): reads serve memory and writes report false, each within the deadline', async () => {
    await freshStore();
    server.hang();
    const reads = keys.map((key) => timed(() => keyv.get(key)));
    const writes = keys.slice(0, 10).map((key) => timed(() => keyv.set(key, `v2:${key}`, 60_000)));
    const [readResults, writeResults] = await Promise.all([Promise.all(reads), Promise.all(writes)]);

    for (const [i, r] of readResults.entries()) {
      expect(r.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      // The read was issued before the concurrent write of the same key reached memory.
      expect([`v1:${keys[i]}`, `v2:${keys[i]}`]).toContain(r.value);
    }
    for (const w of writeResults) {
      expect(w.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      expect(w.value).toBe(false);
    }
    // Writes that reached only memory are what memory now serves.
    expect(await keyv.get(keys[0] as string)).toBe(`v2:${keys[0]}`);

    const stats = store.stats();
    // Every call in flight timed out; five in a row opened the breaker, so the last read did not wait.
    expect(stats.timeouts).toBe(keys.length + 10);
    expect(stats.primaryFailures).toBe(stats.timeouts);
    expect(stats.circuit).toBe('open');
    expect(stats.shortCircuits).toBe(1);
    expect(stats.fallbackServes).toBe(keys.length + 1);
    expect(stats.hits.primary).toBe(0);
    expect(stats.degradedWrites).toBe(10);
    expect(stats.journal.size).toBe(10);
    expect(failures).toHaveLength(stats.primaryFailures);
    expect(failures.every((f) => f.error.code === 'E_PRIMARY_TIMEOUT')).toBe(true);
  });

  it('killed (SIGKILL) with calls on the wire: they settle at once from memory, as do calls after', async () => {
    await freshStore();
    // Stop first so that the calls are surely written and waiting when the process dies.
    server.hang();
    const inFlight = keys.map((key) => timed(() => keyv.get(key)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await server.kill();
    const during = await Promise.all(inFlight);
    for (const [i, r] of during.entries()) {
      expect(r.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      expect(r.value).toBe(`v1:${keys[i]}`);
    }
    const after = await Promise.all(keys.map((key) => timed(() => keyv.get(key))));
    for (const [i, r] of after.entries()) {
      expect(r.value).toBe(`v1:${keys[i]}`);
      // Offline: no network wait at all.
      expect(r.ms).toBeLessThan(MARGIN_MS);
    }
    // The truth, as `set` tells it: Redis did not take the delete (memory dropped its copy).
    const deleted = await timed(() => keyv.delete(keys[1] as string));
    expect(deleted.value).toBe(false);
    expect(deleted.ms).toBeLessThan(MARGIN_MS);
    expect(await keyv.get(keys[1] as string)).toBeUndefined();

    const stats = store.stats();
    // The calls on the wire failed; the breaker then answered everything else from memory.
    expect(stats.primaryFailures).toBe(keys.length);
    expect(stats.shortCircuits).toBe(keys.length + 2);
    expect(stats.circuit).not.toBe('closed');
    expect(stats.fallbackServes).toBe(2 * keys.length);
    expect(stats.misses).toBe(1);
    expect(stats.degradedWrites).toBe(1);
    expect(stats.journal.size).toBe(1);
    expect([...store.journal.snapshot()].map(([key, entry]) => [key, entry.op])).toEqual([
      [`keyv::keyv:${keys[1]}`, 'delete'],
    ]);
    expect(failures.every((f) => f.error.code === 'E_PRIMARY_UNAVAILABLE')).toBe(true);
  });

  it('restarted empty: once reconnected, the primary is the truth again and memory copies are dropped', async () => {
    await freshStore();
    await server.kill();
    expect(await keyv.get(keys[0] as string)).toBe(`v1:${keys[0]}`);
    const closed = circuitClosed(store);
    await server.restart();
    // Reconnected, probed (a new run_id: the restart is detected), reconciled, closed.
    await closed;
    expect(store.stats().restarts).toBe(1);
    // Redis came back empty: a primary miss is authoritative, the old memory copy must not answer.
    expect(await keyv.get(keys[0] as string)).toBeUndefined();
    expect(store.fallback.get(`keyv::keyv:${keys[0]}`)).toBeUndefined();
    expect(await keyv.set(keys[0] as string, 'v3', 60_000)).toBe(true);
    expect(await keyv.get(keys[0] as string)).toBe('v3');
    expect(store.stats().hits.primary).toBe(1);
  });

  it('never started: construction does not throw or block, and calls fail fast to memory', async () => {
    await server.kill();
    const started = performance.now();
    store = new TieredStore({ primary: server.url, operationTimeoutMs: TIMEOUT_MS, fallbackWritesSucceed: false });
    keyv = new Keyv({ store });
    expect(performance.now() - started).toBeLessThan(50);
    const set = await timed(() => keyv.set('cold', 'memory-only'));
    expect(set.value).toBe(false);
    expect(set.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(await keyv.get('cold')).toBe('memory-only');
    expect(store.stats().degradedWrites).toBe(1);
    expect(store.stats().fallbackServes).toBe(1);
  });
});
