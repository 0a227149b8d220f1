import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Cacheable } from 'cacheable';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import type { Subject } from './subjects.js';

/**
 * The L1 of the Redis-path neighbours holds this many entries while the scenarios rotate through
 * more keys, so that every read is an L1 miss answered by Redis, as the issue asks.
 */
export const SMALL_L1_ENTRIES = 16;

/** cacheable with nothing but its default in-memory primary (README "Basic Usage"). */
export function cacheableMemory(): Subject {
  const cache = new Cacheable();
  return {
    name: 'cacheable L1',
    role: 'neighbour',
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value),
    close: () => cache.disconnect(),
  };
}

/** cache-manager's `createCache()` with its default memory store (README "Quick start"). */
export function cacheManagerMemory(): Subject {
  const cache = createCache();
  return {
    name: 'cache-manager memory',
    role: 'neighbour',
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value),
    close: async () => {
      await cache.disconnect();
    },
  };
}

/** bentocache with the memory driver as its only layer (its defaults: entries serialized). */
export function bentoMemory(): Subject {
  const bento = new BentoCache({ default: 'memory', stores: { memory: bentostore().useL1Layer(memoryDriver()) } });
  return {
    name: 'bentocache L1',
    role: 'neighbour',
    get: (key) => bento.get({ key }),
    set: (key, value) => bento.set({ key, value }),
    close: () => bento.disconnectAll(),
  };
}

/** cacheable with an lru-cache primary and @keyv/redis secondary (README "Basic Usage", second example). */
export function cacheableRedis(url: string, namespace: string): Subject {
  const primary = new Keyv({ store: new LRUCache<string, NonNullable<unknown>>({ max: SMALL_L1_ENTRIES }) });
  const cache = new Cacheable({ primary, secondary: new KeyvRedis(url), namespace });
  cache.on('error', () => {});
  return {
    name: 'cacheable (L1 miss -> @keyv/redis)',
    role: 'neighbour',
    note: `L1 lru-cache of ${SMALL_L1_ENTRIES} entries`,
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value),
    close: () => cache.disconnect(),
  };
}

/** cache-manager with one Keyv(@keyv/redis) store (README "Quick start" with a Redis store). */
export function cacheManagerRedis(url: string, namespace: string): Subject {
  const cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(url), namespace })] });
  return {
    name: 'cache-manager + Keyv(@keyv/redis)',
    role: 'neighbour',
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value),
    close: async () => {
      await cache.disconnect();
    },
  };
}

/** bentocache with a memory L1 and an ioredis L2 (its multi-tier setup), no bus. */
export function bentoRedis(url: string, prefix: string): Subject {
  const { hostname, port } = new URL(url);
  const bento = new BentoCache({
    default: 'tiered',
    prefix,
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: SMALL_L1_ENTRIES }))
        .useL2Layer(redisDriver({ connection: { host: hostname, port: Number(port) } })),
    },
  });
  return {
    name: 'bentocache (L1 miss -> ioredis)',
    role: 'neighbour',
    note: `L1 memory driver of ${SMALL_L1_ENTRIES} entries`,
    get: (key) => bento.get({ key }),
    set: (key, value) => bento.set({ key, value }),
    close: () => bento.disconnectAll(),
  };
}
