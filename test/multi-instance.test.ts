import { createClient } from '@keyv/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from './helpers/redis-server.js';
import { now, StoreProcess, stopAllStoreProcesses } from './helpers/store-process.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

// Several real processes, each a TieredStore behind Keyv, writing the same keys through one
// redis-server; the ones called A reach it through a loopback TCP proxy that partitions them
// (`pause` holds data both ways and delivers it, in order, on the next mode change). The test
// process reads Redis directly with a plain client. Issue 8, defects 1-3.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: RedisServer;
let redis: ReturnType<typeof createClient>;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
  redis = createClient({ url: server.url });
  await redis.connect();
});

afterAll(async () => {
  await stopAllStoreProcesses();
  for (const proxy of proxies.splice(0)) await proxy.close();
  await redis?.close();
  await server?.stop();
});

// A test that failed mid-partition must not leave the next one partitioned.
afterEach(() => {
  for (const proxy of proxies) proxy.setMode('pass');
});

async function proxy(): Promise<TcpProxy> {
  const p = await TcpProxy.start(server.port);
  proxies.push(p);
  return p;
}

/** Keyv 5 (namespace `keyv`) hands the store `keyv:k`; the store writes `keyv::keyv:k`, as @keyv/redis does. */
const physical = (key: string) => `keyv::keyv:${key}`;

/** The application value Redis holds for `key` (Keyv's envelope unwrapped), read directly. */
async function inRedis(key: string): Promise<unknown> {
  const raw = await redis.get(physical(key));
  return raw === null ? undefined : (JSON.parse(String(raw)) as { value: unknown }).value;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

describe('defect 1: a read in flight never undoes a newer write of the same instance', () => {
  // A's reads and writes are held together by the paused proxy and delivered in the order A sent
  // them: the GET (older value) is answered first, then the write. A deadline well above the time
  // the proxy holds them, so the read is answered by Redis, never timed out.
  const TIMEOUT_MS = 1_000;
  let memoryFirst: StoreProcess;
  let primaryFirst: StoreProcess;
  let b: StoreProcess;
  let memoryProxy: TcpProxy;
  let primaryProxy: TcpProxy;

  beforeAll(async () => {
    memoryProxy = await proxy();
    primaryProxy = await proxy();
    [memoryFirst, primaryFirst, b] = await Promise.all([
      StoreProcess.start({
        name: 'A (memory-first)',
        store: { primary: memoryProxy.url, readPolicy: 'memory-first', operationTimeoutMs: TIMEOUT_MS },
      }),
      StoreProcess.start({
        name: 'A (primary-first)',
        store: { primary: primaryProxy.url, readPolicy: 'primary-first', operationTimeoutMs: TIMEOUT_MS },
      }),
      StoreProcess.start({ name: 'B', store: { primary: server.url } }),
    ]);
    // The layout the direct reads below rely on.
    expect(await b.call('set', 'layout', 'x')).toBe(true);
    expect(await inRedis('layout')).toBe('x');
  });

  /**
   * B writes `old`; then, with A's proxy paused, A sends the read, then the write, and the proxy
   * delivers both: Redis answers the read with `old` before it executes the write. Resolves once
   * both resolved in A.
   */
  async function race(
    a: StoreProcess,
    through: TcpProxy,
    key: string,
    read: 'get' | 'getMany',
    write: 'set' | 'delete',
  ): Promise<void> {
    expect(await b.call('set', key, 'old')).toBe(true);
    through.setMode('pause');
    const mark = a.events.length;
    const reading = await a.begin('keyv', read, read === 'get' ? key : [key]);
    await sleep(20);
    const writing = await a.begin('keyv', write, ...(write === 'set' ? [key, 'new'] : [key]));
    await sleep(20);
    through.setMode('pass');
    const [r, w] = await Promise.all([reading.result, writing.result]);
    // The race as set up: Redis answered both calls (nothing timed out), the read first, with `old`
    // (what the read itself returns is not the point: it may be that, or this instance's newer write).
    expect(a.events.slice(mark).filter((e) => e.name === 'primary:failure')).toEqual([]);
    expect(r.ms, 'the read was answered by Redis, not timed out').toBeLessThan(TIMEOUT_MS);
    const readValue = read === 'get' ? r.value : (r.value as unknown[])[0];
    expect(['old', write === 'set' ? 'new' : undefined]).toContain(readValue);
    expect(w.value, `the ${write} reached Redis`).toBe(true);
    expect(await inRedis(key)).toBe(write === 'set' ? 'new' : undefined);
    expect(await b.call('get', key)).toBe(write === 'set' ? 'new' : undefined);
  }

  it('memory-first: get in flight, then set: A reads its own newer value, not the older one the get returned', async () => {
    await race(memoryFirst, memoryProxy, 'race:mf:set', 'get', 'set');
    expect(await memoryFirst.call('get', 'race:mf:set')).toBe('new');
  });

  it('memory-first: get in flight, then delete: A misses, the deleted key is not re-created', async () => {
    await race(memoryFirst, memoryProxy, 'race:mf:delete', 'get', 'delete');
    expect(await memoryFirst.call('get', 'race:mf:delete')).toBeUndefined();
  });

  it('memory-first: getMany in flight, then set: A reads its own newer value', async () => {
    await race(memoryFirst, memoryProxy, 'race:mf:getMany', 'getMany', 'set');
    expect(await memoryFirst.call('get', 'race:mf:getMany')).toBe('new');
  });

  /** A partitioned: its read times out and memory answers. */
  async function partitionedRead(key: string): Promise<unknown> {
    primaryProxy.setMode('pause');
    const mark = primaryFirst.events.length;
    const read = await primaryFirst.call('get', key);
    primaryProxy.setMode('pass');
    // It was the fallback that answered (the read timed out), not Redis.
    await primaryFirst.waitFor('primary:failure', (e) => e.payload.operation === 'get', { from: mark });
    return read;
  }

  it('primary-first: get in flight, then set; Redis stops answering: the fallback does not serve the older value', async () => {
    await race(primaryFirst, primaryProxy, 'race:pf:set', 'get', 'set');
    const value = await partitionedRead('race:pf:set');
    expect(value).not.toBe('old');
    expect(['new', undefined]).toContain(value);
  });

  it('primary-first: get in flight, then delete; Redis stops answering: the fallback does not re-create the key', async () => {
    await race(primaryFirst, primaryProxy, 'race:pf:delete', 'get', 'delete');
    expect(await partitionedRead('race:pf:delete')).toBeUndefined();
  });
});

describe('defect 2: writes that land late after a short partition are reconciled within about one round trip', () => {
  /**
   * From the heal, how long the late value may stay visible: a probe and an UNLINK round trip
   * through the proxy (under 5 ms here) plus event-loop and IPC slack on a loaded 2-core machine.
   * Today only the next cooldown probe reconciles: 0.8-1.2 s after the breaker opened.
   */
  const BOUND_MS = 150;
  const RUNS = 5;
  /** Poll at most this long after the heal, should reconciliation never come. */
  const CAP_MS = 3_000;
  let a: StoreProcess;
  let b: StoreProcess;
  let aProxy: TcpProxy;

  beforeAll(async () => {
    aProxy = await proxy();
    // Default deadline (100 ms) and breaker (5 failures, cooldown 1 s): the difference shows.
    [a, b] = await Promise.all([
      StoreProcess.start({ name: 'A', store: { primary: aProxy.url } }),
      StoreProcess.start({ name: 'B', store: { primary: server.url } }),
    ]);
  });

  interface Run {
    redisMs: number;
    bMs: number;
    redisReads: number;
    bReads: number;
  }

  /**
   * A partitioned sets k and four more keys: five timeouts open its breaker (as under any load), so
   * that nothing reconciles k before the heal. B sets k, acknowledged. Heal: A's held SETs land on
   * top of B's.
   * Returns, from the heal, the last moment Redis and B were seen returning A's value.
   */
  async function oneRun(run: number): Promise<Run> {
    const key = `late:${run}`;
    const aValue = `A-${run}`;
    const bValue = `B-${run}`;
    aProxy.setMode('pause');
    const mark = a.events.length;
    // k last: should the other timeouts come more than 20 ms apart, the reconciliation they schedule
    // while the breaker is still closed is sent before k is journaled, so it never covers k.
    const writes = [...[1, 2, 3, 4].map((i) => `${key}:${i}`), key].map((k) => a.call('set', k, aValue));
    await a.waitFor('circuit:state', (e) => e.payload.to === 'open', { from: mark, timeoutMs: 3_000 });
    expect(await Promise.all(writes), 'A timed out: its writes reached memory only').toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(await b.call('set', key, bValue)).toBe(true);
    expect(await inRedis(key)).toBe(bValue);

    const healMark = a.events.length;
    let stopAt = Number.POSITIVE_INFINITY;
    const reconciled = a
      .waitFor('reconcile:done', undefined, { from: healMark, timeoutMs: CAP_MS })
      .then(() => {
        stopAt = now() + 50;
      })
      .catch(() => {});
    aProxy.setMode('pass');
    const healedAt = now();
    stopAt = healedAt + CAP_MS;

    /** Reads until reconciliation was seen (plus 50 ms), returns the last time A's value was read. */
    const poll = async (read: () => Promise<unknown>): Promise<{ lastMs: number; reads: number }> => {
      let lastMs = 0;
      let reads = 0;
      while (now() < stopAt) {
        const value = await read();
        reads++;
        if (value === aValue) lastMs = now() - healedAt;
      }
      return { lastMs, reads };
    };
    const [fromRedis, fromB] = await Promise.all([poll(() => inRedis(key)), poll(() => b.call('get', key))]);
    await reconciled;
    await a.waitFor('circuit:state', (e) => e.payload.to === 'closed', { from: healMark, timeoutMs: 3_000 });
    // Whatever the window was, it is over: no instance reads A's late value any more.
    expect(await inRedis(key)).not.toBe(aValue);
    expect(await b.call('get', key)).not.toBe(aValue);
    expect((await a.stats()).journal.size).toBe(0);
    return { redisMs: fromRedis.lastMs, bMs: fromB.lastMs, redisReads: fromRedis.reads, bReads: fromB.reads };
  }

  it(`A's late value is visible, in Redis and to B, for at most ${BOUND_MS} ms after the partition heals`, {
    timeout: 30_000,
  }, async () => {
    const runs: Run[] = [];
    for (let run = 0; run < RUNS; run++) runs.push(await oneRun(run));
    const summary = (pick: (r: Run) => number) => {
      const sorted = runs.map(pick).sort((x, y) => x - y);
      return { p50: Math.round(quantile(sorted, 0.5)), max: Math.round(sorted[sorted.length - 1] as number) };
    };
    const redisWindow = summary((r) => r.redisMs);
    const bWindow = summary((r) => r.bMs);
    console.log(
      `late-write window after the heal over ${RUNS} runs: Redis p50 ${redisWindow.p50} ms, max ${redisWindow.max} ms; ` +
        `B p50 ${bWindow.p50} ms, max ${bWindow.max} ms ` +
        `(per run, Redis/B ms: ${runs.map((r) => `${Math.round(r.redisMs)}/${Math.round(r.bMs)}`).join(', ')})`,
    );
    // Measured, not assumed: both were read over and over from the heal until reconciliation.
    for (const r of runs) expect(Math.min(r.redisReads, r.bReads)).toBeGreaterThan(5);
    expect.soft(redisWindow.max, "Redis held A's late value this long after the heal (ms)").toBeLessThan(BOUND_MS);
    expect.soft(bWindow.max, "B read A's late value this long after the heal (ms)").toBeLessThan(BOUND_MS);
  });
});

describe('defect 3: delete() tells the truth when Redis did not take it', () => {
  let a: StoreProcess;
  let b: StoreProcess;
  let aProxy: TcpProxy;

  beforeAll(async () => {
    aProxy = await proxy();
    [a, b] = await Promise.all([
      StoreProcess.start({ name: 'A', store: { primary: aProxy.url } }),
      StoreProcess.start({ name: 'B', store: { primary: server.url } }),
    ]);
  });

  /** B writes the keys, A reads them (so A's memory holds them too). */
  async function shared(keys: string[]): Promise<void> {
    for (const key of keys) {
      expect(await b.call('set', key, `v:${key}`)).toBe(true);
      expect(await a.call('get', key)).toBe(`v:${key}`);
    }
  }

  it("while A's breaker is open, delete and deleteMany resolve false; B and Redis keep the keys until reconciliation removes them", async () => {
    const keys = ['del:open:1', 'del:open:2', 'del:open:3'];
    await shared(keys);
    aProxy.setMode('pause');
    const mark = a.events.length;
    // Five reads time out: the breaker opens.
    await Promise.all([1, 2, 3, 4, 5].map((i) => a.call('get', `del:open:probe:${i}`)));
    await a.waitFor('circuit:state', (e) => e.payload.to === 'open', { from: mark, timeoutMs: 3_000 });
    expect(await a.circuitState()).toBe('open');

    expect.soft(await a.call('delete', 'del:open:1'), 'delete with the breaker open').toBe(false);
    expect
      .soft(await a.call('deleteMany', ['del:open:2', 'del:open:3']), 'deleteMany with the breaker open')
      .toBe(false);
    for (const key of keys) {
      expect(await inRedis(key)).toBe(`v:${key}`);
      expect(await b.call('get', key)).toBe(`v:${key}`);
    }
    expect(await a.call('get', 'del:open:1'), 'A itself no longer serves it').toBeUndefined();

    const healMark = a.events.length;
    aProxy.setMode('pass');
    await a.waitFor('reconcile:done', undefined, { from: healMark, timeoutMs: 5_000 });
    await a.waitFor('circuit:state', (e) => e.payload.to === 'closed', { from: healMark, timeoutMs: 5_000 });
    for (const key of keys) {
      expect(await inRedis(key), `${key} invalidated in Redis`).toBeUndefined();
      expect(await b.call('get', key)).toBeUndefined();
    }
    expect((await a.stats()).journal.size).toBe(0);
  });

  it('a delete that times out (breaker still closed) resolves false', async () => {
    await shared(['del:timeout']);
    aProxy.setMode('pause');
    const mark = a.events.length;
    const deleted = await a.timed('keyv', 'delete', 'del:timeout');
    await a.waitFor('primary:failure', (e) => e.payload.operation === 'delete', { from: mark });
    expect(await a.circuitState()).toBe('closed');
    expect(await inRedis('del:timeout')).toBe('v:del:timeout');
    const healMark = a.events.length;
    aProxy.setMode('pass');
    expect.soft(deleted.value, 'delete that timed out').toBe(false);
    // The delete was journaled: reconciliation removes the key from Redis.
    await a.waitFor('reconcile:done', undefined, { from: healMark, timeoutMs: 5_000 });
    expect(await inRedis('del:timeout')).toBeUndefined();
  });
});
