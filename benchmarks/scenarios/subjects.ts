import { createClient } from '@keyv/redis';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import { freePort } from '../../harness/free-port.js';
import { RedisServer } from '../../harness/redis-server.js';
import type { TieredStore, TieredStoreOptions } from '../../src/index.js';
import { type Client, keyvLike, LIBRARIES, tieredKeyv } from '../lib/libraries.js';
import type { Role, Subject } from './types.js';

/** The Redis-path neighbours' L1 holds this many entries, fewer than the keys read, so that every read misses it. */
const SMALL_L1 = 16;

const subject = (name: string, role: Role, client: Pick<Client, 'get' | 'set' | 'close'>): Subject => {
  return { name, role, get: client.get, set: client.set, close: client.close };
};

/** Keyv over lru-cache (it has the calls Keyv needs; Keyv's numeric ttl lands in its options, ignored). */
function keyvLru(serialize: boolean): Keyv {
  const keyv = new Keyv({ store: new LRUCache({ max: 100_000 }) });
  if (!serialize) [keyv.serialize, keyv.deserialize] = [undefined, undefined];
  return keyv;
}

/** The memory path's floors and neighbours: raw lru-cache (sync), Keyv's Map store, Keyv over lru-cache, the L1s. */
export function memorySubjects(): { baselines: Subject[]; neighbours: Subject[] } {
  const lru = new LRUCache<string, object>({ max: 100_000 });
  const raw = { get: (key: string) => lru.get(key), set: (key: string, v: unknown) => lru.set(key, v as object) };
  const baselines = [
    { name: 'lru-cache get (raw, sync)', role: 'baseline' as const, ...raw, close: async () => {} },
    subject('Keyv (Map store)', 'baseline', keyvLike(new Keyv())),
    subject('Keyv + lru-cache store', 'baseline', keyvLike(keyvLru(true))),
    subject('Keyv + lru-cache store, serialize off', 'baseline', keyvLike(keyvLru(false))),
  ];
  // cacheable's default L1, cache-manager's `createCache()`, bentocache's memory driver.
  const neighbours = [
    subject('cacheable L1', 'neighbour', LIBRARIES.cacheable.create(undefined)),
    subject('cache-manager memory', 'neighbour', LIBRARIES['cache-manager'].create(undefined)),
    subject('bentocache L1', 'neighbour', LIBRARIES.bentocache.create(undefined)),
  ];
  return { baselines, neighbours };
}

/** Keyv + @keyv/redis, then the neighbours whose reads miss their small L1 and reach Redis. */
export function redisNeighbours(url: string, ns: (name: string) => string): Subject[] {
  const build = (name: keyof typeof LIBRARIES) =>
    LIBRARIES[name].create(url, { namespace: ns(name), smallL1: SMALL_L1 });
  const small = (what: string): string => `L1 ${what} of ${SMALL_L1} entries`;
  return [
    subject('Keyv + @keyv/redis', 'baseline', build('keyv-redis')),
    { ...subject('cacheable (L1 miss -> @keyv/redis)', 'neighbour', build('cacheable')), note: small('lru-cache') },
    subject('cache-manager + Keyv(@keyv/redis)', 'neighbour', build('cache-manager')),
    { ...subject('bentocache (L1 miss -> ioredis)', 'neighbour', build('bentocache')), note: small('memory driver') },
  ];
}

/** The Redis floor: node-redis GET/SET of the JSON string; no parse, no envelope, no TTL lookup. */
export async function rawRedis(url: string): Promise<Subject> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  const get = (key: string) => client.get(key);
  const set = (key: string, v: unknown) => client.set(key, JSON.stringify(v));
  const raw = subject('node-redis GET/SET (raw)', 'baseline', { get, set, close: async () => client.destroy() });
  return { ...raw, note: 'JSON.stringify on set, no parse on get' };
}

/** The counters that tell a call which did not get a Redis answer. */
export function storeHealth(store: TieredStore): Record<string, number> {
  const { timeouts, primaryFailures, shortCircuits, fallbackServes } = store.stats();
  return { timeouts, primaryFailures, shortCircuits, fallbackServes };
}

/** A TieredStore under Keyv; `serialize: false` turns Keyv's serializer off. */
export function tiered(name: string, options: TieredStoreOptions, namespace: string, note?: string, serialize = true) {
  const { client, store } = tieredKeyv(options, namespace, serialize);
  const health = () => storeHealth(store);
  return { ...subject(name, 'keyv-failsafe', client), ...(note ? { note } : {}), store, health };
}

/**
 * Resolves once `store`'s near-cache is `live` (tracking armed: copies made from now on are
 * verified), or after `timeoutMs`; says which, so that a row measured without it can say so.
 */
export async function untilLive(store: TieredStore, timeoutMs = 2_000): Promise<string | undefined> {
  if (store.nearCacheState === 'live') return undefined;
  const live = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    store.on('near-cache:state', ({ state }) => {
      if (state !== 'live') return;
      clearTimeout(timer);
      resolve(true);
    });
  });
  return live ? undefined : `WARNING: near-cache not live within ${timeoutMs} ms (${store.nearCacheState})`;
}

/** How often a yielding subject lets the event loop turn (see {@link yielding}). */
export const YIELD_EVERY_MS = 5;

/**
 * `op`, but at most every `everyMs` one call first yields to the event loop (`setImmediate`, timed
 * with that call), as an application's loop turns between requests. A loop of memory hits that
 * never yields starves timers and sockets: the near-cache's heartbeat would go unanswered, its
 * lease lapse, and every copy be revalidated, which is right for a stuck process but not what a
 * serving one sees.
 */
export function yielding<A extends unknown[], R>(op: (...args: A) => R, everyMs = YIELD_EVERY_MS) {
  let last = performance.now();
  let calls = 0;
  return (...args: A): R | Promise<R> => {
    // The clock every 32nd call only: read on every call it cost the near-cache rows ~40 ns a hit
    // that the memory-first rows they are compared with do not pay (32 hits take ~25 µs).
    if ((++calls & 31) !== 0) return op(...args);
    const now = performance.now();
    if (now - last < everyMs) return op(...args);
    last = now;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => op(...args));
  };
}

/**
 * A near-cache TieredStore as a subject of a hit group. Its reads yield now and then
 * ({@link yielding}); before each round, untimed, it reads the round's keys (one `getMany`, so that
 * a far Redis costs one round trip a pass) until a pass finds every copy verified: the other
 * subjects' rounds starve its heartbeat, so its lease has lapsed by then. Its health counts the
 * revalidations of the timed reads only, so that a row that was not all verified hits says so.
 */
export function nearCacheTiered(name: string, options: TieredStoreOptions, namespace: string, serialize = true) {
  const { keyv, store, client } = tieredKeyv({ ...options, readPolicy: 'near-cache' }, namespace, serialize);
  const revalidations = () => store.stats().nearCache.revalidations;
  let untimed = 0;
  async function beforeRound(keys: readonly string[]): Promise<void> {
    const started = revalidations();
    for (let pass = 0, until = performance.now() + 5_000; performance.now() < until && pass < 10; pass++) {
      // A turn for timers: an overdue heartbeat is sent now, and answered while the pass reads Redis.
      await new Promise((resolve) => setTimeout(resolve, 1));
      const before = revalidations();
      await keyv.getMany([...keys]);
      if (revalidations() === before) break;
    }
    untimed += revalidations() - started;
  }
  const health = () => ({ ...storeHealth(store), revalidations: revalidations() - untimed });
  const near = subject(name, 'keyv-failsafe', client);
  return { ...near, store, get: yielding(near.get), beforeRound, health } as Subject & { store: TieredStore };
}

/** A Redis URL nothing listens on: the store's first connection attempt is refused at once. */
export const refusedUrl = async (): Promise<string> => `redis://127.0.0.1:${await freePort()}`;

/**
 * A TieredStore whose Redis goes away after the preload: a server of our own, killed (the breaker
 * opens on the lost connection), or without redis-server a port that refuses connections.
 */
export async function tieredWithRedisDown(canStartRedis: boolean, namespace: string): Promise<Subject> {
  const victim = canStartRedis ? await RedisServer.start() : undefined;
  const down = tiered('TieredStore, Redis down', { primary: victim?.url ?? (await refusedUrl()) }, namespace);
  const close = down.close;
  return Object.assign(down, {
    async afterPreload() {
      down.note = `Redis refused (never started); circuit: ${down.store.circuitState}`;
      if (victim === undefined) return;
      const noticed = new Promise<boolean>((resolve) => {
        setTimeout(() => resolve(false), 2_000).unref();
        down.store.on('primary:connection', (event) => event.state === 'down' && resolve(true));
      });
      await victim.kill();
      const seen = (await noticed) ? '' : ' (no down event within 2 s)';
      down.note = `Redis killed${seen}; circuit: ${down.store.circuitState}`;
    },
    close: () => close().finally(() => victim?.stop()),
  });
}
