import { InvalidArgumentError } from './errors.js';

/**
 * Checks of what callers hand the store's methods, made before either tier is touched: bad input
 * gets a clear error naming the value, and never reaches Redis, where it would fail as if Redis
 * were down and count towards the breaker.
 */

/** Longest TTL accepted: far beyond any cache's needs, and still exact as a float and in Redis's PX. */
export const MAX_TTL_MS = 2 ** 52;

/** A key: a well-formed string (a lone surrogate would reach Redis as U+FFFD and collide with others). */
export function checkKey(key: unknown, argument?: string): string {
  // Kept this small so that the engine inlines it into every call: it runs on the hottest paths
  // (a version that threw in place cost 80 ns a memory-first hit, as much as the rest of it).
  if (typeof key === 'string' && key.isWellFormed()) return key;
  return invalidKey(key, argument ?? 'key');
}

function invalidKey(key: unknown, argument: string): never {
  if (typeof key !== 'string') throw new InvalidArgumentError(argument, key, 'a string');
  throw new InvalidArgumentError(argument, key, 'a string without lone surrogates');
}

/** A batch of keys: an array of keys. */
export function checkKeys(keys: unknown, argument = 'keys'): string[] {
  if (!Array.isArray(keys)) throw new InvalidArgumentError(argument, keys, 'an array of keys');
  for (let i = 0; i < keys.length; i++) checkKey(keys[i], `${argument}[${i}]`);
  return keys as string[];
}

/**
 * An explicit TTL in ms, or `undefined` for none (Keyv passes 0 or undefined). Sub-millisecond
 * TTLs round up: a TTL never makes an entry live shorter than asked... nor expire at once.
 */
export function checkTtl(ttl: unknown, argument?: string): number | undefined {
  if (ttl === undefined || ttl === 0) return undefined;
  // Small, as checkKey, so that it inlines.
  if (typeof ttl === 'number' && ttl > 0 && ttl <= MAX_TTL_MS) return Math.ceil(ttl);
  throw new InvalidArgumentError(
    argument ?? 'ttl',
    ttl,
    'a number of milliseconds in (0, 2^52], or 0 / undefined for none',
  );
}

/**
 * A batch of entries: an array of `{ key, value, ttl? }`, copied as read: each field is read once,
 * so a getter cannot hand validation one key and the write another.
 */
export function checkEntries(entries: unknown): Array<{ key: string; value: unknown; ttl: unknown; expires: unknown }> {
  if (!Array.isArray(entries)) throw new InvalidArgumentError('entries', entries, 'an array of { key, value, ttl }');
  const copies = new Array<{ key: string; value: unknown; ttl: unknown; expires: unknown }>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry: unknown = entries[i];
    if (entry === null || typeof entry !== 'object') {
      throw new InvalidArgumentError(`entries[${i}]`, entry, 'an object { key, value, ttl }');
    }
    const { key, value, ttl, expires } = entry as { key?: unknown; value?: unknown; ttl?: unknown; expires?: unknown };
    copies[i] = { key: checkKey(key, `entries[${i}].key`), value, ttl, expires };
  }
  return copies;
}
