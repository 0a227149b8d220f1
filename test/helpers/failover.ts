import Keyv from 'keyv';
import { expect } from 'vitest';
import type { RedisServer } from '../../harness/redis-server.js';
import { TieredStore, type TieredStoreOptions } from '../../src/index.js';
import { type LoadReport, VersionedLoad } from './load.js';

/**
 * One failover under load, for the cluster and the Sentinel suites: a store under concurrent
 * versioned load, a master killed, the replica promoted, then the checks every run ends with.
 */

export const TIMEOUT_MS = 100;
/**
 * Event-loop slack on a shared 2-core machine running 16 workers next to 5 to 7 Redis processes
 * (a failover forks nothing, but the sentinels and the cluster bus wake up): scheduling, not our code.
 */
export const MARGIN_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one run measured. */
export interface FailoverRun {
  /** From the kill to the harness seeing the replica promoted. */
  readonly promotedMs: number;
  /**
   * From the kill to the store serving from the primary again: its last failed call or its
   * breaker's last close, whichever came later, before the load stopped.
   */
  readonly servedAgainMs: number;
  readonly load: LoadReport;
  readonly fallbackServes: number;
  readonly reconciledKeys: number;
  readonly restarts: number;
}

export interface FailoverScenario {
  readonly primary: TieredStoreOptions['primary'];
  /** Kills the master or primary; resolves the killed node. */
  kill(): Promise<RedisServer>;
  /** Resolves the promoted node once the deployment says it is promoted. */
  promoted(killed: RedisServer): Promise<RedisServer>;
}

async function recovered(store: TieredStore, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (store.circuitState !== 'closed' || store.journal.pending !== 0) {
    if (performance.now() > deadline) {
      throw new Error(
        `not recovered after ${timeoutMs} ms: circuit ${store.circuitState}, ${store.journal.pending} pending`,
      );
    }
    await sleep(5);
  }
}

/**
 * Runs one failover and asserts the correctness properties: no call rejected or outlived the
 * deadline plus {@link MARGIN_MS}, memory answered reads during it, no read was older than this
 * instance's newest write (during the failover and after it), what was written during it is
 * reconciled, the store saw the new master's identity, and afterwards it reads and writes on the
 * promoted node without a failure.
 */
export async function failoverUnderLoad(scenario: FailoverScenario, prefix: string): Promise<FailoverRun> {
  const store = new TieredStore({
    primary: scenario.primary,
    operationTimeoutMs: TIMEOUT_MS,
    breaker: { cooldownMs: 200, maxCooldownMs: 400 },
  });
  const keyv = new Keyv({ store, namespace: prefix });
  const marks = { lastFailure: 0, lastClose: 0 };
  store.on('primary:failure', () => {
    marks.lastFailure = performance.now();
  });
  store.on('circuit:state', (event) => {
    if (event.to === 'closed') marks.lastClose = performance.now();
  });
  try {
    // A Sentinel client connects in several round trips: the load starts once the store is up.
    await connected(store, keyv);
    const load = new VersionedLoad(keyv, 'load', { keys: 200, workers: 16 });
    load.start();
    await sleep(300);
    const killedAt = performance.now();
    const killed = await scenario.kill();
    const promoted = await scenario.promoted(killed);
    const promotedMs = performance.now() - killedAt;
    await recovered(store, 15_000);
    // Keep the load on a while: the store must stay on the promoted node, not fall off it again.
    await sleep(500);
    const report = await load.stop();
    const servedAgainMs = Math.max(marks.lastFailure, marks.lastClose) - killedAt;

    expect(report.rejections).toEqual([]);
    expect(report.calls).toBeGreaterThan(100);
    expect(report.maxMs).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(report.stale).toEqual([]);
    const during = store.stats();
    expect(during.fallbackServes).toBeGreaterThan(0);
    expect(during.restarts).toBeGreaterThanOrEqual(1);

    await recovered(store, 10_000);
    await store.reconcile();
    expect(await load.verify()).toEqual([]);
    const after = store.stats();
    expect(after.journal.size).toBe(0);

    // Served from the promoted node: new writes land there and read back from the primary.
    const keys = Array.from({ length: 30 }, (_, i) => `after:${i}`);
    for (const key of keys) expect(await keyv.set(key, key)).toBe(true);
    const hits = after.hits.primary;
    for (const key of keys) expect(await keyv.get(key)).toBe(key);
    const final = store.stats();
    expect(final.hits.primary - hits).toBe(keys.length);
    expect(final.primaryFailures).toBe(after.primaryFailures);
    expect(Number(await promoted.command(['DBSIZE']))).toBeGreaterThan(0);
    return {
      promotedMs,
      servedAgainMs,
      load: report,
      fallbackServes: during.fallbackServes,
      reconciledKeys: after.reconciled.keys,
      restarts: after.restarts,
    };
  } finally {
    await store.disconnect();
  }
}

/** Waits until the store answers from the primary, so that the load starts on a connected store. */
async function connected(store: TieredStore, keyv: Keyv): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    await keyv.set('connected', 1);
    if ((await keyv.get('connected')) === 1 && store.stats().hits.primary > 0 && store.circuitState === 'closed')
      return;
    if (performance.now() > deadline) throw new Error('the store never reached the primary');
    await sleep(50);
  }
}

/** p50 and max of a list of ms, rounded. */
export function summary(values: readonly number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: Math.round(sorted[Math.floor((sorted.length - 1) / 2)] ?? 0), max: Math.round(sorted.at(-1) ?? 0) };
}

/** The figures of several runs, one line, for the README. */
export function describeRuns(label: string, runs: readonly FailoverRun[]): string {
  const promoted = summary(runs.map((r) => r.promotedMs));
  const served = summary(runs.map((r) => r.servedAgainMs));
  const list = (pick: (run: FailoverRun) => number) => runs.map((run) => Math.round(pick(run))).join('/');
  return (
    `${label}, ${runs.length} runs: promoted p50 ${promoted.p50} ms, max ${promoted.max} ms; ` +
    `served again p50 ${served.p50} ms, max ${served.max} ms; slowest call ${list((r) => r.load.maxMs)} ms; ` +
    `calls ${list((r) => r.load.calls)}; fallback serves ${list((r) => r.fallbackServes)}; ` +
    `reconciled keys ${list((r) => r.reconciledKeys)}`
  );
}
