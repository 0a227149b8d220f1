import KeyvRedis from '@keyv/redis';
import { Cacheable } from 'cacheable';
import { encodeKeyvRedis } from './keyv-layout.js';
import { type CacheClient, errorCounter, type LibraryAdapter } from './types.js';

/** cacheable's README layer-1/layer-2 example: its default in-memory primary, Redis as `secondary`. */
export const cacheable: LibraryAdapter = {
  name: 'cacheable',
  create(url: string): CacheClient {
    const cache = new Cacheable({ secondary: new KeyvRedis(url) });
    const errors = errorCounter();
    cache.on('error', errors.listener);
    return {
      get: (key) => cache.get(key),
      set: (key, value) => cache.set(key, value),
      delete: (key) => cache.delete(key),
      close: () => cache.disconnect(),
      errorEvents: errors.count,
    };
  },
  encodeRaw: encodeKeyvRedis,
};
