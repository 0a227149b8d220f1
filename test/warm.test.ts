import { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TieredStore, type TieredStoreOptions, type WarmProgressEvent } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

describe('warming the memory tier (real redis-server)', () => {
  let server: RedisServer;
  let admin: ReturnType<typeof createClient>;
  const stores: TieredStore[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = createClient({ url: server.url });
    await admin.connect();
    // What another instance wrote: 300 prices with a TTL, 50 other keys.
    const writer = new Keyv({ store: new TieredStore({ primary: server.url }) });
    for (let i = 0; i < 300; i++) await writer.set(`price:${i}`, { p: i }, 60_000);
    for (let i = 0; i < 50; i++) await writer.set(`chart:${i}`, i);
    await writer.disconnect();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.disconnect()));
    await admin.close();
    await server.stop();
  });

  function make(options: Partial<TieredStoreOptions> = {}): { store: TieredStore; keyv: Keyv } {
    const store = new TieredStore({ primary: server.url, readPolicy: 'memory-first', memoryTtlMs: 60_000, ...options });
    stores.push(store);
    return { store, keyv: new Keyv({ store }) };
  }

  it('loads the matching keys with their remaining TTL, with SCAN, and memory-first then answers them', async () => {
    const { store, keyv } = make();
    await keyv.get('warm-up'); // connect
    const progress: WarmProgressEvent[] = [];
    store.on('warm:progress', (event) => progress.push(event));
    const before = Number(/cmdstat_keys:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const report = await store.warm({ match: 'price:*' });
    expect(report).toMatchObject({ loaded: 300, seen: 300, stopped: undefined });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual({ loaded: 300, seen: 300 });
    const stats = await admin.info('commandstats');
    expect(Number(/cmdstat_keys:calls=(\d+)/.exec(stats)?.[1] ?? 0)).toBe(before);
    expect(stats).toMatch(/cmdstat_scan:calls=/);
    const entry = store.fallback.get('keyv::keyv:price:7');
    const pttl = await admin.pTTL('keyv::keyv:price:7');
    expect(entry?.expiresAt).toBeLessThanOrEqual(performance.now() + pttl + 1);
    expect(store.fallback.get('keyv::keyv:chart:1')).toBeUndefined();
    const primaryHits = store.stats().hits.primary;
    expect(await keyv.get('price:7')).toEqual({ p: 7 });
    expect(store.stats().hits.primary).toBe(primaryHits);
  });

  it("is bounded by the tier's size and by limit", async () => {
    expect((await make({ fallback: { max: 40 } }).store.warm({ match: 'price:*' })).loaded).toBe(40);
    const limited = await make().store.warm({ match: 'price:*', limit: 25, batchSize: 10 });
    expect(limited).toMatchObject({ loaded: 25, stopped: 'limit' });
    const { store } = make({ fallback: { maxSize: 20_000 } });
    const full = await store.warm({ match: 'price:*' });
    expect(full.stopped).toBe('full');
    expect(store.fallback.calculatedSize).toBeLessThanOrEqual(20_000);
  });

  it('is cancellable', async () => {
    const { store } = make();
    const controller = new AbortController();
    store.once('warm:progress', () => controller.abort());
    const report = await store.warm({ match: 'price:*', batchSize: 20, signal: controller.signal });
    expect(report.stopped).toBe('cancelled');
    expect(report.loaded).toBeLessThan(300);
    expect(report.loaded).toBeGreaterThan(0);
  });

  it('from a loader while Redis is down: the fallback answers at once, with the TTL given', async () => {
    const down = new TieredStore({ primary: 'redis://127.0.0.1:1' });
    stores.push(down);
    const keyv = new Keyv({ store: down });
    const report = await down.warm(function* () {
      for (let i = 0; i < 10; i++) yield { key: `price:${i}`, value: { p: i }, ttl: 30_000 };
      yield { key: 'chart:x', value: [1, 2, 3] };
    });
    expect(report).toMatchObject({ loaded: 11, seen: 11, stopped: undefined });
    expect(await keyv.get('price:3')).toEqual({ p: 3 });
    expect(await keyv.get('chart:x')).toEqual([1, 2, 3]);
    expect(down.stats().fallbackServes).toBe(2);
    // Nothing to warm from a primary that is down: it says so instead of failing.
    expect((await down.warm({ match: '*' })).stopped).toBe('primary-unavailable');
  });
});
