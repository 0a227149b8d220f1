import { RedisServer } from '../../harness/redis-server.js';
import { tieredKeyv } from '../lib/libraries.js';
import { bounded, type Cleanup, percentile, sampleOf, timeCalls } from '../lib/measure.js';
import { mdTable } from '../lib/report.js';
import { closeAll, makeKeys, makePayload, toRow } from './runner.js';
import { redisNeighbours } from './subjects.js';
import type { BenchContext, Scenario } from './types.js';

/** The store's default deadline; the breaker makes the calls after the first few not wait it. */
const DEADLINE_MS = 100;
/** A call that took at least half the deadline waited on the hung server. */
const waited = (ms: number): boolean => ms >= DEADLINE_MS / 2;
const round = (ms: number): number => Math.round(ms * 1000) / 1000;
const sorted = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

/**
 * Calls made one by one from `startedAt` (ms after the hang): calls stopped waiting at the end of
 * the last one that waited, provided a later one did not; that is when the breaker opened in effect.
 */
function phase(latencies: readonly number[], startedAt: number) {
  const last = latencies.findLastIndex(waited);
  const stopped = last >= 0 && last < latencies.length - 1;
  const all = sorted(latencies);
  return {
    calls: latencies.length,
    waited: latencies.filter(waited).length,
    worstMs: round(all.at(-1) ?? Number.NaN),
    p50Ms: round(percentile(all, 50)),
    p99Ms: round(percentile(all, 99)),
    stoppedWaitingAfterMs: stopped ? round(startedAt + latencies.slice(0, last + 1).reduce((a, b) => a + b, 0)) : null,
    afterStopP99Ms: stopped ? round(percentile(sorted(latencies.slice(last + 1)), 99)) : null,
    latenciesMs: latencies.map(round),
  };
}

/** A phase as a line of the finding's table. */
function phaseLine(name: string, p: ReturnType<typeof phase>): string[] {
  const after = p.stoppedWaitingAfterMs === null ? 'never' : `${p.stoppedWaitingAfterMs} ms after SIGSTOP`;
  const [p99, stopped] = [
    p.afterStopP99Ms === null ? '' : `${p.afterStopP99Ms} ms`,
    p.waited ? after : 'no call waited',
  ];
  return [name, String(p.calls), String(p.waited), `${p.worstMs} ms`, `${p.p50Ms} ms`, stopped, p99];
}

/** A hung Redis (SIGSTOP on a server of our own, never REDIS_URL): see benchmarks/README.md, "degraded". */
export const degraded: Scenario = {
  name: 'degraded',
  requires: 'own-redis',
  async run(context: BenchContext, cleanup: Cleanup) {
    const victim = await RedisServer.start();
    cleanup.add('hung redis-server', () => victim.stop());
    const ns = (name: string): string => `bench-${context.runId}-hung${name === '' ? '' : `-${name}`}`;
    const { keyv, store } = tieredKeyv({ primary: victim.url, operationTimeoutMs: DEADLINE_MS }, ns(''));
    const neighbours = redisNeighbours(victim.url, ns);
    // Closed before the server dies: a neighbour's disconnect may wait for replies that never come.
    cleanup.add('hung-scenario clients', () => closeAll(neighbours).finally(() => keyv.disconnect()));
    cleanup.add('resume', () => victim.resume());
    const payload = context.payloads.includes('1KB') ? '1KB' : (context.payloads[0] ?? '1KB');
    const [value, keys] = [makePayload(payload), makeKeys(`${context.runId}:hung`, 32)];
    const key = (i: number): string => keys[i % keys.length] as string;
    for (const k of keys) for (const client of [keyv, ...neighbours]) await client.set(k, value);

    const transitions: Array<{ atMs: number; from: string; to: string }> = [];
    let hungAt = performance.now();
    store.on('circuit:state', ({ from, to }) =>
      transitions.push({ atMs: round(performance.now() - hungAt), from, to }),
    );
    const calls = context.quick ? 10 : 30;
    victim.hang();
    hungAt = performance.now();
    context.progress(`  degraded · hung Redis · ${calls} sequential gets, then ${calls} sets, then 64 at once`);
    const gets = await timeCalls(calls, (i) => keyv.get(key(i)));
    const setsStart = performance.now() - hungAt;
    const sets = await timeCalls(calls, (i) => keyv.set(key(i), value));
    const burstStart = performance.now();
    const one = async (k: string): Promise<number> => (await timeCalls(1, () => keyv.get(k)))[0] ?? 0;
    const burst = await Promise.all([...keys, ...keys].map(one));
    const burstMs = round(performance.now() - burstStart);
    const circuitWhileHung = store.circuitState;
    const capMs = context.quick ? 500 : 1_000;
    context.progress(`  degraded · hung Redis · one get per neighbour, ${capMs} ms cap`);
    const probe = async ({ name, get }: (typeof neighbours)[number]) => {
      const outcome = await bounded(() => get(key(0)), capMs);
      if (outcome.status === 'hung') return { subject: name, outcome: `still waiting at ${capMs} ms`, ms: capMs };
      const said = outcome.status === 'resolved' ? 'answered' : `rejected: ${(outcome.error as Error)?.message}`;
      return { subject: name, outcome: said, ms: round(outcome.ms) };
    };
    const neighbourOutcomes = await Promise.all(neighbours.map(probe));
    victim.resume();
    const firstGetAfterResumeMs = round((await timeCalls(1, () => keyv.get(key(0))))[0] ?? Number.NaN);

    const [get, set] = [phase(gets, 0), phase(sets, setsStart)];
    const concurrent64 = { wallMs: burstMs, worstMs: round(Math.max(...burst)), waited: burst.filter(waited).length };
    const circuit = { stateWhileHung: circuitWhileHung, transitions };
    const hungRedis = { payload, operationTimeoutMs: DEADLINE_MS, circuit, get, set, concurrent64 };
    const note = `circuit: ${circuitWhileHung}; first ${calls} calls after SIGSTOP`;
    const header = ['calls', 'n', 'waited ≥ ½ deadline', 'worst', 'p50', 'stopped waiting after', 'p99 after that'];
    const outcomes = neighbourOutcomes.map((n) => [n.subject, n.outcome, String(n.ms)]);
    const section = [
      `### hung Redis (SIGSTOP), operationTimeoutMs ${DEADLINE_MS}, ${payload} values`,
      mdTable(header, [phaseLine('get', get), phaseLine('set', set)]),
      `64 gets at once: all settled after ${burstMs} ms, worst ${concurrent64.worstMs} ms, ${concurrent64.waited} waited. ` +
        `Circuit while hung: ${circuitWhileHung}; transitions: ${JSON.stringify(transitions)}. ` +
        `First get after SIGCONT: ${firstGetAfterResumeMs} ms.`,
      mdTable(['neighbour, one get on the hung server', 'outcome', 'ms'], outcomes),
    ];
    const subject = { name: 'TieredStore primary-first, Redis hung', role: 'keyv-failsafe' } as const;
    const row = (op: string, ms: number[]) =>
      toRow({ scenario: `hung redis ${op}`, payload, mode: 'sequential' }, subject, sampleOf(ms), note);
    return {
      rows: [row('get', gets), row('set', sets)],
      findings: { hungRedis: { ...hungRedis, neighbours: neighbourOutcomes, firstGetAfterResumeMs } },
      sections: { hungRedis: section },
    };
  },
};
