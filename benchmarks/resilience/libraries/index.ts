import type { LibraryName } from '../protocol.js';
import type { LibraryAdapter } from './types.js';

export interface LibraryEntry {
  /** One line for the report: how the library is built (each adapter's file shows it in full). */
  readonly configuredAs: string;
  /**
   * Imported on demand: a child loads only the library it tests (start-up is paid 35 times), and
   * the orchestrator loads none.
   */
  load(): Promise<LibraryAdapter>;
}

export const LIBRARIES: Readonly<Record<LibraryName, LibraryEntry>> = {
  'tiered-store': {
    configuredAs: 'new Keyv({ store: new TieredStore({ primary: url }) }), all defaults (100 ms deadline)',
    load: async () => (await import('./tiered-store.js')).tieredStore,
  },
  'keyv-redis': {
    configuredAs: "new Keyv({ store: new KeyvRedis(url) }); keyv.on('error', …)",
    load: async () => (await import('./keyv-redis.js')).keyvRedis,
  },
  cacheable: {
    configuredAs: "new Cacheable({ secondary: new KeyvRedis(url) }); cache.on('error', …)",
    load: async () => (await import('./cacheable.js')).cacheable,
  },
  'cache-manager': {
    configuredAs:
      'createCache({ stores: [new Keyv({ store: new CacheableMemory({ ttl: 60000, lruSize: 5000 }) }), new Keyv({ store: new KeyvRedis(url) })] })',
    load: async () => (await import('./cache-manager.js')).cacheManager,
  },
  bentocache: {
    configuredAs:
      "new BentoCache({ default: 'cache', stores: { cache: bentostore().useL1Layer(memoryDriver({ maxSize: '10mb' })).useL2Layer(redisDriver({ connection })) } })",
    load: async () => (await import('./bentocache.js')).bentocache,
  },
};
