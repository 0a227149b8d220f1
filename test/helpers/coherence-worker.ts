/**
 * Several real processes writing and reading the same keys through one redis-server, each in a
 * tight loop, to measure how soon a write acknowledged in one process is seen in the others.
 *
 * Imported, it exports `runCoherence`, which forks this file (`workers.ts`); in the child it builds
 * `Keyv` over a `TieredStore` from `src/`.
 * Process `i` writes key `k<i>` with increasing sequence numbers (recording when each write was
 * acknowledged) and reads every key in a loop, recording when it first saw each value and any read
 * that went backwards. Times are on a clock shared by the machine's processes (`now()`).
 */
import { fileURLToPath } from 'node:url';
import type { TieredStoreOptions, TieredStoreStats } from '../../src/index.js';
import { now } from './store-process.js';
import { isWorker, runWorkers, workerChild } from './workers.js';

export interface CoherenceOptions {
  readonly url: string;
  readonly processes: number;
  readonly store: Omit<TieredStoreOptions, 'primary' | 'clock'>;
  /** How long every process writes and reads. */
  readonly durationMs: number;
  /** Pause between two writes of a process. */
  readonly writeEveryMs: number;
}

/** What one process saw. */
export interface CoherenceReport {
  readonly index: number;
  /** `[seq, acknowledgedAt]` of its own writes. */
  readonly writes: Array<[number, number]>;
  /** Per key index: `[seq, firstSeenAt]`, each time a read returned a value newer than the last. */
  readonly seen: Array<Array<[number, number]>>;
  /** Reads that returned an older value than an earlier read of the same key. */
  readonly regressions: number;
  readonly reads: number;
  readonly stats: TieredStoreStats;
}

const SELF = fileURLToPath(import.meta.url);

/** Runs the processes together (they start writing at the same moment) and returns their reports. */
export function runCoherence(options: CoherenceOptions): Promise<CoherenceReport[]> {
  return runWorkers<{ index: number; options: CoherenceOptions }, CoherenceReport>(
    SELF,
    Array.from({ length: options.processes }, (_, index) => ({ index, options })),
  );
}

/**
 * For every write and every other process: how long after the write was acknowledged that process
 * first read it (or a newer value), in ms. Negative when it read it before the writer's ack arrived.
 */
export function lags(reports: readonly CoherenceReport[]): number[] {
  const out: number[] = [];
  for (const writer of reports) {
    for (const reader of reports) {
      if (reader === writer) continue;
      const seen = reader.seen[writer.index] ?? [];
      let j = 0;
      for (const [seq, ackAt] of writer.writes) {
        while (j < seen.length && (seen[j] as [number, number])[0] < seq) j++;
        if (j === seen.length) break;
        out.push((seen[j] as [number, number])[1] - ackAt);
      }
    }
  }
  return out;
}

// ---- child side ----------------------------------------------------------------------------------

async function runChild(): Promise<void> {
  const child = await workerChild<{ index: number; options: CoherenceOptions }, CoherenceReport>();
  const { index, options } = child.init;
  const { TieredStore } = await import('../../src/index.js');
  const Keyv = (await import('keyv')).default;
  const store = new TieredStore({ ...options.store, primary: options.url } as TieredStoreOptions);
  const keyv = new Keyv<number>({ store, namespace: 'coherence' });
  keyv.on('error', () => {});
  const keys = Array.from({ length: options.processes }, (_, i) => `k${i}`);
  await keyv.set(keys[index] as string, 0);
  await child.ready();
  const endAt = now() + options.durationMs;
  const writes: Array<[number, number]> = [];
  const seen = keys.map((): Array<[number, number]> => []);
  const last = keys.map(() => -1);
  let regressions = 0;
  let reads = 0;
  const writer = (async () => {
    for (let seq = 1; now() < endAt; seq++) {
      await keyv.set(keys[index] as string, seq);
      writes.push([seq, now()]);
      await new Promise((done) => setTimeout(done, options.writeEveryMs));
    }
  })();
  const reader = (async () => {
    // Reads go on a little after the last write, so that every process can see it.
    while (now() < endAt + 250) {
      for (let i = 0; i < keys.length; i++) {
        const value = await keyv.get(keys[i] as string);
        const at = now();
        reads++;
        if (typeof value !== 'number') continue;
        if (value > (last[i] as number)) {
          last[i] = value;
          seen[i]?.push([value, at]);
        } else if (value < (last[i] as number)) {
          regressions++;
        }
      }
      // Memory hits resolve without I/O: yield, so that replies and invalidations are read.
      await new Promise((done) => setImmediate(done));
    }
  })();
  await Promise.all([writer, reader]);
  const report: CoherenceReport = { index, writes, seen, regressions, reads, stats: store.stats() };
  child.report(report);
  await store.disconnect();
}

if (isWorker(SELF)) void runChild();
