import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';

/**
 * With `serialization: 'store'`, Keyv hands the store `{ value, expires }` objects. The store writes
 * them to the primary in Keyv's own format (so plain Keyv + @keyv/redis instances read them as
 * usual) and keeps a deeply frozen copy in memory, handed out by reference: a memory hit then costs
 * no parsing at all, and no caller can change what another caller reads.
 */
export interface Codec {
  /** The primary's form of a value: Keyv's default serialization. */
  encode(value: unknown): string;
  /** The memory form of a primary value: parsed once, frozen. */
  decode(raw: unknown): unknown;
}

/** Freezes objects and arrays all the way down. Typed arrays and Buffers cannot be frozen and stay shared. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}

export const keyvCodec: Codec = {
  encode: (value) => (typeof value === 'string' ? value : defaultSerialize(value)),
  decode(raw) {
    if (typeof raw !== 'string') return deepFreeze(raw);
    try {
      return deepFreeze(defaultDeserialize(raw));
    } catch {
      // Not JSON (written by something other than Keyv): hand it over as it is; Keyv will read no
      // envelope in it and report a miss, which is what it would do itself.
      return raw;
    }
  },
};
