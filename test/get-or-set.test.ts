import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTtlCategories, InvalidArgumentError, TieredStore } from '../src/index.js';
import { runLoads } from './helpers/load-worker.js';
import { RedisServer } from './helpers/redis-server.js';

// `store.getOrSet` (issue 11): one loader call per key per process, one in total with `lock`,
// across three real processes on one redis-server; stale-while-revalidate and stale-if-error from
// the key's category; loader failures; Redis down.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: RedisServer;
const stores: TieredStore[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.disconnect()));
  await server?.stop();
});

function open(options: Partial<ConstructorParameters<typeof TieredStore>[0]> = {}): { store: TieredStore; keyv: Keyv } {
  const store = new TieredStore({ primary: server.url, ...options });
  stores.push(store);
  const keyv = new Keyv({ store, namespace: 'gos' });
  return { store, keyv };
}

describe('1,000 concurrent callers per key in each of three processes', () => {
  it('without lock: the loader runs once per process', async () => {
    // A slow loader: every process's first reads miss before any process has written.
    const reports = await runLoads({ url: server.url, processes: 3, callers: 1_000, key: 'nolock', loadMs: 800 });
    const loaded = new Set(reports.map((r) => `loaded by ${r.index}`));
    for (const report of reports) {
      expect(report.loaderCalls).toBe(1);
      expect(report.rejections).toBe(0);
      // A caller whose read came after another process's write gets that value instead.
      for (const value of report.values) expect(loaded).toContain(value);
      expect(loaded).toContain(report.readBack);
    }
  }, 30_000);

  for (const policy of ['primary-first', 'near-cache'] as const) {
    it(`with lock (${policy}): once in total; everyone gets the holder's value`, async () => {
      const reports = await runLoads({
        url: server.url,
        processes: 3,
        callers: 1_000,
        key: `lock-${policy}`,
        loadMs: 200,
        getOrSet: { lock: true },
        store: { readPolicy: policy },
      });
      const calls = reports.reduce((sum, r) => sum + r.loaderCalls, 0);
      const values = new Set(reports.flatMap((r) => r.values));
      console.log(
        `lock (${policy}): loader calls`,
        reports.map((r) => r.loaderCalls),
        'lock waits',
        reports.map((r) => r.stats.getOrSet.lockWaits),
      );
      expect(calls).toBe(1);
      expect(values.size).toBe(1);
      for (const report of reports) {
        expect(report.rejections).toBe(0);
        expect(report.readBack).toBe([...values][0]);
      }
      expect(reports.filter((r) => r.stats.getOrSet.lockWaits === 1)).toHaveLength(2);
    }, 30_000);
  }

  it('a lock holder that crashed: the others load themselves after waitMs, without the lock key left behind', async () => {
    // A lock taken by a process that died (never released): it expires with its ttlMs.
    await server.command(['SET', 'keyv-failsafe:lock:gos::gos:crashed', 'dead-holder', 'PX', '300']);
    const reports = await runLoads({
      url: server.url,
      processes: 3,
      callers: 100,
      key: 'crashed',
      loadMs: 20,
      getOrSet: { lock: { ttlMs: 2_000, waitMs: 1_000 } },
    });
    const calls = reports.reduce((sum, r) => sum + r.loaderCalls, 0);
    // The dead lock expired after 300 ms, well within the wait: one of them took it over.
    expect(calls).toBe(1);
    for (const report of reports) expect(report.rejections).toBe(0);
    expect(await server.command(['EXISTS', 'keyv-failsafe:lock:gos::gos:crashed'])).toBe(0);
  }, 30_000);
});

describe('in one process', () => {
  it('the value is readable through keyv.get, under the namespace, with the TTL given', async () => {
    const { store, keyv } = open();
    const value = await store.getOrSet('user:1', () => ({ name: 'Ada' }), { ttl: 60_000 });
    expect(value).toEqual({ name: 'Ada' });
    expect(await keyv.get('user:1')).toEqual({ name: 'Ada' });
    const pttl = Number(await server.command(['PTTL', 'gos::gos:user:1']));
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    // A hit: the loader is not called again.
    let calls = 0;
    expect(await store.getOrSet('user:1', () => ++calls)).toEqual({ name: 'Ada' });
    expect(calls).toBe(0);
  });

  it("a key that already starts with the namespace (Keyv 5 does not prefix it again) is keyv.get's key", async () => {
    const { store, keyv } = open();
    expect(await store.getOrSet('gos:user:2', () => 'two', { ttl: 60_000 })).toBe('two');
    expect(await keyv.get('gos:user:2')).toBe('two');
    expect(await keyv.get('user:2')).toBe('two');
    expect(Number(await server.command(['EXISTS', 'gos::gos:user:2']))).toBe(1);
    let calls = 0;
    expect(await store.getOrSet('user:2', () => ++calls)).toBe('two');
    expect(calls).toBe(0);
  });

  it('the TTL of the key category when none is given', async () => {
    const { store } = open({
      ttl: { categories: defineTtlCategories({ short: '30s' }), rules: [{ match: 'session:*', category: 'short' }] },
    });
    await store.getOrSet('session:9', () => 'v');
    const pttl = Number(await server.command(['PTTL', 'gos::gos:session:9']));
    expect(pttl).toBeGreaterThan(25_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });

  it('loader errors reach the caller when no stale copy exists; every waiting caller gets them', async () => {
    const { store } = open();
    const failure = new Error('database down');
    let calls = 0;
    const loader = async () => {
      calls++;
      await sleep(20);
      throw failure;
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.getOrSet('failing', loader)));
    expect(calls).toBe(1);
    for (const result of results) expect(result).toEqual({ status: 'rejected', reason: failure });
  });

  it('stale-while-revalidate and stale-if-error within the category grace', async () => {
    const { store } = open({
      ttl: {
        categories: defineTtlCategories({ price: { ttl: '100ms', staleIfError: '1m' } }),
        rules: [{ match: 'price:*', category: 'price' }],
      },
    });
    expect(await store.getOrSet('price:eur', () => 1)).toBe(1);
    await sleep(150);
    // Expired: one caller reloads (slowly); the others get the stale copy at once.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const refreshing = store.getOrSet('price:eur', async () => {
      await gate;
      return 2;
    });
    await sleep(5);
    const others = await Promise.all(Array.from({ length: 5 }, () => store.getOrSet('price:eur', () => 99)));
    expect(others).toEqual([1, 1, 1, 1, 1]);
    release();
    expect(await refreshing).toBe(2);
    await sleep(150);
    // The loader fails on an expired key: the copy within its grace answers.
    expect(
      await store.getOrSet('price:eur', () => {
        throw new Error('db down');
      }),
    ).toBe(2);
    expect(store.stats().getOrSet.staleServes).toBe(1);
  });

  it('with Redis unreachable: the loader and memory answer, nothing rejects', async () => {
    const dead = await RedisServer.create();
    const store = new TieredStore({ primary: dead.url, operationTimeoutMs: 50 });
    stores.push(store);
    const keyv = new Keyv({ store, namespace: 'gos' });
    let calls = 0;
    expect(await store.getOrSet('k', () => ++calls, { lock: true })).toBe(1);
    expect(await store.getOrSet('k', () => ++calls, { lock: true })).toBe(1);
    expect(calls).toBe(1);
    expect(await keyv.get('k')).toBe(1);
    dead.dispose();
  });

  it('under Keyv 6: readable through keyv.get as well', async () => {
    const { Keyv: Keyv6 } = await import('keyv6');
    const store = new TieredStore({ primary: server.url });
    stores.push(store);
    const keyv = new Keyv6({ store, namespace: 'gos6' });
    expect(await store.getOrSet('a', () => 'six', { ttl: 60_000 })).toBe('six');
    expect(await keyv.get('a')).toBe('six');
  });

  it('bad input is rejected before anything is called', async () => {
    const { store } = open();
    const loader = () => 'x';
    const bad: Array<[unknown, unknown, unknown, string]> = [
      [42, loader, undefined, 'key'],
      ['k', 'not a function', undefined, 'loader'],
      ['k', loader, null, 'options'],
      ['k', loader, { ttl: -1 }, 'options.ttl'],
      ['k', loader, { lock: 'yes' }, 'options.lock'],
      ['k', loader, { lock: { ttlMs: 0 } }, 'options.lock.ttlMs'],
      ['k', loader, { lock: { waitMs: 1.5 } }, 'options.lock.waitMs'],
      ['k', loader, { ttlMS: 5 }, 'options.ttlMS'],
    ];
    for (const [key, fn, options, argument] of bad) {
      const error = await store
        // biome-ignore lint/suspicious/noExplicitAny: hostile input on purpose
        .getOrSet(key as any, fn as any, options as any)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, argument).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).message).toContain(argument);
    }
    expect(store.stats().primaryFailures).toBe(0);
  });
});
