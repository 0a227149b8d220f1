import type { TieredStoreOptions } from '../../src/index.js';
import { type Client, LIBRARIES, tieredKeyv } from '../lib/libraries.js';
import { bounded, type Cleanup, sleep } from '../lib/measure.js';
import { int, mdTable } from '../lib/report.js';
import { makePayload, measureGroup } from './runner.js';
import { storeHealth, yielding } from './subjects.js';
import type { BenchContext, Row, Scenario, Subject } from './types.js';

/** The loader stands for a query of about this many ms (a timer: 2-3 ms in practice). */
const LOADER_MS = 2;
/** The reloading key's TTL: it expires about this often and is loaded again. */
const RELOAD_TTL_MS = 100;
const MODES = [{ mode: '64 in flight', inFlight: 64 }] as const;
const BASELINE = 'cacheable getOrSet';

/** The two states measured: every call a hit (no TTL, loaded once), and a key that keeps expiring. */
const STATES = [
  { scenario: 'getOrSet hit', ttlMs: undefined },
  { scenario: 'getOrSet reload', ttlMs: RELOAD_TTL_MS },
] as const;

/** A loader that records when each of its calls started (ms, `performance.now()`). */
function countingLoader(value: Record<string, unknown>) {
  const calls: number[] = [];
  const loader = async () => {
    calls.push(performance.now());
    await sleep(LOADER_MS);
    return { ...value, loadedAt: Date.now() };
  };
  return { calls, loader };
}

/**
 * Reloads in a run of loader calls: a call that starts more than half a TTL after the first call
 * of the current reload starts the next one. Calls per reload above 1 are loads single flight did
 * not prevent (callers that missed while, or just after, another caller loaded).
 */
export function reloadsOf(calls: readonly number[], ttlMs: number): number {
  let [reloads, startedAt] = [0, Number.NEGATIVE_INFINITY];
  for (const at of calls) {
    if (at - startedAt > ttlMs / 2) [reloads, startedAt] = [reloads + 1, at];
  }
  return reloads;
}

type Built = { name: string; client: Client; health?: () => Record<string, number> };

/** Each library with its memory tier in front of Redis, as its README builds it, plus TieredStore's two policies. */
function build(url: string, ns: (name: string) => string): Built[] {
  const tiered = (name: string, options: Partial<TieredStoreOptions>, namespace: string): Built => {
    // `serialization: 'store'` goes with Keyv's serializer off, as the README says.
    const serialize = options.serialization !== 'store';
    const { client, store } = tieredKeyv({ primary: url, ...options }, ns(namespace), serialize);
    const near = options.readPolicy === 'near-cache';
    const health = () => ({
      ...storeHealth(store),
      ...(near ? { revalidations: store.stats().nearCache.revalidations } : {}),
    });
    return { name, client, health };
  };
  const neighbour = (name: keyof typeof LIBRARIES, label: string): Built => ({
    name: label,
    client: LIBRARIES[name].create(url, { namespace: ns(name) }),
  });
  return [
    tiered('TieredStore near-cache getOrSet', { readPolicy: 'near-cache' }, 'gos-nc'),
    tiered(
      "TieredStore near-cache, serialization: 'store' getOrSet",
      { readPolicy: 'near-cache', serialization: 'store' },
      'gos-nc-obj',
    ),
    tiered('TieredStore primary-first getOrSet', {}, 'gos-pf'),
    neighbour('cacheable', BASELINE),
    neighbour('cache-manager', 'cache-manager wrap'),
    neighbour('bentocache', 'bentocache getOrSet'),
  ];
}

/** One library's getOrSet of one hot key as a subject; every caller asks for the same key. */
function hotKeySubject(built: Built, key: string, ttlMs: number | undefined, value: Record<string, unknown>) {
  const getOrSet = built.client.getOrSet;
  if (getOrSet === undefined) throw new Error(`${built.name} has no getOrSet`);
  const { calls, loader } = countingLoader(value);
  const call = yielding(() => getOrSet(key, loader, ttlMs));
  const subject: Subject = {
    name: built.name,
    role: built.client.store ? 'keyv-failsafe' : 'neighbour',
    get: call,
    set: async () => {},
    // Untimed: a turn for timers (a near-cache heartbeat starved by the other subjects' rounds), then one call.
    beforeRound: async () => {
      await sleep(2);
      await call();
    },
    close: async () => {},
    ...(built.health ? { health: built.health } : {}),
  };
  return { subject, calls };
}

/** latest.md's getOrSet section: loader calls per reload of the expiring key, by library. */
function section(found: ReadonlyArray<{ subject: string; loaderCalls: number; reloads: number }>): string[] {
  const rows = found.map((f) => [
    f.subject,
    int(f.loaderCalls),
    int(f.reloads),
    (f.loaderCalls / f.reloads).toFixed(2),
  ]);
  return [
    '### getOrSet: loader calls per reload',
    `One key with a ${RELOAD_TTL_MS} ms TTL, 64 callers in flight, a loader of ${LOADER_MS} ms; a reload is a run of ` +
      'loader calls starting within half a TTL of its first (warm-up and every round included). 1.00 is perfect ' +
      'single flight.',
    mdTable(['subject', 'loader calls', 'reloads', 'calls per reload'], rows),
  ];
}

/**
 * getOrSet on a hot key under 64 concurrent callers (issue 11): TieredStore's beside cacheable's
 * `getOrSet`, cache-manager's `wrap` and bentocache's `getOrSet`, each on its own Redis path
 * (loopback); all hits, and a key that keeps expiring. See benchmarks/README.md, "getOrSet".
 */
export const getOrSet: Scenario = {
  name: 'getOrSet',
  requires: 'redis',
  async run(context: BenchContext, cleanup: Cleanup) {
    const ns = (name: string): string => `bench-${context.runId}-${name}`;
    const built = build(context.redisUrl as string, ns);
    cleanup.add('getOrSet clients', () => Promise.all(built.map((b) => bounded(() => b.client.close(), 2_000))));
    const [value, at] = [makePayload('1KB'), { ...context, payloads: ['1KB'] as const }];
    const rows: Row[] = [];
    const reloads: Array<{ subject: string; loaderCalls: number; reloads: number }> = [];
    for (const state of STATES) {
      const key = `${context.runId}:hot:${state.ttlMs ?? 'none'}`;
      const subjects = built.map((b) => hotKeySubject(b, key, state.ttlMs, value));
      const spec = { scenario: state.scenario, operation: 'get', baseline: BASELINE, modes: MODES } as const;
      const measured = await measureGroup(
        at,
        spec,
        subjects.map((s) => s.subject),
      );
      for (const [i, { subject, calls }] of subjects.entries()) {
        const row = measured[i] as Row;
        const count = state.ttlMs === undefined ? 1 : reloadsOf(calls, state.ttlMs);
        const perReload =
          state.ttlMs === undefined
            ? `loader calls ${int(calls.length)} (the first call loads)`
            : `loader calls ${int(calls.length)} for ${int(count)} reloads: ${(calls.length / count).toFixed(2)} per reload`;
        rows.push({ ...row, note: [row.note, perReload].filter(Boolean).join('; ') });
        if (state.ttlMs !== undefined)
          reloads.push({ subject: subject.name, loaderCalls: calls.length, reloads: count });
      }
    }
    return { rows, findings: { getOrSet: reloads }, sections: { getOrSet: section(reloads) } };
  },
};
