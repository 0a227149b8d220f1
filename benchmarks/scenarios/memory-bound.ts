import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as Api from '../../src/index.js';
import { tieredKeyv } from '../lib/libraries.js';
import type { Cleanup } from '../lib/measure.js';
import { int, mdTable } from '../lib/report.js';
import { makePayload } from './runner.js';
import { refusedUrl } from './subjects.js';
import type { BenchContext, Scenario } from './types.js';

/** The built bundle, as lib/libraries.ts loads it (it has run first, so dist/ exists). */
const pkg = (await import(new URL('../../dist/index.js', import.meta.url).href)) as typeof Api;

const MiB = 1024 * 1024;
const MAX_SIZE_BYTES = 32 * MiB;
const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Heap and RSS after a full collection (`--expose-gc` set at run time keeps `npm run bench` free of node flags). */
function memory(): { heapUsedMiB: number; rssMiB: number } {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsedMiB: round1(heapUsed / MiB), rssMiB: round1(rss / MiB) };
}

/** The bound (issue 13): heap growth at most 1.25 x maxSize plus the fixed cost of `max`. */
const BOUND_FACTOR = 1.25;

/**
 * The fixed cost of `max`: the JS heap an empty tier of that `max` takes (lru-cache preallocates
 * its slots; its typed arrays live outside the heap, in `arrayBuffers`).
 */
function fixedCostOfMax(max: number): { heapMiB: number; arrayBuffersMiB: number } {
  const before = memory();
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const tier = new pkg.MemoryTier({ max, maxSize: MAX_SIZE_BYTES });
  const after = memory();
  const arrayBuffersMiB = round1((process.memoryUsage().arrayBuffers - buffersBefore) / MiB);
  if (tier.max !== max) throw new Error('memory bound: the empty tier was not built');
  return { heapMiB: round1(after.heapUsedMiB - before.heapUsedMiB), arrayBuffersMiB };
}

/**
 * Distinct keys through Keyv into a TieredStore whose Redis refuses connections, so that only the
 * memory tier holds them; `max` above the key count, so that `maxSize` is the bound that bites.
 * Heap before is taken before the store is built, so the growth includes the fixed cost of `max`,
 * measured on its own first.
 */
export const memoryBound: Scenario = {
  name: 'memory bound',
  async run(context: BenchContext, cleanup: Cleanup) {
    const keyCount = context.quick ? 100_000 : 1_000_000;
    const fallback = { max: keyCount, maxSize: MAX_SIZE_BYTES };
    const fixed = fixedCostOfMax(keyCount);
    const primary = await refusedUrl();
    const before = memory();
    const { keyv, store } = tieredKeyv({ primary, fallback }, `bench-${context.runId}-bound`);
    cleanup.add('memory-bound store', () => keyv.disconnect());
    const value = makePayload('100B');
    const started = performance.now();
    for (let i = 0; i < keyCount; i++) {
      // A distinct value per key: one shared object would make every entry a pointer to the same bytes.
      await keyv.set(`${context.runId}:bound:${i}`, { ...value, seq: i });
      if ((i + 1) % (keyCount / 4) === 0) context.progress(`  memory bound · ${i + 1} keys written`);
    }
    const setsPerSec = Math.round(keyCount / ((performance.now() - started) / 1e3));
    const after = memory();
    const { evictions, journal } = store.stats();
    const [redis, payloadBytes] = ['refused (memory tier only)', Buffer.byteLength(JSON.stringify(value))];
    const heapGrowthMiB = round1(after.heapUsedMiB - before.heapUsedMiB);
    const growth = { heapGrowthMiB, rssGrowthMiB: round1(after.rssMiB - before.rssMiB) };
    const held = { entriesHeld: store.fallback.size, calculatedSizeMiB: round1(store.fallback.calculatedSize / MiB) };
    const head = { redis, keys: keyCount, payloadBytes, fallback: { max: keyCount, maxSizeMiB: MAX_SIZE_BYTES / MiB } };
    const boundMiB = round1(BOUND_FACTOR * (MAX_SIZE_BYTES / MiB) + fixed.heapMiB);
    const bound = { fixedCostOfMax: fixed, boundMiB, boundMet: heapGrowthMiB <= boundMiB };
    const memoryBound = { ...head, setsPerSec, before, after, ...growth, ...held, ...bound, evictions, journal };
    const usage = (what: 'heapUsedMiB' | 'rssMiB'): string => `${before[what]} → ${after[what]} MiB`;
    const title = `### memory bound: ${int(keyCount)} distinct keys, ${memoryBound.payloadBytes} B values, Redis ${memoryBound.redis}`;
    const header = ['fallback', 'sets/s', 'heap before → after', 'RSS before → after', 'entries held', 'counted size'];
    const line = [`max ${int(keyCount)}, maxSize ${MAX_SIZE_BYTES / MiB} MiB`, int(setsPerSec), usage('heapUsedMiB')];
    line.push(usage('rssMiB'), int(memoryBound.entriesHeld), `${memoryBound.calculatedSizeMiB} MiB`, int(evictions));
    line.push(`${fixed.heapMiB} MiB heap + ${fixed.arrayBuffersMiB} MiB ArrayBuffers`);
    line.push(`${heapGrowthMiB} MiB ${bound.boundMet ? '≤' : '>'} ${boundMiB} MiB`);
    const table = mdTable(
      [...header, 'evictions', 'fixed cost of max', `heap growth vs ${BOUND_FACTOR} × maxSize + fixed`],
      [line],
    );
    return { rows: [], findings: { memoryBound }, sections: { memoryBound: [title, table] } };
  },
};
