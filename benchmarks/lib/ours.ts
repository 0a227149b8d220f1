import { Keyv } from 'keyv';
import type { TieredStore, TieredStoreOptions } from '../../src/index.js';
import { pkg } from './package.js';
import { freePort, OwnedRedis } from './redis.js';
import { type Subject, waitForEvent } from './subjects.js';

/** A TieredStore under Keyv, as an application uses it (default serializer unless told otherwise). */
export function tieredKeyv(
  options: TieredStoreOptions,
  namespace: string,
  serialize = true,
): { keyv: Keyv; store: TieredStore } {
  const store = new pkg.TieredStore(options);
  const keyv = new Keyv({ store, namespace });
  if (!serialize) {
    keyv.serialize = undefined;
    keyv.deserialize = undefined;
  }
  return { keyv, store };
}

/** The counters that tell a call which did not get a Redis answer. */
export function storeHealth(store: TieredStore): Record<string, number> {
  const { timeouts, primaryFailures, shortCircuits, fallbackServes } = store.stats();
  return { timeouts, primaryFailures, shortCircuits, fallbackServes };
}

export function keyvSubject(name: string, keyv: Keyv, note?: string): Subject {
  const store = keyv.store as unknown;
  return {
    name,
    role: 'keyv-failsafe',
    ...(note === undefined ? {} : { note }),
    ...(store instanceof pkg.TieredStore ? { health: () => storeHealth(store) } : {}),
    get: (key) => keyv.get(key),
    set: (key, value) => keyv.set(key, value),
    close: () => keyv.disconnect(),
  };
}

/** A Redis URL nothing listens on: the store's first connection attempt is refused at once. */
export async function refusedUrl(): Promise<string> {
  return `redis://127.0.0.1:${await freePort()}`;
}

/**
 * A TieredStore whose Redis goes away after the preload: a server of our own, killed (the breaker
 * opens on that once it exists), or without redis-server a port that refuses connections.
 */
export async function tieredWithRedisDown(
  canStartRedis: boolean,
  namespace: string,
  extra: Partial<TieredStoreOptions> = {},
): Promise<Subject & { store: TieredStore }> {
  const victim = canStartRedis ? await OwnedRedis.start() : undefined;
  const { keyv, store } = tieredKeyv({ ...extra, primary: victim?.url ?? (await refusedUrl()) }, namespace);
  const subject: Subject & { store: TieredStore } = {
    ...keyvSubject('TieredStore, Redis down', keyv),
    store,
    async afterPreload() {
      if (victim === undefined) {
        subject.note = `Redis refused (never started); circuit: ${store.circuitState}`;
        return;
      }
      const down = waitForEvent(
        store as unknown as NodeJS.EventEmitter,
        'primary:connection',
        (event) => (event as { state?: string }).state === 'down',
        2_000,
      );
      await victim.kill();
      const noticed = await down;
      subject.note = `Redis killed${noticed ? '' : ' (no down event within 2 s)'}; circuit: ${store.circuitState}`;
    },
    async close() {
      await keyv.disconnect();
      await victim?.kill();
    },
  };
  return subject;
}
