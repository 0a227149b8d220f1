import { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTtlCategories, InvalidOptionError, TieredStore, UnknownTtlCategoryError } from '../src/index.js';
import { ManualClock } from './helpers/manual-clock.js';
import { RedisServer } from './helpers/redis-server.js';

const ttl = defineTtlCategories({
  priceCrypto: '30s',
  priceStock: '30s',
  priceMacro: '5m',
  predictionHot: '1s',
  predictionNormal: '3s',
  chartData: '10m',
  websocketHistory: '5m',
});
const hotSymbols = new Set(['BTC', 'ETH', 'NVDA', 'AAPL']);

describe('defineTtlCategories', () => {
  it('turns durations into milliseconds, once', () => {
    expect(ttl.priceCrypto).toBe(30_000);
    expect(ttl.priceMacro).toBe(300_000);
    expect(ttl.chartData).toBe(600_000);
    expect(defineTtlCategories({ a: 250, b: '500ms', c: '1h', d: '1d', e: '1.5s' })).toEqual({
      a: 250,
      b: 500,
      c: 3_600_000,
      d: 86_400_000,
      e: 1_500,
    });
    expect(Object.isFrozen(ttl)).toBe(true);
  });

  it.each([
    [{ x: '30 seconds' }, 'ttlCategories.x', '"30 seconds"'],
    [{ x: 0 }, 'ttlCategories.x', '0'],
    [{ x: -5 }, 'ttlCategories.x', '-5'],
    [{ x: Number.NaN }, 'ttlCategories.x', 'NaN'],
    [{ x: '5y' }, 'ttlCategories.x', '"5y"'],
  ])('rejects %j naming the category and quoting the value', (definition, option, quoted) => {
    expect(() => defineTtlCategories(definition as never)).toThrowError(InvalidOptionError);
    expect(() => defineTtlCategories(definition as never)).toThrowError(`\`${option}\``);
    expect(() => defineTtlCategories(definition as never)).toThrowError(quoted);
  });
});

describe('TTL categories applied by rule, against a real redis-server', () => {
  let server: RedisServer;
  let admin: ReturnType<typeof createClient>;
  const stores: TieredStore[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = createClient({ url: server.url });
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.disconnect()));
    await admin.close();
    await server.stop();
  });

  function make(): { store: TieredStore<keyof typeof ttl>; keyv: Keyv } {
    const store = new TieredStore({
      primary: server.url,
      ttl: {
        categories: ttl,
        rules: [
          { match: 'price:crypto:*', category: 'priceCrypto' },
          { prefix: 'price:macro:', category: 'priceMacro' },
          {
            match: 'prediction:*',
            category: (key) => (hotSymbols.has(key.split(':')[1] ?? '') ? 'predictionHot' : 'predictionNormal'),
          },
        ],
      },
    });
    stores.push(store);
    return { store, keyv: new Keyv({ store }) };
  }

  const pttl = (key: string) => admin.pTTL(`keyv::keyv:${key}`);

  it('gives a key without a TTL its category TTL, in Redis and in memory', async () => {
    const { store, keyv } = make();
    const before = performance.now();
    await keyv.set('price:crypto:BTC', 64_000);
    const redisTtl = await pttl('price:crypto:BTC');
    expect(redisTtl).toBeGreaterThan(29_000);
    expect(redisTtl).toBeLessThanOrEqual(30_000);
    const entry = store.fallback.get('keyv::keyv:price:crypto:BTC');
    expect(entry?.expiresAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(entry?.expiresAt).toBeLessThanOrEqual(performance.now() + 30_000);
    await keyv.set('price:macro:CPI', 3.1);
    expect(await pttl('price:macro:CPI')).toBeGreaterThan(299_000);
  });

  it('lets a function choose the category (hot symbols)', async () => {
    const { keyv } = make();
    await keyv.set('prediction:NVDA', 'up');
    await keyv.set('prediction:IBM', 'flat');
    expect(await pttl('prediction:NVDA')).toBeLessThanOrEqual(1_000);
    expect(await pttl('prediction:IBM')).toBeGreaterThan(1_000);
    expect(await pttl('prediction:IBM')).toBeLessThanOrEqual(3_000);
  });

  it('lets an explicit TTL win, and leaves unmatched keys without one', async () => {
    const { keyv } = make();
    await keyv.set('price:crypto:ETH', 3_000, 5_000);
    expect(await pttl('price:crypto:ETH')).toBeLessThanOrEqual(5_000);
    await keyv.set('other:key', 1);
    expect(await pttl('other:key')).toBe(-1);
  });

  it('applies the rules to setMany too', async () => {
    const { keyv } = make();
    await keyv.setMany([
      { key: 'price:crypto:SOL', value: 150 },
      { key: 'price:macro:GDP', value: 2 },
      { key: 'price:crypto:ADA', value: 1, ttl: 2_000 },
    ]);
    expect(await pttl('price:crypto:SOL')).toBeGreaterThan(29_000);
    expect(await pttl('price:macro:GDP')).toBeGreaterThan(299_000);
    expect(await pttl('price:crypto:ADA')).toBeLessThanOrEqual(2_000);
  });

  it('keeps a memory copy read from Redis dying no later than the Redis copy (category TTL: asks PTTL)', async () => {
    const { store, keyv } = make();
    // As another instance writes a category key: Keyv's envelope has no `expires`, Redis has PX.
    const physical = 'keyv::keyv:price:crypto:DOT';
    await admin.set(physical, JSON.stringify({ value: 'from-elsewhere' }), { PX: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await keyv.get('price:crypto:DOT')).toBe('from-elsewhere');
    // Not servable until Redis's PTTL is in.
    for (let i = 0; i < 100 && store.fallback.get(physical) === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const memoryExpiry = store.fallback.get(physical)?.expiresAt ?? Number.POSITIVE_INFINITY;
    const sent = performance.now();
    const remaining = await admin.pTTL(physical);
    const received = performance.now();
    // Redis's copy dies at (the moment it computed PTTL) + remaining, which is before
    // received + remaining: the memory copy must die no later than that.
    expect(memoryExpiry).toBeLessThanOrEqual(received + remaining + 1);
    // And it follows the remaining TTL, not the original 5 s nor the category's 30 s.
    expect(memoryExpiry).toBeLessThan(sent + 4_990);
  });

  it('trusts an envelope without `expires` on a key no category covers: Keyv wrote it without a TTL', async () => {
    const { store, keyv } = make();
    await keyv.set('plain:forever', 'x');
    store.fallback.delete('keyv::keyv:plain:forever');
    expect(await keyv.get('plain:forever')).toBe('x');
    // Servable at once, no PTTL needed.
    expect(store.fallback.get('keyv::keyv:plain:forever')?.expiresAt).toBe(Number.POSITIVE_INFINITY);
  });

  it("takes a memory copy's expiry from Keyv's envelope, never later than the envelope says", async () => {
    const { store, keyv } = make();
    const physical = 'keyv::keyv:step:2';
    const expires = Date.now() + 4_000;
    await admin.set(physical, JSON.stringify({ value: { nested: { expires: 1 } }, expires }), { PX: 4_000 });
    const before = performance.now();
    expect(await keyv.get('step:2')).toEqual({ nested: { expires: 1 } });
    const entry = store.fallback.get(physical);
    expect(entry).toBeDefined();
    expect(entry?.expiresAt).toBeLessThanOrEqual(before + (expires - Date.now()) + 50);
    expect(entry?.expiresAt).toBeGreaterThan(before + 3_000);
  });

  it('fails at runtime with a clear error when a category function returns an unknown name', async () => {
    const store = new TieredStore({
      primary: server.url,
      ttl: { categories: ttl, rules: [{ match: '*', category: () => 'nope' as never }] },
    });
    stores.push(store);
    await expect(store.set('k', 'v')).rejects.toThrowError(UnknownTtlCategoryError);
    await expect(store.set('k', 'v')).rejects.toThrowError(/Unknown TTL category "nope".*"priceCrypto"/);
  });
});

describe('TTL categories: bad definitions', () => {
  it('fails to compile and fails at construction on an unknown category name', () => {
    const make = () =>
      new TieredStore({
        primary: 'redis://127.0.0.1:1',
        // @ts-expect-error: 'priceBond' is not a defined category.
        ttl: { categories: ttl, rules: [{ prefix: 'bond:', category: 'priceBond' }] },
      });
    expect(make).toThrowError(UnknownTtlCategoryError);
    expect(make).toThrowError(/"priceBond" in ttl\.rules\[0\]\.category/);
  });

  it.each([
    [{ categories: ttl, rules: [{ category: 'priceCrypto' }] }, 'ttl.rules[0]'],
    [{ categories: ttl, rules: [{ match: '', category: 'priceCrypto' }] }, 'ttl.rules[0]'],
    [{ categories: ttl, rules: [{ match: 'a', prefix: 'b', category: 'priceCrypto' }] }, 'ttl.rules[0]'],
    [{ categories: ttl, rules: 'price:*' }, 'ttl.rules'],
    [{ categories: {}, rules: [] }, 'ttl.categories'],
    [{ categories: { a: '30s' }, rules: [] }, 'ttl.categories.a'],
  ])('rejects %j naming %s', (option, name) => {
    expect(() => new TieredStore({ primary: 'redis://127.0.0.1:1', ttl: option as never })).toThrowError(`\`${name}\``);
  });
});

describe('memory-first staleness is bounded by memoryTtlMs (injected clock)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('answers from memory within memoryTtlMs, then asks Redis again', async () => {
    const clock = new ManualClock();
    const a = new TieredStore({ primary: server.url, readPolicy: 'memory-first', memoryTtlMs: 500, clock });
    const b = new TieredStore({ primary: server.url });
    const keyvA = new Keyv({ store: a });
    const keyvB = new Keyv({ store: b });
    await keyvA.set('shared', 'v1');
    await keyvB.set('shared', 'v2');
    expect(await keyvA.get('shared')).toBe('v1');
    expect(a.stats().hits).toEqual({ primary: 0, memory: 1 });
    clock.advance(499);
    expect(await keyvA.get('shared')).toBe('v1');
    clock.advance(1);
    expect(await keyvA.get('shared')).toBe('v2');
    expect(a.stats().hits).toEqual({ primary: 1, memory: 2 });
    // Written without a TTL, so the envelope has none: the copy serves once Redis's PTTL is in.
    for (let i = 0; i < 100 && a.fallback.get('keyv::keyv:shared') === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Confirmed by the primary: memory answers again for the next 500 ms.
    expect(await keyvA.get('shared')).toBe('v2');
    expect(a.stats().hits).toEqual({ primary: 1, memory: 3 });
    // The deadline timer outlives the calls by at most one deadline, then stops: nothing leaks.
    clock.advance(100);
    expect(clock.pendingTimers).toBe(0);
    await a.disconnect();
    await b.disconnect();
  });
});
