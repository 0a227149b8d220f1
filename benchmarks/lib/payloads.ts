import type { PayloadName } from './types.js';

/** Target sizes of the serialized JSON value, in bytes. */
const targetBytes: Record<PayloadName, number> = { '100B': 100, '1KB': 1024, '64KB': 65_536 };

export const allPayloads: readonly PayloadName[] = ['100B', '1KB', '64KB'];

/**
 * A JSON value shaped like a cache entry of a price service (a header and a series of points),
 * grown until its JSON reaches the target size. Numbers and nested objects, not one long string,
 * because parsing cost depends on structure and a flat string would flatter every serializer.
 */
export function makePayload(name: PayloadName): Record<string, unknown> {
  // A header only: even one point of the series would overshoot 100 B.
  if (name === '100B') {
    return { symbol: 'BTC', currency: 'USD', exchange: 'coinbase', price: 64_123.45, change: -0.42, volume: 18_234 };
  }
  const target = targetBytes[name];
  const value: { symbol: string; currency: string; points: Array<{ t: number; p: number }> } = {
    symbol: 'BTC',
    currency: 'USD',
    points: [],
  };
  for (let i = 0; JSON.stringify(value).length < target; i++) {
    value.points.push({ t: 1_700_000_000 + i * 60, p: Math.round((64_000 + Math.sin(i) * 500) * 100) / 100 });
  }
  return value;
}

/** Serialized size of a payload, for the report. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** `count` keys with a prefix, reused round-robin so that reads hit what the preload wrote. */
export function makeKeys(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_unused, i) => `${prefix}:${i}`);
}
