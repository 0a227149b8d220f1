import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defaultSerialize } from '@keyv/serialize';
import { describe, expect, it } from 'vitest';
import { MemoryTier } from '../src/index.js';

// maxSize bounds what the tier really holds on the heap: the strings it keeps are flat, not the
// ropes concatenation builds (Keyv's serializer, physical keys), whose pieces no size counts.

/** Heap in use after a full collection. */
function heapUsed(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('the memory bound', () => {
  it('keeps concatenated keys and values flat: the heap they take stays near the counted size', () => {
    const count = 20_000;
    const tier = new MemoryTier({ max: count, maxSize: 64 * 1024 * 1024 });
    const before = heapUsed();
    for (let i = 0; i < count; i++) {
      // Keyv's serializer builds the envelope by concatenation, piece by piece: a rope of ~30 pieces.
      const value = defaultSerialize({ value: { symbol: 'BTC', currency: 'USD', price: 64_123.45, seq: i } });
      tier.set(`ns::ns:key:${i}`, value, Number.POSITIVE_INFINITY);
    }
    const grown = heapUsed() - before;
    expect(tier.size).toBe(count);
    // As ropes the values alone took ~7x their length (1,128 bytes for 120 characters).
    expect(grown).toBeLessThan(tier.calculatedSize * 1.25);
  });
});
