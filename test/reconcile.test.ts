import { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { defineTtlCategories, TieredStore, type TieredStoreOptions } from '../src/index.js';
import { ManualClock } from './helpers/manual-clock.js';
import { RedisServer } from './helpers/redis-server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: Partial<TieredStoreOptions> = {}) {
  const server = await RedisServer.start();
  cleanups.push(() => server.stop());
  const store = new TieredStore({ primary: server.url, reconnectMaxDelayMs: 50, ...options });
  cleanups.push(() => store.disconnect());
  const keyv = new Keyv({ store });
  // Learn the server before the outage, as a long-running instance would have.
  await keyv.set('warm', 1);
  return { server, store, keyv };
}

function closed(store: TieredStore): Promise<void> {
  return new Promise((resolve) => {
    const listener = (event: { to: string }) => {
      if (event.to !== 'closed') return;
      store.off('circuit:state', listener);
      resolve();
    };
    store.on('circuit:state', listener);
  });
}

/** Kills Redis, runs `during` against the store, restarts Redis from its (empty) state, waits for recovery. */
async function outage(server: RedisServer, store: TieredStore, during: () => Promise<void>): Promise<void> {
  await server.kill();
  await during();
  const recovered = closed(store);
  await server.restart();
  await recovered;
}

describe('reconciliation after an outage (real redis-server)', () => {
  it('invalidate (default): keys written or deleted during the outage are deleted from Redis, in order', async () => {
    // Per-instance reconciliation after the restart (the default recovers the whole namespace instead).
    const { server, store, keyv } = await setup({ restartRecovery: 'own-writes' });
    await outage(server, store, async () => {
      expect(await keyv.set('a', 'outage-a', 60_000)).toBe(false);
      expect(await keyv.delete('b')).toBe(false);
      expect(store.journal.size).toBe(2);
    });
    expect(store.journal.size).toBe(0);
    // a, b, and 'warm' (written before the outage to a server that restarted: it may hold an older copy).
    expect(store.stats().reconciled.keys).toBe(3);
    expect(store.stats().restarts).toBe(1);
    // Invalidated, not replayed: the next read misses and is filled from the source of truth.
    expect(await keyv.get('a')).toBeUndefined();
  });

  it('replay: the newest memory value is written back with its remaining TTL; deletes are deleted', async () => {
    const { server, store, keyv } = await setup({ reconcile: 'replay' });
    await outage(server, store, async () => {
      await keyv.set('a', 'outage-a', 60_000);
      await keyv.set('gone', 'x', 60_000);
      await keyv.delete('gone');
    });
    const admin = createClient({ url: server.url });
    await admin.connect();
    const pttl = await admin.pTTL('keyv::keyv:a');
    expect(pttl).toBeGreaterThan(55_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await admin.exists('keyv::keyv:gone')).toBe(0);
    await admin.close();
    expect(await keyv.get('a')).toBe('outage-a');
    expect(store.stats().hits.primary).toBeGreaterThan(0);
  });

  it('journal overflow: the namespace is invalidated whole, since the journal no longer names every key', async () => {
    const { server, store, keyv } = await setup({ journalMaxKeys: 3, restartRecovery: 'own-writes' });
    const other = new Keyv({ store: new TieredStore({ primary: server.url }) });
    cleanups.push(() => other.disconnect());
    await other.set('written-before', 'old');
    await outage(server, store, async () => {
      for (let i = 0; i < 6; i++) await keyv.set(`k${i}`, i);
    });
    // k3..k5 did not fit, nor did 'warm', handed over when the restart was detected.
    expect(store.stats().journal.overflows).toBe(4);
    const admin = createClient({ url: server.url });
    await admin.connect();
    expect(await admin.dbSize()).toBe(0);
    await admin.close();
  });
});

describe('stale-if-error per category (injected clock for the memory tier)', () => {
  it('serves an expired copy within its grace only while the primary is unavailable, and counts it', async () => {
    const clock = new ManualClock();
    const ttl = defineTtlCategories({ price: { ttl: '30s', staleIfError: '2m' }, strict: '30s' });
    const { server, store, keyv } = await setup({
      clock,
      ttl: {
        categories: ttl,
        rules: [
          { prefix: 'price:', category: 'price' },
          { prefix: 'strict:', category: 'strict' },
        ],
      },
    });
    await keyv.set('price:BTC', 64_000);
    await keyv.set('strict:x', 1);
    expect(ttl.price).toBe(30_000);
    await server.kill();
    clock.advance(31_000);
    expect(await keyv.get('price:BTC')).toBe(64_000);
    expect(await keyv.get('strict:x')).toBeUndefined();
    expect(store.stats().staleServes).toBe(1);
    clock.advance(120_000);
    expect(await keyv.get('price:BTC')).toBeUndefined();
    expect(store.stats().staleServes).toBe(1);
  });

  it('rejects a bad grace, naming the category', () => {
    expect(() => defineTtlCategories({ price: { ttl: '30s', staleIfError: 'soon' as never } })).toThrowError(
      '`ttlCategories.price.staleIfError`',
    );
  });
});
