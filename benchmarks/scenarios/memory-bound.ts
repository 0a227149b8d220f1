import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tieredKeyv } from '../lib/libraries.js';
import type { Cleanup } from '../lib/measure.js';
import { int, mdTable } from '../lib/report.js';
import { makePayload } from './runner.js';
import { refusedUrl } from './subjects.js';
import type { BenchContext, Scenario } from './types.js';

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

/**
 * Distinct keys through Keyv into a TieredStore whose Redis refuses connections, so that only the
 * memory tier holds them; `max` above the key count, so that `maxSize` is the bound that bites.
 */
export const memoryBound: Scenario = {
  name: 'memory bound',
  async run(context: BenchContext, cleanup: Cleanup) {
    const keyCount = context.quick ? 100_000 : 1_000_000;
    const fallback = { max: keyCount, maxSize: MAX_SIZE_BYTES };
    const { keyv, store } = tieredKeyv({ primary: await refusedUrl(), fallback }, `bench-${context.runId}-bound`);
    cleanup.add('memory-bound store', () => keyv.disconnect());
    const value = makePayload('100B');
    const before = memory();
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
    const memoryBound = { ...head, setsPerSec, before, after, ...growth, ...held, evictions, journal };
    const usage = (what: 'heapUsedMiB' | 'rssMiB'): string => `${before[what]} → ${after[what]} MiB`;
    const title = `### memory bound: ${int(keyCount)} distinct keys, ${memoryBound.payloadBytes} B values, Redis ${memoryBound.redis}`;
    const header = ['fallback', 'sets/s', 'heap before → after', 'RSS before → after', 'entries held', 'counted size'];
    const line = [`max ${int(keyCount)}, maxSize ${MAX_SIZE_BYTES / MiB} MiB`, int(setsPerSec), usage('heapUsedMiB')];
    line.push(usage('rssMiB'), int(memoryBound.entriesHeld), `${memoryBound.calculatedSizeMiB} MiB`, int(evictions));
    const table = mdTable([...header, 'evictions'], [line]);
    return { rows: [], findings: { memoryBound }, sections: { memoryBound: [title, table] } };
  },
};
