import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Cleanup } from '../lib/cleanup.js';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/context.js';
import { refusedUrl, tieredKeyv } from '../lib/ours.js';
import { makePayload, payloadBytes } from '../lib/payloads.js';

const MAX_SIZE_BYTES = 32 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * A full collection, so that heap figures are what is retained rather than garbage not yet
 * collected. `--expose-gc` set at run time keeps `npm run bench` free of node flags.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function memory(): { heapUsedMiB: number; rssMiB: number } {
  collectGarbage();
  const usage = process.memoryUsage();
  return { heapUsedMiB: Math.round((usage.heapUsed / MiB) * 10) / 10, rssMiB: Math.round((usage.rss / MiB) * 10) / 10 };
}

/**
 * 1 M distinct keys (100 k with --quick) written through Keyv into a TieredStore whose Redis
 * refuses connections, so that only the memory tier holds them: the byte bound must hold the heap.
 * `max` is set above the key count so that `maxSize` is the bound that bites.
 */
export const memoryBound: Scenario = {
  name: 'memory bound',
  async run(context: BenchContext, cleanup: Cleanup): Promise<ScenarioResult> {
    const keyCount = context.quick ? 100_000 : 1_000_000;
    const payload = '100B' as const;
    const { keyv, store } = tieredKeyv(
      { primary: await refusedUrl(), fallback: { max: keyCount, maxSize: MAX_SIZE_BYTES } },
      `bench-${context.runId}-bound`,
    );
    cleanup.add('memory-bound store', () => keyv.disconnect());
    const value = makePayload(payload);
    const before = memory();
    const started = performance.now();
    for (let i = 0; i < keyCount; i++) {
      // A distinct value per key: one shared object would make every entry a pointer to the same bytes.
      await keyv.set(`${context.runId}:bound:${i}`, { ...value, seq: i });
      if ((i + 1) % (keyCount / 4) === 0) context.progress(`  memory bound · ${i + 1} keys written`);
    }
    const elapsedMs = performance.now() - started;
    const after = memory();
    const stats = store.stats();
    const findings = {
      memoryBound: {
        redis: 'refused (memory tier only)',
        keys: keyCount,
        payloadBytes: payloadBytes(value),
        fallback: { max: keyCount, maxSizeMiB: MAX_SIZE_BYTES / MiB },
        setsPerSec: Math.round(keyCount / (elapsedMs / 1e3)),
        before,
        after,
        heapGrowthMiB: Math.round((after.heapUsedMiB - before.heapUsedMiB) * 10) / 10,
        rssGrowthMiB: Math.round((after.rssMiB - before.rssMiB) * 10) / 10,
        entriesHeld: store.fallback.size,
        calculatedSizeMiB: Math.round((store.fallback.calculatedSize / MiB) * 10) / 10,
        evictions: stats.evictions,
        journal: stats.journal,
      },
    };
    return { rows: [], findings };
  },
};
