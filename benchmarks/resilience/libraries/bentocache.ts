import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import type { CacheClient, LibraryAdapter, RawEntry, VersionedValue } from './types.js';

/** Bentocache's default TTL (30 min): the probe's entry must be alive in its eyes. */
const BENTO_TTL_MS = 30 * 60 * 1000;

/**
 * Bentocache's quick-setup multi-tier store: memory L1 (10 MB) and the Redis driver (ioredis) as L2,
 * no bus (one instance). All other options are its defaults.
 */
export const bentocache: LibraryAdapter = {
  name: 'bentocache',
  create(url: string): CacheClient {
    const parsed = new URL(url);
    const password = parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
    const connection = { host: parsed.hostname, port: Number(parsed.port), ...(password ? { password } : {}) };
    const bento = new BentoCache({
      default: 'cache',
      stores: {
        cache: bentostore()
          .useL1Layer(memoryDriver({ maxSize: '10mb' }))
          .useL2Layer(redisDriver({ connection })),
      },
    });
    return {
      get: (key) => bento.get({ key }),
      set: (key, value) => bento.set({ key, value }),
      delete: (key) => bento.delete({ key }),
      close: () => bento.disconnectAll(),
      // Bentocache has no 'error' event: with an L1, L2 errors are suppressed (`suppressL2Errors`).
      errorEvents: () => 0,
    };
  },
  encodeRaw(key: string, value: VersionedValue): RawEntry {
    const now = Date.now();
    return {
      key: `bentocache:${key}`,
      value: JSON.stringify({ value, logicalExpiration: now + BENTO_TTL_MS, tags: [], createdAt: now }),
      pxMs: BENTO_TTL_MS,
    };
  },
};
