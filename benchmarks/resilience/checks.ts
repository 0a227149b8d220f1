import { command } from '../../harness/resp.js';
import type { Client, Library } from '../lib/libraries.js';
import { bounded, type Outcome, sleep } from '../lib/measure.js';
import type { Load } from './load.js';

/**
 * Writes probes with the harness's raw client (no library code, never through the proxy) to the
 * server at `port`: each a value under a key nobody has ever read, in `library`'s own layout, so
 * that the library can only return it by reading Redis (no memory tier ever held it).
 */
export function prober(library: Library, port: number, password: string | undefined) {
  let probes = 0;
  return async (tag: string) => {
    const value = { k: `probe:${tag}:${process.pid}:${++probes}`, v: probes };
    const raw = library.encodeRaw(value.k, value);
    const args = ['SET', raw.key, raw.value, ...(raw.pxMs === undefined ? [] : ['PX', String(raw.pxMs)])];
    await command(port, args, { password, timeoutMs: 1_000 });
    const is = (read: unknown): boolean => JSON.stringify(read) === JSON.stringify(value);
    return { ask: (client: Client) => client.get(value.k), is };
  };
}
type Prober = ReturnType<typeof prober>;

/**
 * Time from `backAt` (the server is usable again) to the first read through the library that
 * returns a value written to Redis after that moment. A probe starts every 25 ms without waiting
 * for the earlier ones (a probe stuck in a reconnecting client must not delay the next).
 */
export async function measureRecovery(probe: Prober, client: Client, backAt: number, capMs: number) {
  let [made, recoveredAt] = [0, undefined as number | undefined];
  const seen = (check: (read: unknown) => boolean) => (read: unknown) => {
    if (recoveredAt === undefined && check(read)) recoveredAt = performance.now();
  };
  while (recoveredAt === undefined && performance.now() - backAt < capMs) {
    // A raw write that fails means the server does not take writes yet: next round.
    const written = await probe('recovery').catch(() => undefined);
    if (written) made++;
    written?.ask(client).then(seen(written.is), () => {});
    await sleep(25);
  }
  return { ms: recoveredAt === undefined ? null : Math.round(recoveredAt - backAt), probes: made };
}

/**
 * Brings a just-built instance to Redis before it is asked anything, by polling raw-written probes
 * through it. False: it never read Redis (or the probe layout is wrong), and what it reads proves little.
 */
export async function reachRedis(probe: Prober, client: Client, capMs: number): Promise<boolean> {
  for (const started = performance.now(); performance.now() - started < capMs; await sleep(50)) {
    const written = await probe('reach').catch(() => undefined);
    const read = written && (await bounded(() => written.ask(client), 500));
    if (read?.status === 'resolved' && written?.is(read.value)) return true;
  }
  return false;
}

/**
 * Reads every key once and compares it with the newest write or delete this process made (a miss
 * is never stale). As many reads in flight as the load had: a burst of 1000 would trip deadlines,
 * and a timed-out read served as a miss would hide what Redis holds. None starts after `capMs`:
 * through a black-holed connection 1000 keys would take 1000 / 32 x capMs.
 */
export async function checkStaleness(client: Client, load: Load, capMs: number, reachedRedis: boolean) {
  const c = { reachedRedis, checked: 0, fresh: 0, misses: 0, stale: 0, resurrected: 0, staleAfterAcked: 0 };
  const counts = { ...c, staleAfterFailed: 0, staleAfterHung: 0, anomalies: 0, unanswered: 0, rejected: 0 };
  const [outcomes, deadline] = [[] as Array<Outcome<unknown> | undefined>, performance.now() + capMs];
  let next = 0;
  const reader = async (): Promise<void> => {
    for (let i = next++; i < load.keys.length && performance.now() < deadline; i = next++) {
      outcomes[i] = await bounded(() => client.get(load.keys[i] as string), capMs);
    }
  };
  await Promise.all(Array.from({ length: load.timings.workers }, reader));
  const by = { acked: 'staleAfterAcked', failed: 'staleAfterFailed', hung: 'staleAfterHung' } as const;
  for (const [index, key] of load.keys.entries()) {
    const [outcome, expected] = [outcomes[index], load.state[index]];
    const value = outcome?.status === 'resolved' ? (outcome.value as { k?: unknown; v?: unknown } | null) : undefined;
    counts.checked++;
    if (outcome === undefined || outcome.status === 'hung') counts.unanswered++;
    else if (outcome.status === 'rejected') counts.rejected++;
    else if (value == null) counts.misses++;
    // A version never written, or a value of the wrong shape: a harness bug if ever seen.
    else if (!expected || value.k !== key || typeof value.v !== 'number' || value.v > expected.version)
      counts.anomalies++;
    else if (!expected.deleted && value.v === expected.version) counts.fresh++;
    else {
      counts.stale++;
      if (expected.deleted) counts.resurrected++;
      counts[by[expected.ack]]++;
    }
  }
  return counts;
}
export type StaleCheck = Awaited<ReturnType<typeof checkStaleness>>;
