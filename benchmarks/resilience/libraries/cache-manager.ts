import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { CacheableMemory } from 'cacheable';
import Keyv from 'keyv';
import { encodeKeyvRedis } from './keyv-layout.js';
import { type CacheClient, errorCounter, type LibraryAdapter } from './types.js';

/**
 * cache-manager 7's README multi-store example: an in-memory Keyv (CacheableMemory, 60 s, 5000
 * entries) in front of a Keyv over @keyv/redis. The memory tier makes it comparable with the other
 * two-tier libraries; the Redis tier alone behaves as Keyv + @keyv/redis does.
 */
export const cacheManager: LibraryAdapter = {
  name: 'cache-manager',
  create(url: string): CacheClient {
    const memory = new Keyv({ store: new CacheableMemory({ ttl: 60_000, lruSize: 5000 }) });
    const redis = new Keyv({ store: new KeyvRedis(url) });
    const errors = errorCounter();
    memory.on('error', errors.listener);
    redis.on('error', errors.listener);
    const cache = createCache({ stores: [memory, redis] });
    return {
      get: (key) => cache.get(key),
      set: async (key, value) => {
        await cache.set(key, value);
        return undefined;
      },
      delete: (key) => cache.del(key),
      close: async () => {
        await cache.disconnect();
      },
      errorEvents: errors.count,
    };
  },
  encodeRaw: encodeKeyvRedis,
};
