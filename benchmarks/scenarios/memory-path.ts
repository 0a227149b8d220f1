import { keyvLru, keyvMap, rawLru } from '../lib/baselines.js';
import type { Cleanup } from '../lib/cleanup.js';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/context.js';
import { bentoMemory, cacheableMemory, cacheManagerMemory } from '../lib/neighbours.js';
import { keyvSubject, refusedUrl, tieredKeyv, tieredWithRedisDown } from '../lib/ours.js';
import { closeAll, measureGroup, preload } from '../lib/runner.js';
import type { Subject } from '../lib/subjects.js';

/** Long enough that every read of a measurement is a fresh memory-first hit, none a refresh. */
const MEMORY_FIRST_TTL_MS = 3_600_000;

const BASELINE = 'Keyv + lru-cache store';

async function subjects(context: BenchContext): Promise<{ all: Subject[]; down: Subject; lruSet: Subject }> {
  const down = await tieredWithRedisDown(context.canStartRedis, `bench-${context.runId}-down`);
  const memoryFirst = tieredKeyv(
    { primary: context.redisUrl ?? (await refusedUrl()), readPolicy: 'memory-first', memoryTtlMs: MEMORY_FIRST_TTL_MS },
    `bench-${context.runId}-mf`,
  );
  // The faster mode: Keyv's serializer off, the store writes Keyv's format to Redis itself and keeps
  // deeply frozen objects in memory, so a hit parses nothing.
  const objects = tieredKeyv(
    {
      primary: context.redisUrl ?? (await refusedUrl()),
      readPolicy: 'memory-first',
      memoryTtlMs: MEMORY_FIRST_TTL_MS,
      serialization: 'store',
    },
    `bench-${context.runId}-obj`,
    false,
  );
  const lru = keyvLru();
  const all: Subject[] = [
    rawLru(),
    keyvMap(),
    lru,
    keyvLru(false),
    down,
    keyvSubject(
      'TieredStore memory-first',
      memoryFirst.keyv,
      context.redisUrl === undefined ? 'Redis refused' : `memoryTtlMs ${MEMORY_FIRST_TTL_MS}`,
    ),
    keyvSubject(
      "TieredStore memory-first, serialization: 'store'",
      objects.keyv,
      'Keyv serialize/deserialize undefined; frozen objects in memory, Keyv format in Redis',
    ),
    cacheableMemory(),
    cacheManagerMemory(),
    bentoMemory(),
  ];
  return { all, down, lruSet: lru };
}

/** In-process hits: what a read costs when Redis is not asked (down, or memory-first). */
export const memoryPath: Scenario = {
  name: 'memory path',
  async run(context: BenchContext, cleanup: Cleanup): Promise<ScenarioResult> {
    const { all, down, lruSet } = await subjects(context);
    cleanup.add('memory path subjects', () => closeAll(all));
    await preload(context, all);
    const sequential = [{ mode: 'sequential' as const, inFlight: 1 }];
    const rows = await measureGroup(
      context,
      { scenario: 'memory get', operation: 'get', modes: sequential, baseline: BASELINE },
      all,
    );
    rows.push(
      ...(await measureGroup(
        context,
        { scenario: 'memory set', operation: 'set', modes: sequential, baseline: BASELINE },
        [lruSet, down],
      )),
    );
    return { rows };
  },
};
