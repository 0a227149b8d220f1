import { keyvRedis } from '../lib/baselines.js';
import type { Cleanup } from '../lib/cleanup.js';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/context.js';
import { timeCalls } from '../lib/histogram.js';
import { bentoRedis, cacheableRedis, cacheManagerRedis } from '../lib/neighbours.js';
import { tieredKeyv } from '../lib/ours.js';
import { makeKeys, makePayload } from '../lib/payloads.js';
import { OwnedRedis } from '../lib/redis.js';
import { closeAll } from '../lib/runner.js';
import type { Subject } from '../lib/subjects.js';
import type { Row } from '../lib/types.js';

/** The store's default deadline; the breaker makes the calls after the first few not wait it. */
const OPERATION_TIMEOUT_MS = 100;
/** A call that took at least this share of the deadline waited on the hung server. */
const WAITED_SHARE = 0.5;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Summarizes sequential calls made from `startedAt` (ms after the hang) on: how many waited on
 * the server, the worst, and when calls stopped waiting (the end of the last call that waited,
 * provided a later call did not wait), which is when the breaker opened in effect.
 */
function phase(latencies: readonly number[], startedAt: number) {
  const waited = (ms: number): boolean => ms >= OPERATION_TIMEOUT_MS * WAITED_SHARE;
  const lastWaiting = latencies.findLastIndex(waited);
  let clock = startedAt;
  const endTimes = latencies.map((ms) => {
    clock += ms;
    return clock;
  });
  // Stopped waiting: some call waited and a later one did not. None waited: the breaker was already open.
  const stopped = lastWaiting >= 0 && lastWaiting < latencies.length - 1;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    calls: latencies.length,
    waited: latencies.filter(waited).length,
    worstMs: round(sorted.at(-1) ?? Number.NaN),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    stoppedWaitingAfterMs: stopped ? round(endTimes[lastWaiting] as number) : null,
    afterStopP99Ms: stopped
      ? round(
          percentile(
            [...latencies.slice(lastWaiting + 1)].sort((a, b) => a - b),
            99,
          ),
        )
      : null,
    latenciesMs: latencies.map(round),
  };
}

/** What each neighbour does with one get on the hung server, given `capMs` to answer. */
async function probeNeighbours(subjects: readonly Subject[], key: string, capMs: number) {
  return Promise.all(
    subjects.map(async (subject) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        Promise.resolve(subject.get(key)).then(
          () => 'answered',
          (error: unknown) => `rejected: ${(error as Error)?.message ?? String(error)}`,
        ),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve(`still waiting at ${capMs} ms`), capMs);
        }),
      ]);
      clearTimeout(timer);
      return { subject: subject.name, outcome, ms: round(performance.now() - started) };
    }),
  );
}

/**
 * A hung Redis (SIGSTOP on a server of our own): per-call latency before and after the breaker
 * opens, 64 concurrent calls, and what the neighbours do with the same server.
 */
export const degraded: Scenario = {
  name: 'degraded',
  // Only a server this run started may be hung; REDIS_URL is never touched.
  requires: 'own-redis',
  async run(context: BenchContext, cleanup: Cleanup): Promise<ScenarioResult> {
    const victim = await OwnedRedis.start();
    cleanup.add('hung redis-server', () => victim.kill());
    const { keyv, store } = tieredKeyv(
      { primary: victim.url, operationTimeoutMs: OPERATION_TIMEOUT_MS },
      `bench-${context.runId}-hung`,
    );
    const neighbours = [
      keyvRedis(victim.url, `bench-${context.runId}-hung-keyv`),
      cacheableRedis(victim.url, `bench-${context.runId}-hung-cacheable`),
      cacheManagerRedis(victim.url, `bench-${context.runId}-hung-cm`),
      bentoRedis(victim.url, `bench-${context.runId}-hung-bento`),
    ];
    // Closed before the server dies: a neighbour's disconnect may wait for replies that never come.
    cleanup.add('hung-scenario clients', async () => {
      victim.resume();
      await closeAll(neighbours);
      await keyv.disconnect();
    });
    const payload = context.payloads.includes('1KB') ? '1KB' : (context.payloads[0] ?? '1KB');
    const value = makePayload(payload);
    const keys = makeKeys(`${context.runId}:hung`, 32);
    for (const key of keys) {
      await keyv.set(key, value);
      for (const neighbour of neighbours) await neighbour.set(key, value);
    }

    const transitions: Array<{ atMs: number; from: string; to: string }> = [];
    let hungAt = 0;
    store.on('circuit:state', (event) => {
      transitions.push({ atMs: round(performance.now() - hungAt), from: event.from, to: event.to });
    });

    const calls = context.quick ? 10 : 30;
    victim.hang();
    hungAt = performance.now();
    context.progress(`  degraded · hung Redis · ${calls} sequential gets, then ${calls} sets, then 64 at once`);
    const gets = await timeCalls(calls, (i) => keyv.get(keys[i % keys.length] as string));
    const setsStart = performance.now() - hungAt;
    const sets = await timeCalls(calls, (i) => keyv.set(keys[i % keys.length] as string, value));
    const burstStart = performance.now();
    const burst = await Promise.all(
      keys.concat(keys).map(async (key) => {
        const started = performance.now();
        await keyv.get(key);
        return performance.now() - started;
      }),
    );
    const burstMs = performance.now() - burstStart;
    const circuitWhileHung = store.circuitState;
    const neighbourCapMs = context.quick ? 500 : 1_000;
    context.progress(`  degraded · hung Redis · one get per neighbour, ${neighbourCapMs} ms cap`);
    const neighbourOutcomes = await probeNeighbours(neighbours, keys[0] as string, neighbourCapMs);

    victim.resume();
    const resumedAt = performance.now();
    await keyv.get(keys[0] as string);
    const firstGetAfterResumeMs = round(performance.now() - resumedAt);

    const getPhase = phase(gets, 0);
    const setPhase = phase(sets, setsStart);
    const findings = {
      hungRedis: {
        payload,
        operationTimeoutMs: OPERATION_TIMEOUT_MS,
        circuit: { stateWhileHung: circuitWhileHung, transitions },
        get: getPhase,
        set: setPhase,
        concurrent64: {
          wallMs: round(burstMs),
          worstMs: round(Math.max(...burst)),
          waited: burst.filter((ms) => ms >= OPERATION_TIMEOUT_MS * WAITED_SHARE).length,
        },
        neighbours: neighbourOutcomes,
        firstGetAfterResumeMs,
      },
    };
    const rows: Row[] = (
      [
        ['get', gets],
        ['set', sets],
      ] as const
    ).map(([operation, latencies]) => {
      const sorted = [...latencies].sort((a, b) => a - b);
      const total = latencies.reduce((sum, ms) => sum + ms, 0);
      return {
        scenario: `hung redis ${operation}`,
        subject: 'TieredStore primary-first, Redis hung',
        role: 'keyv-failsafe',
        payload,
        mode: 'sequential',
        count: latencies.length,
        opsPerSec: latencies.length / (total / 1e3),
        p50Us: percentile(sorted, 50) * 1e3,
        p99Us: percentile(sorted, 99) * 1e3,
        maxUs: (sorted.at(-1) ?? Number.NaN) * 1e3,
        note: `circuit: ${circuitWhileHung}; first ${calls} calls after SIGSTOP`,
      } satisfies Row;
    });
    return { rows, findings };
  },
};
