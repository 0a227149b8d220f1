/**
 * `getOrSet` under contention across real processes: each process starts `callers` concurrent
 * `getOrSet` calls of the same key at the same moment, with a loader that counts its calls and takes
 * `loadMs`. Imported, it exports `runLoads`, which forks this file (`workers.ts`).
 */
import { fileURLToPath } from 'node:url';
import type { GetOrSetOptions, TieredStoreOptions, TieredStoreStats } from '../../src/index.js';
import { isWorker, runWorkers, workerChild } from './workers.js';

export interface LoadRunOptions {
  readonly url: string;
  readonly processes: number;
  readonly callers: number;
  readonly key: string;
  readonly loadMs: number;
  readonly getOrSet?: GetOrSetOptions;
  readonly store?: Omit<TieredStoreOptions, 'primary' | 'clock'>;
}

export interface LoadReport {
  readonly index: number;
  /** Times this process's loader ran. */
  readonly loaderCalls: number;
  /** Distinct values the callers received. */
  readonly values: unknown[];
  readonly rejections: number;
  /** What `keyv.get(key)` read afterwards. */
  readonly readBack: unknown;
  readonly stats: TieredStoreStats;
}

const SELF = fileURLToPath(import.meta.url);

export function runLoads(options: LoadRunOptions): Promise<LoadReport[]> {
  return runWorkers<{ index: number; options: LoadRunOptions }, LoadReport>(
    SELF,
    Array.from({ length: options.processes }, (_, index) => ({ index, options })),
  );
}

async function runChild(): Promise<void> {
  const child = await workerChild<{ index: number; options: LoadRunOptions }, LoadReport>();
  const { index, options } = child.init;
  const { TieredStore } = await import('../../src/index.js');
  const Keyv = (await import('keyv')).default;
  // A generous deadline: 1,000 callers in each of several processes on 2 cores can keep a reply
  // waiting past the default 100 ms, and a write that timed out is not what these tests are about.
  const store = new TieredStore({
    operationTimeoutMs: 1_000,
    ...options.store,
    primary: options.url,
  } as TieredStoreOptions);
  const keyv = new Keyv({ store, namespace: 'loads' });
  keyv.on('error', () => {});
  // The first connection, before the clock starts.
  await keyv.get('warm-up');
  await child.ready();
  let loaderCalls = 0;
  const loader = async () => {
    loaderCalls++;
    await new Promise((done) => setTimeout(done, options.loadMs));
    return `loaded by ${index}`;
  };
  const settled = await Promise.allSettled(
    Array.from({ length: options.callers }, () => store.getOrSet(options.key, loader, options.getOrSet)),
  );
  const values = [...new Set(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])))];
  const rejections = settled.filter((s) => s.status === 'rejected').length;
  const report: LoadReport = {
    index,
    loaderCalls,
    values,
    rejections,
    readBack: await keyv.get(options.key),
    stats: store.stats(),
  };
  child.report(report);
  await store.disconnect();
}

if (isWorker(SELF)) void runChild();
