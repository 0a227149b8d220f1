import { createClient } from '@keyv/redis';
import type { Keyv } from 'keyv';
import { TcpProxy } from '../../harness/tcp-proxy.js';
import { tieredKeyv } from '../lib/libraries.js';
import { type Cleanup, measure } from '../lib/measure.js';
import { mdTable } from '../lib/report.js';
import { healthNote, makeKeys, makePayload, toRow } from './runner.js';
import { storeHealth } from './subjects.js';
import type { BenchContext, PayloadName, Row, Scenario } from './types.js';

/** The four calls compared, each doing the work of 100 keys; `setMany` also connects and makes the reads hits. */
export function batchCalls(keyv: Keyv, payload: PayloadName, prefix: string) {
  const [keys, value] = [makeKeys(prefix, 100), makePayload(payload)];
  const setMany = () => keyv.setMany(keys.map((key) => ({ key, value })));
  const each = (call: (key: string) => Promise<unknown>) => async () => {
    for (const key of keys) await call(key);
  };
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['getMany(100)', () => keyv.getMany(keys)],
    ['100 × get', each((key) => keyv.get(key))],
    ['setMany(100)', setMany],
    ['100 × set', each((key) => keyv.set(key, value))],
  ];
  return { setMany, calls };
}

/** Calls per command from `INFO commandstats` (our own counting left out), e.g. `{ get: 120 }`. */
async function commandCalls(url: string): Promise<Record<string, number>> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  const info = await client.info('commandstats').finally(() => client.destroy());
  const counts = [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [String(m[1]), Number(m[2])] as const);
  return Object.fromEntries(counts.filter(([name]) => !['info', 'client|setname', 'hello'].includes(name)));
}

/**
 * Round trips through the harness's counting proxy, and commands (INFO commandstats before and
 * after) when the server is ours: on a shared REDIS_URL other clients' commands would count too.
 */
async function countCalls(context: BenchContext, url: string, payload: PayloadName) {
  const { hostname, port } = new URL(url);
  const proxy = await TcpProxy.start(Number(port), hostname);
  const { keyv, store } = tieredKeyv({ primary: proxy.url }, `bench-${context.runId}-rt`);
  const counts = [];
  try {
    const { setMany, calls } = batchCalls(keyv, payload, `${context.runId}:rt:${payload}`);
    await setMany();
    for (const [call, run] of calls) {
      const before = context.redisIsOurs ? await commandCalls(url) : undefined;
      const healthBefore = storeHealth(store);
      proxy.takeRoundTrips();
      await run();
      const roundTrips = proxy.takeRoundTrips();
      const after = before && Object.entries(await commandCalls(url));
      const delta = after?.flatMap(([name, n]) =>
        n > (before?.[name] ?? 0) ? [`${name} ${n - (before?.[name] ?? 0)}`] : [],
      );
      const commands = delta?.join(', ') ?? 'not counted: shared server';
      const health = healthNote('batch', healthBefore, storeHealth(store));
      counts.push({ payload, call, roundTrips, commands, ...(health === undefined ? {} : { health }) });
    }
  } finally {
    await keyv.disconnect();
    await proxy.close();
  }
  return counts;
}

/** getMany/setMany of 100 keys against 100 single calls, through Keyv, primary-first, Redis up. */
export const batches: Scenario = {
  name: 'batch',
  requires: 'redis',
  async run(context: BenchContext, cleanup: Cleanup) {
    const url = context.redisUrl as string;
    const { keyv, store } = tieredKeyv({ primary: url }, `bench-${context.runId}-batch`);
    cleanup.add('batch store', () => keyv.disconnect());
    const [rows, counted]: [Row[], Awaited<ReturnType<typeof countCalls>>] = [[], []];
    // A batch of 100 sequential round trips takes ~100x a single call: fewer, longer samples suffice.
    const timing = { ...context.timing, minOps: Math.min(context.timing.minOps, 10), inFlight: 1 };
    for (const payload of context.payloads) {
      const { setMany, calls } = batchCalls(keyv, payload, `${context.runId}:batch:${payload}`);
      await setMany();
      for (const [call, run] of calls) {
        const before = storeHealth(store);
        const sample = await measure(run, timing);
        const health = healthNote('batch', before, storeHealth(store));
        if (health !== undefined) context.progress(`  ${call}: ${health}`);
        const kind = call.includes('get') ? 'get' : 'set';
        const baseline = `TieredStore 100 × ${kind}`;
        const at = { scenario: `batch ${kind}`, payload, mode: 'sequential', baseline } as const;
        const subject = { name: `TieredStore ${call}`, role: 'keyv-failsafe' } as const;
        rows.push(toRow(at, subject, sample, ['one op = 100 keys', health].filter(Boolean).join('; ')));
        const [p50, p99] = [(sample.p50Us / 1e3).toFixed(2), (sample.p99Us / 1e3).toFixed(2)];
        context.progress(`  batch · ${payload} · ${subject.name}: p50 ${p50} ms, p99 ${p99} ms`);
      }
      counted.push(...(await countCalls(context, url, payload)));
    }
    const lines = counted.map((c) => [c.payload, c.call, String(c.roundTrips), c.commands, c.health ?? '']);
    const title = '### round trips and commands per batch call (TieredStore through Keyv)';
    const table = mdTable(['payload', 'call', 'round trips', 'commands', 'note'], lines);
    return { rows, findings: { batchCalls: counted }, sections: { batchCalls: [title, table] } };
  },
};
