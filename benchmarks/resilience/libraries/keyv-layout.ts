import type { RawEntry, VersionedValue } from './types.js';

/**
 * Keyv (default namespace `keyv`) over @keyv/redis stores `keyv:<key>` under @keyv/redis's own
 * `keyv::` prefix, as Keyv's JSON envelope without `expires` when no TTL was given. TieredStore
 * keeps the same layout on purpose, so all four Keyv-based libraries share it.
 */
export function encodeKeyvRedis(key: string, value: VersionedValue): RawEntry {
  return { key: `keyv::keyv:${key}`, value: JSON.stringify({ value }) };
}
