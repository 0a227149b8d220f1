import type { Keyv } from 'keyv';
import type { Cleanup } from '../lib/cleanup.js';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/context.js';
import { measure } from '../lib/histogram.js';
import { storeHealth, tieredKeyv } from '../lib/ours.js';
import { makeKeys, makePayload } from '../lib/payloads.js';
import { commandCalls, commandDelta } from '../lib/redis.js';
import { RoundTripCounter } from '../lib/round-trips.js';
import { healthNote } from '../lib/runner.js';
import type { PayloadName, Row } from '../lib/types.js';

const BATCH = 100;

/** The four calls compared, each doing the work of 100 keys. */
function batchCalls(keyv: Keyv, keys: string[], value: unknown): Record<string, () => Promise<unknown>> {
  const entries = keys.map((key) => ({ key, value }));
  return {
    [`getMany(${BATCH})`]: () => keyv.getMany(keys),
    [`${BATCH} × get`]: async () => {
      for (const key of keys) await keyv.get(key);
    },
    [`setMany(${BATCH})`]: () => keyv.setMany(entries),
    [`${BATCH} × set`]: async () => {
      for (const key of keys) await keyv.set(key, value);
    },
  };
}

interface CallCount {
  payload: PayloadName;
  call: string;
  roundTrips: number;
  commands: Record<string, number> | string;
  /** Set when the call was not (fully) answered by Redis, e.g. it hit the deadline. */
  health?: string;
}

/**
 * Round trips through a counting proxy, and commands from INFO commandstats when the server is
 * ours (on a shared REDIS_URL other clients' commands would be counted too).
 */
async function countCalls(context: BenchContext, url: string, payload: PayloadName): Promise<CallCount[]> {
  const { hostname, port } = new URL(url);
  const proxy = await RoundTripCounter.start(hostname, Number(port));
  const { keyv, store } = tieredKeyv({ primary: proxy.url }, `bench-${context.runId}-rt`);
  try {
    const keys = makeKeys(`${context.runId}:rt:${payload}`, BATCH);
    const calls = batchCalls(keyv, keys, makePayload(payload));
    await (calls[`setMany(${BATCH})`] as () => Promise<unknown>)(); // connects, and makes the reads hits
    const counts: CallCount[] = [];
    for (const [call, run] of Object.entries(calls)) {
      const before = context.redisIsOurs ? await commandCalls(url) : undefined;
      const healthBefore = storeHealth(store);
      proxy.take();
      await run();
      const roundTrips = proxy.take();
      const commands =
        before === undefined ? 'not counted: shared server' : commandDelta(before, await commandCalls(url));
      const health = healthNote('batch', healthBefore, storeHealth(store));
      counts.push({ payload, call, roundTrips, commands, ...(health === undefined ? {} : { health }) });
    }
    return counts;
  } finally {
    await keyv.disconnect();
    await proxy.close();
  }
}

/** getMany/setMany of 100 keys against 100 single calls, through Keyv, primary-first, Redis up. */
export const batches: Scenario = {
  name: 'batch',
  requires: 'redis',
  async run(context: BenchContext, cleanup: Cleanup): Promise<ScenarioResult> {
    const url = context.redisUrl as string;
    const { keyv: tiered, store } = tieredKeyv({ primary: url }, `bench-${context.runId}-batch`);
    cleanup.add('batch store', () => tiered.disconnect());
    const rows: Row[] = [];
    const counts: CallCount[] = [];
    // A batch of 100 sequential round trips takes ~100x a single call: fewer, longer samples suffice.
    const timing = { ...context.timing, minOps: Math.min(context.timing.minOps, 10) };
    for (const payload of context.payloads) {
      const keys = makeKeys(`${context.runId}:batch:${payload}`, BATCH);
      const calls = batchCalls(tiered, keys, makePayload(payload));
      await (calls[`setMany(${BATCH})`] as () => Promise<unknown>)();
      for (const [call, run] of Object.entries(calls)) {
        const before = storeHealth(store);
        const sample = await measure(run, { ...timing, inFlight: 1 });
        const health = healthNote('batch', before, storeHealth(store));
        if (health !== undefined) context.progress(`  ${call}: ${health}`);
        const kind = call.includes('get') ? 'get' : 'set';
        const baseline = `TieredStore ${BATCH} × ${kind}`;
        const subject = `TieredStore ${call}`;
        rows.push({
          scenario: `batch ${kind}`,
          subject,
          role: 'keyv-failsafe',
          payload,
          mode: 'sequential',
          ...sample,
          ...(subject === baseline ? {} : { baseline }),
          note: health === undefined ? 'one op = 100 keys' : `one op = 100 keys; ${health}`,
        });
        context.progress(
          `  batch · ${payload} · ${subject}: p50 ${(sample.p50Us / 1e3).toFixed(2)} ms, p99 ${(sample.p99Us / 1e3).toFixed(2)} ms`,
        );
      }
      counts.push(...(await countCalls(context, url, payload)));
    }
    return { rows, findings: { batchCalls: counts } };
  },
};
