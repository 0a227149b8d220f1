import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { TcpProxy } from '../../harness/tcp-proxy.js';
import type { TieredStoreOptions } from '../../src/index.js';
import { LIBRARIES, tieredKeyv } from '../lib/libraries.js';
import { bounded, Cleanup, describeError, measure, sleep } from '../lib/measure.js';
import { batchCalls } from './batches.js';
import { farRedisSection, type LinkFinding } from './far-redis-report.js';
import { describeLink, type Link, openLink, pingRtt, through } from './links.js';
import { closeAll, healthNote, measureGroup, preload, toRow } from './runner.js';
import { nearCacheTiered, rawRedis, redisNeighbours, storeHealth, tiered } from './subjects.js';
import type { BenchContext, Row, Scenario, Subject } from './types.js';

/** Long enough that every read of a measurement is a fresh memory-first hit, none a refresh. */
const MEMORY_FIRST_TTL_MS = 3_600_000;
const MODES = [
  { mode: 'sequential', inFlight: 1 },
  { mode: '64 in flight', inFlight: 64 },
] as const;
const BASELINE = 'Keyv + @keyv/redis';

/**
 * The near-cache read policy (issue 11), measured where it matters, beside memory-first; a built
 * store that rejects it (an older dist/) skips the row with a note. Its options go here.
 */
const NEAR_CACHE: Partial<TieredStoreOptions> = { readPolicy: 'near-cache' };

/** A near-cache TieredStore, or why there is none (the built store rejects the policy). */
function nearCache(url: string, namespace: string): Subject | string {
  try {
    return nearCacheTiered('TieredStore near-cache', { primary: url, ...NEAR_CACHE }, namespace);
  } catch (error) {
    if ((error as Error)?.name !== 'InvalidOptionError') throw error;
    return `near-cache row skipped: the built store rejects readPolicy 'near-cache' (${describeError(error)})`;
  }
}

/**
 * A TieredStore whose Redis goes away after the preload (its own proxy closed: connections reset,
 * new ones refused), read once its breaker is open: what a read costs when the store no longer asks.
 */
async function breakerOpen(url: string, namespace: string): Promise<Subject> {
  const { hostname, port } = new URL(url);
  const proxy = await TcpProxy.start(Number(port), hostname);
  const down = tiered('TieredStore, breaker open (Redis gone)', { primary: through(url, proxy.port) }, namespace);
  const close = down.close;
  return Object.assign(down, {
    async afterPreload() {
      await proxy.close();
      // A refused connection opens the breaker within a few calls; bounded, and the row says if it did not.
      for (const until = performance.now() + 2_000; down.store.circuitState !== 'open' && performance.now() < until; ) {
        await down.get('breaker-probe');
        await sleep(10);
      }
      down.note = `Redis gone after the preload; circuit: ${down.store.circuitState}`;
    },
    close: () => close().finally(() => proxy.close().catch(() => {})),
  });
}

/** Reads that hit memory (or, for the baseline, Redis) and the breaker-open path, at one link. */
function hitSubjects(url: string, keyvRedis: Subject, ns: (name: string) => string) {
  const memoryFirst = { primary: url, readPolicy: 'memory-first', memoryTtlMs: MEMORY_FIRST_TTL_MS } as const;
  const near = nearCache(url, ns('near'));
  const l1 = (name: 'cacheable' | 'cache-manager' | 'bentocache', label: string): Subject => {
    const client = LIBRARIES[name].create(url, { namespace: ns(`${name}-l1`) });
    return { name: label, role: 'neighbour', get: client.get, set: client.set, close: client.close };
  };
  const subjects: Subject[] = [
    { ...keyvRedis, note: 'every read asks Redis' },
    tiered('TieredStore memory-first', memoryFirst, ns('mf'), `memoryTtlMs ${MEMORY_FIRST_TTL_MS}`),
    ...(typeof near === 'string' ? [] : [near]),
    l1('cacheable', 'cacheable (L1 hit)'),
    l1('cache-manager', 'cache-manager (memory store hit)'),
    l1('bentocache', 'bentocache (L1 hit)'),
  ];
  return { subjects, skipped: typeof near === 'string' ? [near] : [] };
}

/** getMany(100) against 100 gets through Keyv at one link, and plain Keyv + @keyv/redis's getMany. */
function batchSubjects(url: string, ns: (name: string) => string, prefix: string) {
  const ours = tieredKeyv({ primary: url }, ns('batch'));
  const plain = new Keyv({ store: new KeyvRedis(url), namespace: ns('batch-keyv') });
  plain.on('error', () => {});
  const [mine, theirs] = [batchCalls(ours.keyv, '1KB', `${prefix}:t`), batchCalls(plain, '1KB', `${prefix}:k`)];
  const call = (calls: typeof mine, name: string) =>
    calls.calls.find(([n]) => n === name)?.[1] as () => Promise<unknown>;
  const runs: Array<[string, () => Promise<unknown>]> = [
    ['TieredStore getMany(100)', call(mine, 'getMany(100)')],
    ['TieredStore 100 × get', call(mine, '100 × get')],
    [`${BASELINE} getMany(100)`, call(theirs, 'getMany(100)')],
  ];
  const setUp = async () => Promise.all([mine.setMany(), theirs.setMany()]);
  const close = () =>
    Promise.all([bounded(() => ours.keyv.disconnect(), 2_000), bounded(() => plain.disconnect(), 2_000)]);
  return { store: ours.store, runs, setUp, close };
}

/** A link's batch rows: getMany(100) against 100 gets (TieredStore), and Keyv + @keyv/redis's getMany. */
async function measureBatches(context: BenchContext, scenario: string, batch: ReturnType<typeof batchSubjects>) {
  const rows: Row[] = [];
  // 100 round trips a call at 5 ms is half a second: a few samples of each suffice.
  const timing = { ...context.timing, minOps: 3, inFlight: 1 };
  const where = { scenario, payload: '1KB', mode: 'sequential', baseline: 'TieredStore 100 × get' } as const;
  for (const [name, run] of batch.runs) {
    const ours = name.startsWith('TieredStore');
    const before = storeHealth(batch.store);
    const sample = await measure(run, timing);
    const health = ours ? healthNote('batch', before, storeHealth(batch.store)) : undefined;
    const subject = { name, role: ours ? 'keyv-failsafe' : 'baseline' } as const;
    rows.push(toRow(where, subject, sample, ['one op = 100 keys', health].filter(Boolean).join('; ')));
    context.progress(`  ${scenario} · ${name}: p50 ${(sample.p50Us / 1e3).toFixed(2)} ms`);
  }
  return rows;
}

/** Every row of one link: get and set (L1 misses), hits and the breaker-open path, batches. */
async function measureLink(context: BenchContext, link: Link, direct: number, cleanup: Cleanup) {
  const server = context.redisUrl as string;
  const ns = (name: string): string => `bench-${context.runId}-rtt-${link.label}-${name}`;
  const open = await openLink(link, server);
  cleanup.add(`link ${link.label}`, () => open.close());
  const url = open.url;
  const [keyvRedis, ...neighbours] = redisNeighbours(url, ns) as [Subject, ...Subject[]];
  const primaryFirst = tiered('TieredStore primary-first', { primary: url }, ns('tiered'));
  const getSet = [await rawRedis(url), keyvRedis, primaryFirst, ...neighbours];
  cleanup.add(`link ${link.label} get/set subjects`, () => closeAll(getSet));
  const hits = hitSubjects(url, keyvRedis, ns);
  const down = await breakerOpen(server, ns('down'));
  // The first hit subject is Keyv + @keyv/redis again, closed with the get/set subjects.
  cleanup.add(`link ${link.label} hit subjects`, () => closeAll([...hits.subjects.slice(1), down]));
  const batch = batchSubjects(url, ns, `${context.runId}:rtt:${link.label}`);
  cleanup.add(`link ${link.label} batch stores`, batch.close);

  // Written at loopback speed; the delay starts with the measurements.
  const at = { ...context, payloads: ['1KB'] as const };
  await preload(at, [...getSet, ...hits.subjects.slice(1), down]);
  await batch.setUp();
  open.delay();
  const ping = await pingRtt(url, context.quick ? 50 : 200);
  const [nominalRttMs, addedP50Ms] = [link.rttMs ?? null, ping.p50Ms - direct];
  const finding: LinkFinding = {
    ...{ link: link.label, nominalRttMs, jitterMs: link.jitterMs, pingP50Ms: ping.p50Ms, pingP99Ms: ping.p99Ms },
    ...{ loopbackPingP50Ms: direct, addedP50Ms, skipped: hits.skipped },
  };
  const [p50, p99, loopback] = [ping.p50Ms.toFixed(3), ping.p99Ms.toFixed(3), direct.toFixed(3)];
  context.progress(`  rtt · ${describeLink(link)} · PING p50 ${p50} ms, p99 ${p99} ms (loopback p50 ${loopback} ms)`);
  const scenario = (what: string): string => `rtt ${link.label} ${what}`;
  const rows: Row[] = [];
  for (const operation of ['get', 'set'] as const) {
    const spec = { scenario: scenario(operation), operation, baseline: BASELINE, modes: MODES };
    rows.push(...(await measureGroup(at, spec, getSet)));
  }
  const hitSpec = { scenario: scenario('hit'), operation: 'get', baseline: BASELINE, modes: MODES } as const;
  rows.push(...(await measureGroup(at, hitSpec, [...hits.subjects, down])));
  rows.push(...(await measureBatches(context, scenario('batch get'), batch)));
  return { rows, finding };
}

/**
 * The Redis path with Redis a round trip away (`--rtt`; see benchmarks/README.md, "Redis far
 * away"): each link in turn, 1 KB values, every library side by side.
 */
export const farRedis: Scenario = {
  name: 'rtt',
  requires: 'redis',
  async run(context: BenchContext, _cleanup: Cleanup) {
    const direct = (await pingRtt(context.redisUrl as string, context.quick ? 50 : 200)).p50Ms;
    const [rows, findings]: [Row[], LinkFinding[]] = [[], []];
    for (const link of context.links) {
      context.progress(`  rtt · Redis ${describeLink(link)} away`);
      // Each link's clients closed before the next link starts, so that idle ones do not add to its noise.
      const linkCleanup = new Cleanup();
      try {
        const measured = await measureLink(context, link, direct, linkCleanup);
        rows.push(...measured.rows);
        findings.push(measured.finding);
      } finally {
        const stuck = await linkCleanup.run();
        if (stuck.length > 0) context.progress(`  cleanup of link ${link.label} did not finish: ${stuck.join(', ')}`);
      }
    }
    return {
      rows,
      findings: { farRedis: findings },
      sections: { farRedis: farRedisSection(rows, findings, context.links) },
    };
  },
};
