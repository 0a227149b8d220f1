import { InvalidArgumentError } from './errors.js';
import { checkTtl } from './validate.js';

/**
 * What differs between the Keyv majors at the store's boundary, beside the key layout
 * (`key-layout.ts`): how Keyv 6 recognises a native adapter, and its absolute expiries.
 */

/**
 * What Keyv 6 reads to use the store as a native v6 adapter: `expires: true` declares the
 * absolute-expiry contract, so Keyv 6 does not wrap the store in its bridge.
 */
export const KEYV6_CAPABILITIES = Object.freeze({
  compatible: true,
  store: 'keyvStorage',
  expires: true,
  methods: Object.freeze(
    Object.fromEntries(
      [
        'get',
        'getMany',
        'has',
        'hasMany',
        'set',
        'setMany',
        'delete',
        'deleteMany',
        'clear',
        'disconnect',
        'iterator',
      ].map((name) => [name, Object.freeze({ exists: true, methodType: 'async' })]),
    ),
  ),
} as const);

/**
 * Keyv 6's `expires` (absolute, ms since the epoch, from the wall clock) as the TTL in ms the store
 * works with; `undefined` or 0 for none. An expiry already past still writes, for the shortest time.
 */
export function ttlFromExpires(expires: unknown, argument: string): number | undefined {
  if (expires === undefined || expires === 0) return undefined;
  if (typeof expires !== 'number' || !Number.isFinite(expires) || expires < 0) {
    throw new InvalidArgumentError(argument, expires, 'an expiry time in ms since the epoch (Keyv 6), or undefined');
  }
  return checkTtl(Math.max(1, expires - Date.now()), argument);
}
