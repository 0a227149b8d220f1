import { describe, expect, it } from 'vitest';
import { envelopeTtl } from '../adapters/envelope.js';

describe("envelopeTtl: the remaining TTL from Keyv's envelope", () => {
  const now = 1_000_000;
  it.each([
    ['{"value":"x","expires":1005000}', 5_000],
    ['{"value":{"a":[1,2]},"expires":1000001}', 1],
    ['{"value":"x","expires":999000}', 0],
  ])('%s -> %d ms', (value, ttl) => {
    expect(envelopeTtl(value, now)).toBe(ttl);
  });

  it.each([
    ['{"value":"x"}', 'no expires'],
    ['{"value":{"expires":5}}', 'an expires inside the value'],
    ['{"value":"x","expires":null}', 'expires null'],
    ['{"value":"x","expires":12a}', 'not digits'],
    ['{"value":"x","expires":}', 'empty'],
    ['plain text', 'not an envelope'],
    ['', 'empty string'],
  ])('%s -> undefined (%s)', (value) => {
    expect(envelopeTtl(value, now)).toBeUndefined();
  });

  it('reads an unserialized envelope object', () => {
    expect(envelopeTtl({ value: 1, expires: now + 10 }, now)).toBe(10);
    expect(envelopeTtl({ value: 1 }, now)).toBeUndefined();
  });
});
