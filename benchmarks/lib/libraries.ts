import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Cacheable, CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import type * as Api from '../../src/index.js';
import type { TieredStore, TieredStoreOptions } from '../../src/index.js';

/** Every library both benchmarks measure, built as its README shows, behind one shape; no URL: memory only. */
export interface Client {
  get(key: string): Promise<unknown>;
  /** Resolves `false` when the library said the write failed. */
  set(key: string, value: unknown): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  /** Releases connections; may hang on a dead server, so callers bound it. */
  close(): Promise<unknown>;
  /** `error` events so far (listened to, as the READMEs advise: unheard, one would crash the process). */
  errorEvents(): number;
  /** TieredStore only: the store itself. */
  readonly store?: TieredStore;
  /**
   * The library's own read-through call, as its README shows it (TieredStore `getOrSet`, cacheable
   * `getOrSet`, cache-manager `wrap`, bentocache `getOrSet`); plain Keyv has none.
   */
  readonly getOrSet?: (key: string, loader: () => Promise<unknown>, ttlMs: number | undefined) => Promise<unknown>;
}

/** `namespace` for keys; `smallL1`: entries of a memory tier small enough that reads miss it and reach Redis. */
export type BuildOptions = { namespace?: string; smallL1?: number };

/** A library: how it is configured (one line for the reports), how it is built, how it lays a key out in Redis. */
export interface Library {
  readonly configuredAs: string;
  create(url: string | undefined, options?: BuildOptions): Client;
  encodeRaw(key: string, value: unknown): { key: string; value: string; pxMs?: number };
}

/**
 * The package as users get it: the bundle in dist/ (the bench scripts build it first), not the
 * sources, whose tsx helpers cost the Redis path microseconds a call that no user pays; the
 * neighbours are measured from their published builds too. Types still come from the sources.
 */
const bundle = new URL('../../dist/index.js', import.meta.url);
if (!existsSync(fileURLToPath(bundle))) throw new Error('dist/index.js is missing: run `npm run build` first');
const pkg = (await import(bundle.href)) as typeof Api;

/** Keyv's `namespace` option, left out when undefined: an explicit `undefined` would turn Keyv's default `keyv` off. */
const ns = (namespace: string | undefined) => (namespace === undefined ? {} : { namespace });

function errorCount(...emitters: Array<{ on(event: 'error', listener: () => void): unknown }>): () => number {
  let errors = 0;
  for (const emitter of emitters) emitter.on('error', () => errors++);
  return () => errors;
}

/** A Keyv or a Cacheable (they have the same calls) as a client. */
export const keyvLike = (cache: Keyv | Cacheable, store?: TieredStore): Client => ({
  get: (key) => cache.get(key),
  set: (key, value) => cache.set(key, value),
  delete: (key) => cache.delete(key),
  close: () => cache.disconnect(),
  errorEvents: errorCount(cache),
  ...(store
    ? { store, getOrSet: (key, loader, ttl) => store.getOrSet(key, loader, ttl === undefined ? {} : { ttl }) }
    : {}),
  ...(cache instanceof Cacheable
    ? { getOrSet: (key, loader, ttl) => cache.getOrSet(key, loader, ttl === undefined ? {} : { ttl }) }
    : {}),
});

/** Keyv (namespace `keyv`) over @keyv/redis keeps `keyv::keyv:<key>`, its envelope without `expires`; so does TieredStore. */
const keyvLayout = (key: string, value: unknown) => ({ key: `keyv::keyv:${key}`, value: JSON.stringify({ value }) });

/** A TieredStore under Keyv, as an application uses it; `serialize: false` turns Keyv's serializer off. */
export function tieredKeyv(options: TieredStoreOptions, namespace?: string, serialize = true) {
  const store = new pkg.TieredStore(options);
  const keyv = new Keyv({ store, ...ns(namespace) });
  if (!serialize) [keyv.serialize, keyv.deserialize] = [undefined, undefined];
  return { keyv, store, client: keyvLike(keyv, store) };
}

/** Bentocache's default TTL (30 min): a raw-written probe must be alive in its eyes. */
const BENTO_TTL_MS = 30 * 60 * 1000;

export const LIBRARIES = {
  'tiered-store': {
    configuredAs: 'new Keyv({ store: new TieredStore({ primary: url }) }), all defaults (100 ms deadline)',
    create: (url, options: BuildOptions = {}) => tieredKeyv({ primary: String(url) }, options.namespace).client,
    encodeRaw: keyvLayout,
  },
  'keyv-redis': {
    configuredAs: "new Keyv({ store: new KeyvRedis(url) }); keyv.on('error', …)",
    create: (url, options: BuildOptions = {}) =>
      keyvLike(new Keyv({ store: new KeyvRedis(url), ...ns(options.namespace) })),
    encodeRaw: keyvLayout,
  },
  cacheable: {
    configuredAs: "new Cacheable({ secondary: new KeyvRedis(url) }); cache.on('error', …)",
    create(url, options: BuildOptions = {}) {
      // Its default in-memory primary, or an lru-cache one small enough to miss.
      const small = options.smallL1 && { primary: new Keyv({ store: new LRUCache({ max: options.smallL1 }) }) };
      const secondary = url === undefined ? {} : { secondary: new KeyvRedis(url) };
      return keyvLike(new Cacheable({ ...small, ...secondary, ...ns(options.namespace) }));
    },
    encodeRaw: keyvLayout,
  },
  'cache-manager': {
    configuredAs:
      'createCache({ stores: [new Keyv({ store: new CacheableMemory({ ttl: 60000, lruSize: 5000 }) }), new Keyv({ store: new KeyvRedis(url) })] })',
    create(url, options: BuildOptions = {}) {
      // The README's two-store example, so that it has a memory tier like the others; with
      // `smallL1` its Redis store alone (every read misses memory anyway). No URL: `createCache()`.
      const redis = url && new Keyv({ store: new KeyvRedis(url), ...ns(options.namespace) });
      const memory = new Keyv({ store: new CacheableMemory({ ttl: 60_000, lruSize: 5000 }) });
      const stores = redis ? (options.smallL1 ? [redis] : [memory, redis]) : [];
      const cache = createCache(redis ? { stores } : undefined);
      const set = async (key: string, value: unknown) => void (await cache.set(key, value));
      const [get, del] = [(key: string) => cache.get(key), (key: string) => cache.del(key)];
      const getOrSet = (key: string, loader: () => Promise<unknown>, ttl: number | undefined) =>
        cache.wrap(key, loader, ttl);
      return { get, set, delete: del, getOrSet, close: () => cache.disconnect(), errorEvents: errorCount(...stores) };
    },
    encodeRaw: keyvLayout,
  },
  bentocache: {
    configuredAs:
      "new BentoCache({ default: 'cache', stores: { cache: bentostore().useL1Layer(memoryDriver({ maxSize: '10mb' })).useL2Layer(redisDriver({ connection })) } })",
    create(url, options: BuildOptions = {}) {
      const l1 = options.smallL1 ? { maxItems: options.smallL1 } : url ? { maxSize: '10mb' } : {};
      let store = bentostore().useL1Layer(memoryDriver(l1));
      if (url !== undefined) {
        const { hostname: host, port, password } = new URL(url);
        const auth = password ? { password: decodeURIComponent(password) } : {};
        store = store.useL2Layer(redisDriver({ connection: { host, port: Number(port), ...auth } }));
      }
      const prefix = options.namespace === undefined ? {} : { prefix: options.namespace };
      const bento = new BentoCache({ default: 'cache', ...prefix, stores: { cache: store } });
      const [get, del] = [(key: string) => bento.get({ key }), (key: string) => bento.delete({ key })];
      const set = (key: string, value: unknown) => bento.set({ key, value });
      const getOrSet = (key: string, factory: () => Promise<unknown>, ttl: number | undefined) =>
        bento.getOrSet({ key, factory, ...(ttl === undefined ? {} : { ttl }) });
      // No 'error' event: with an L1, L2 errors are suppressed (`suppressL2Errors`).
      return { get, set, delete: del, getOrSet, close: () => bento.disconnectAll(), errorEvents: () => 0 };
    },
    encodeRaw(key, value) {
      const now = Date.now();
      const entry = { value, logicalExpiration: now + BENTO_TTL_MS, tags: [], createdAt: now };
      return { key: `bentocache:${key}`, value: JSON.stringify(entry), pxMs: BENTO_TTL_MS };
    },
  },
} satisfies Record<string, Library>;

/** The libraries by name, in report order. */
export type LibraryName = keyof typeof LIBRARIES;
export const LIBRARY_NAMES = Object.keys(LIBRARIES) as LibraryName[];
