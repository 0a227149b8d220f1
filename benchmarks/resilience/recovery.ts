import { performance } from 'node:perf_hooks';
import type { CacheClient, LibraryAdapter, VersionedValue } from './libraries/types.js';
import { sleep } from './outcome.js';
import type { RecoveryResult } from './protocol.js';
import { command } from './resp.js';

/** A new probe every this often: the resolution of the recovery time. */
const PROBE_INTERVAL_MS = 25;

export interface ProbeTarget {
  readonly port: number;
  readonly password: string | undefined;
}

let probeCounter = 0;

/**
 * Writes a value under a key nobody has ever read, with a raw client, in the library's own layout.
 * The library can only return it by reading Redis: no memory tier has ever held that key.
 */
export async function writeProbe(
  adapter: LibraryAdapter,
  target: ProbeTarget,
  tag: string,
): Promise<{ key: string; value: VersionedValue }> {
  probeCounter++;
  const key = `probe:${tag}:${process.pid}:${probeCounter}`;
  const value = { k: key, v: probeCounter };
  const raw = adapter.encodeRaw(key, value);
  const args = ['SET', raw.key, raw.value, ...(raw.pxMs === undefined ? [] : ['PX', String(raw.pxMs)])];
  await command(target.port, args, { password: target.password, timeoutMs: 1_000 });
  return { key, value };
}

export function isProbeValue(read: unknown, expected: VersionedValue): boolean {
  const value = read as Partial<VersionedValue> | null | undefined;
  return value?.k === expected.k && value?.v === expected.v;
}

/**
 * Time from `backAt` (the server is back) to the first call through the library that returns a
 * value written to Redis after that moment. Probes start every 25 ms without waiting for earlier
 * ones, so a probe stuck in a reconnecting client does not delay the next; the first to come back
 * right wins, whichever it is.
 */
export async function measureRecovery(
  adapter: LibraryAdapter,
  client: CacheClient,
  target: ProbeTarget,
  backAt: number,
  capMs: number,
): Promise<RecoveryResult> {
  let probes = 0;
  let recoveredAt: number | undefined;
  while (recoveredAt === undefined && performance.now() - backAt < capMs) {
    try {
      const probe = await writeProbe(adapter, target, 'recovery');
      probes++;
      client.get(probe.key).then(
        (read) => {
          if (recoveredAt === undefined && isProbeValue(read, probe.value)) recoveredAt = performance.now();
        },
        () => {},
      );
    } catch {
      // The raw write failed: the server is not accepting writes yet; try again next round.
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  return { ms: recoveredAt === undefined ? null : Math.round(recoveredAt - backAt), probes };
}

/**
 * Brings a just-built instance to Redis before it is asked anything: polls raw-written probes
 * through it until one is answered. True when one was; false means the instance never read Redis
 * (or the probe layout is wrong for this library), and what it reads afterwards proves little.
 */
export async function reachRedis(
  adapter: LibraryAdapter,
  client: CacheClient,
  target: ProbeTarget,
  capMs: number,
): Promise<boolean> {
  const started = performance.now();
  while (performance.now() - started < capMs) {
    try {
      const probe = await writeProbe(adapter, target, 'reach');
      const read = await Promise.race([client.get(probe.key), sleep(500)]);
      if (isProbeValue(read, probe.value)) return true;
    } catch {
      // Not there yet.
    }
    await sleep(50);
  }
  return false;
}
