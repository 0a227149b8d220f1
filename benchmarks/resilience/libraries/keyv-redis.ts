import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { encodeKeyvRedis } from './keyv-layout.js';
import { type CacheClient, errorCounter, type LibraryAdapter } from './types.js';

/** Plain Keyv over @keyv/redis, as the @keyv/redis README shows, with the 'error' listener it advises. */
export const keyvRedis: LibraryAdapter = {
  name: 'keyv-redis',
  create(url: string): CacheClient {
    const keyv = new Keyv({ store: new KeyvRedis(url) });
    const errors = errorCounter();
    keyv.on('error', errors.listener);
    return {
      get: (key) => keyv.get(key),
      set: (key, value) => keyv.set(key, value),
      delete: (key) => keyv.delete(key),
      close: () => keyv.disconnect(),
      errorEvents: errors.count,
    };
  },
  encodeRaw: encodeKeyvRedis,
};
