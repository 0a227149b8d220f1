import { keyvRedis, rawRedis } from '../lib/baselines.js';
import type { Cleanup } from '../lib/cleanup.js';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/context.js';
import { bentoRedis, cacheableRedis, cacheManagerRedis } from '../lib/neighbours.js';
import { keyvSubject, tieredKeyv } from '../lib/ours.js';
import { closeAll, measureGroup, preload } from '../lib/runner.js';
import type { Subject } from '../lib/subjects.js';

const BASELINE = 'Keyv + @keyv/redis';
const IN_FLIGHT = 64;

async function subjects(context: BenchContext, url: string): Promise<Subject[]> {
  const ns = (name: string): string => `bench-${context.runId}-${name}`;
  return [
    await rawRedis(url),
    keyvRedis(url, ns('keyv')),
    keyvSubject('TieredStore primary-first', tieredKeyv({ primary: url }, ns('tiered')).keyv),
    cacheableRedis(url, ns('cacheable')),
    cacheManagerRedis(url, ns('cm')),
    bentoRedis(url, ns('bento')),
  ];
}

/** Reads and writes that reach Redis: one at a time (latency) and 64 in flight (throughput). */
function redisScenario(operation: 'get' | 'set'): Scenario {
  return {
    name: `redis ${operation}`,
    requires: 'redis',
    async run(context: BenchContext, cleanup: Cleanup): Promise<ScenarioResult> {
      const url = context.redisUrl as string;
      const all = await subjects(context, url);
      cleanup.add(`redis ${operation} subjects`, () => closeAll(all));
      // Reads must hit; writes overwrite the same keys, so the preload only warms connections there.
      await preload(context, all);
      const rows = await measureGroup(
        context,
        {
          scenario: `redis ${operation}`,
          operation,
          baseline: BASELINE,
          modes: [
            { mode: 'sequential', inFlight: 1 },
            { mode: `${IN_FLIGHT} in flight`, inFlight: IN_FLIGHT },
          ],
        },
        all,
      );
      return { rows };
    },
  };
}

export const redisGet = redisScenario('get');
export const redisSet = redisScenario('set');
