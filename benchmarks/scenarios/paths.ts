import type { Cleanup } from '../lib/measure.js';
import { closeAll, measureGroup, preload } from './runner.js';
import {
  memorySubjects,
  nearCacheTiered,
  rawRedis,
  redisNeighbours,
  refusedUrl,
  tiered,
  tieredWithRedisDown,
  untilLive,
} from './subjects.js';
import type { BenchContext, Scenario, Subject } from './types.js';

/** Long enough that every read of a measurement is a fresh memory-first hit, none a refresh. */
const MEMORY_FIRST_TTL_MS = 3_600_000;
const SEQUENTIAL = [{ mode: 'sequential', inFlight: 1 }] as const;
const ns = (context: BenchContext, name: string): string => `bench-${context.runId}-${name}`;

/**
 * The near-cache hit (both serialization modes) and, for scale, the read that asks Redis on
 * loopback, beside the memory-first hits: none without a Redis server (the near-cache needs one).
 */
async function nearCacheSubjects(context: BenchContext): Promise<Subject[]> {
  if (context.redisUrl === undefined) return [];
  const primary = context.redisUrl;
  const near = nearCacheTiered('TieredStore near-cache', { primary }, ns(context, 'nc'));
  const objects = nearCacheTiered(
    "TieredStore near-cache, serialization: 'store'",
    { primary, serialization: 'store' },
    ns(context, 'nc-obj'),
    false,
  );
  for (const subject of [near, objects]) subject.note = (await untilLive(subject.store)) ?? 'verified copies';
  const primaryFirst = tiered('TieredStore primary-first (Redis, loopback)', { primary }, ns(context, 'pf'));
  return [near, objects, { ...primaryFirst, note: 'every read asks Redis' }];
}

/** In-process hits: what a read costs when Redis is not asked (down, or memory-first); and sets with Redis down. */
export const memoryPath: Scenario = {
  name: 'memory path',
  async run(context: BenchContext, cleanup: Cleanup) {
    const primary = context.redisUrl ?? (await refusedUrl());
    const memoryFirst = { primary, readPolicy: 'memory-first', memoryTtlMs: MEMORY_FIRST_TTL_MS } as const;
    const { baselines, neighbours } = memorySubjects();
    const down = await tieredWithRedisDown(context.canStartRedis, ns(context, 'down'));
    const note = context.redisUrl ? `memoryTtlMs ${MEMORY_FIRST_TTL_MS}` : 'Redis refused';
    // The faster mode: Keyv's serializer off; the store writes Keyv's format to Redis itself and
    // keeps deeply frozen objects in memory, so that a hit parses nothing.
    const objects = { ...memoryFirst, serialization: 'store' } as const;
    const objectsNote = 'Keyv serialize/deserialize undefined; frozen objects in memory, Keyv format in Redis';
    const all = [
      ...baselines,
      down,
      tiered('TieredStore memory-first', memoryFirst, ns(context, 'mf'), note),
      tiered("TieredStore memory-first, serialization: 'store'", objects, ns(context, 'obj'), objectsNote, false),
      ...(await nearCacheSubjects(context)),
      ...neighbours,
    ];
    cleanup.add('memory path subjects', () => closeAll(all));
    await preload(context, all);
    const baseline = 'Keyv + lru-cache store';
    const gets = { scenario: 'memory get', operation: 'get', modes: SEQUENTIAL, baseline } as const;
    const rows = await measureGroup(context, gets, all);
    const sets = { ...gets, scenario: 'memory set', operation: 'set' } as const;
    rows.push(...(await measureGroup(context, sets, [...all.filter((s) => s.name === baseline), down])));
    return { rows };
  },
};

/** Reads and writes that reach Redis: one at a time (latency) and 64 in flight (throughput). */
function redisPath(operation: 'get' | 'set'): Scenario {
  return {
    name: `redis ${operation}`,
    requires: 'redis',
    async run(context: BenchContext, cleanup: Cleanup) {
      const url = context.redisUrl as string;
      const [keyvRedis, ...neighbours] = redisNeighbours(url, (name) => ns(context, name));
      const ours = tiered('TieredStore primary-first', { primary: url }, ns(context, 'tiered'));
      // Keyv's serializer off, the store writing Keyv's format itself (issue 13's raw-client target).
      const objects = tiered(
        "TieredStore primary-first, serialization: 'store'",
        { primary: url, serialization: 'store' },
        ns(context, 'tiered-obj'),
        "Keyv serialize/deserialize undefined; Keyv's format in Redis",
        false,
      );
      const subjects = [await rawRedis(url), keyvRedis as Subject, ours, objects, ...neighbours];
      cleanup.add(`redis ${operation} subjects`, () => closeAll(subjects));
      // Reads must hit; writes overwrite the same keys, so there the preload only warms connections.
      await preload(context, subjects);
      const modes = [...SEQUENTIAL, { mode: '64 in flight', inFlight: 64 }] as const;
      const spec = { scenario: `redis ${operation}`, operation, baseline: 'Keyv + @keyv/redis', modes };
      return { rows: await measureGroup(context, spec, subjects) };
    },
  };
}

export const redisGet = redisPath('get');
export const redisSet = redisPath('set');
