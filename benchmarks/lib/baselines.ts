import KeyvRedis, { createClient } from '@keyv/redis';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import type { Subject } from './subjects.js';

/** The synchronous floor of every in-process hit: lru-cache itself, no promise, no serializer. */
export function rawLru(): Subject {
  const lru = new LRUCache<string, NonNullable<unknown>>({ max: 100_000 });
  return {
    name: 'lru-cache get (raw, sync)',
    role: 'baseline',
    get: (key) => lru.get(key),
    set: (key, value) => lru.set(key, value as NonNullable<unknown>),
    close: async () => {},
  };
}

/** Keyv with its default Map store and default serializer. */
export function keyvMap(): Subject {
  const keyv = new Keyv();
  return {
    name: 'Keyv (Map store)',
    role: 'baseline',
    get: (key) => keyv.get(key),
    set: (key, value) => keyv.set(key, value),
    close: () => keyv.disconnect(),
  };
}

/**
 * Keyv over an lru-cache store: what TieredStore's memory path is, minus the tiering. lru-cache has
 * the get/set/delete/clear Keyv needs; Keyv's numeric ttl lands in lru-cache's options argument,
 * where it is ignored (no TTL is used here).
 */
export function keyvLru(serialize = true): Subject {
  const keyv = new Keyv({ store: new LRUCache<string, NonNullable<unknown>>({ max: 100_000 }) });
  if (!serialize) {
    keyv.serialize = undefined;
    keyv.deserialize = undefined;
  }
  return {
    name: serialize ? 'Keyv + lru-cache store' : 'Keyv + lru-cache store, serialize off',
    role: 'baseline',
    get: (key) => keyv.get(key),
    set: (key, value) => keyv.set(key, value),
    close: () => keyv.disconnect(),
  };
}

/** The Redis floor: node-redis GET/SET of the JSON string; no parse, no envelope, no TTL lookup. */
export async function rawRedis(url: string): Promise<Subject> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return {
    name: 'node-redis GET/SET (raw)',
    role: 'baseline',
    note: 'JSON.stringify on set, no parse on get',
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, JSON.stringify(value)),
    close: async () => {
      client.destroy();
    },
  };
}

/** Keyv + @keyv/redis as its README sets it up: the stack TieredStore replaces. */
export function keyvRedis(url: string, namespace: string): Subject {
  const keyv = new Keyv({ store: new KeyvRedis(url), namespace });
  keyv.on('error', () => {});
  return {
    name: 'Keyv + @keyv/redis',
    role: 'baseline',
    get: (key) => keyv.get(key),
    set: (key, value) => keyv.set(key, value),
    close: () => keyv.disconnect(),
  };
}
