import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, MemoryTier, TieredStore } from '../src/index.js';
import { ManualClock } from './helpers/manual-clock.js';
import { RedisServer } from './helpers/redis-server.js';

describe('MemoryTier bounds (injected clock)', () => {
  it('evicts the least recently used entry past max, and counts it', () => {
    const tier = new MemoryTier({ max: 2, clock: new ManualClock() });
    tier.set('a', 1, Number.POSITIVE_INFINITY);
    tier.set('b', 2, Number.POSITIVE_INFINITY);
    tier.get('a');
    tier.set('c', 3, Number.POSITIVE_INFINITY);
    expect(tier.get('b')).toBeUndefined();
    expect(tier.get('a')?.value).toBe(1);
    expect(tier.evictions).toBe(1);
  });

  it('keeps total bytes under maxSize, counting the bookkeeping of each entry too', () => {
    const tier = new MemoryTier({ max: 1_000, maxSize: 10 * (100 + ENTRY_OVERHEAD_BYTES), clock: new ManualClock() });
    for (let i = 0; i < 100; i++) tier.set(`k${i}`.padEnd(3, '_'), 'x'.repeat(97), Number.POSITIVE_INFINITY);
    expect(tier.calculatedSize).toBeLessThanOrEqual(10 * (100 + ENTRY_OVERHEAD_BYTES));
    expect(tier.size).toBe(10);
    expect(tier.evictions).toBe(90);
  });

  it('expires a copy at expiresAt on the injected clock', () => {
    const clock = new ManualClock();
    const tier = new MemoryTier({ clock });
    tier.set('k', 'v', clock.now() + 1_000);
    clock.advance(999);
    expect(tier.get('k')?.value).toBe('v');
    clock.advance(1);
    expect(tier.get('k')).toBeUndefined();
    expect(tier.expirations).toBe(1);
  });

  it('refuses an oversize value and drops the older copy it would have replaced', () => {
    const tier = new MemoryTier({ maxEntrySize: ENTRY_OVERHEAD_BYTES + 50, clock: new ManualClock() });
    expect(tier.set('k', 'small', Number.POSITIVE_INFINITY)).toBeDefined();
    expect(tier.set('k', 'x'.repeat(100), Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(tier.get('k')).toBeUndefined();
    expect(tier.oversize).toBe(1);
  });

  it('keeps a copy with a pending TTL unservable until its expiry arrives, unless replaced', () => {
    const clock = new ManualClock();
    const tier = new MemoryTier({ clock });
    const pending = tier.set('k', 'v', undefined);
    expect(tier.get('k')).toBeUndefined();
    expect(tier.size).toBe(1);
    tier.expire('k', pending as NonNullable<typeof pending>, clock.now() + 1_000);
    expect(tier.get('k')?.value).toBe('v');
    const stale = tier.set('k', 'old', undefined);
    tier.set('k', 'new', clock.now() + 5_000);
    tier.expire('k', stale as NonNullable<typeof stale>, clock.now() + 1);
    clock.advance(10);
    expect(tier.get('k')?.value).toBe('new');
  });

  it('clears exactly the keys of one prefix, never a longer namespace that shares its start', () => {
    const tier = new MemoryTier({ clock: new ManualClock() });
    const keys = ['a::a:1', 'a::a:2', 'a::b::a::b:1', 'b::b:1', 'bare'];
    for (const key of keys) tier.set(key, key, Number.POSITIVE_INFINITY);
    expect([...tier.entries('a::a:')].map(([k]) => k)).toEqual(['a::a:2', 'a::a:1']);
    tier.clear('a::a:');
    expect(keys.filter((key) => tier.get(key) !== undefined)).toEqual(['a::b::a::b:1', 'b::b:1', 'bare']);
  });
});

describe('oversize entries with a real redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('go to the primary only, are counted, and never leave an older copy to serve', async () => {
    const store = new TieredStore({ primary: server.url, fallback: { maxEntrySize: ENTRY_OVERHEAD_BYTES + 200 } });
    const keyv = new Keyv({ store });
    expect(await keyv.set('big', 'small')).toBe(true);
    const big = 'x'.repeat(1_000);
    expect(await keyv.set('big', big)).toBe(true);
    expect(store.fallback.get('keyv::keyv:big')).toBeUndefined();
    expect(await keyv.get('big')).toBe(big);
    expect(store.stats().oversize).toBe(2);
    await server.kill();
    // The small, older value must not come back from memory.
    expect(await keyv.get('big')).toBeUndefined();
    // Either the call failed, or the lost connection had already opened the breaker.
    expect(store.stats().primaryFailures + store.stats().shortCircuits).toBe(1);
    await store.disconnect();
  });
});

describe('MemoryTier.refresh', () => {
  it('moves the expiry of an unchanged copy in place, and replaces a changed one', () => {
    const clock = new ManualClock();
    const tier = new MemoryTier({ clock });
    const first = tier.set('k', 'v1', clock.now() + 1_000);
    clock.advance(500);
    tier.refresh('k', 'v1', clock.now() + 1_000);
    expect(tier.get('k')).toBe(first);
    expect(tier.get('k')?.expiresAt).toBe(clock.now() + 1_000);
    expect(tier.get('k')?.refreshedAt).toBe(clock.now());
    tier.refresh('k', 'v2', clock.now() + 2_000);
    expect(tier.get('k')?.value).toBe('v2');
    expect(tier.get('k')).not.toBe(first);
  });
});
