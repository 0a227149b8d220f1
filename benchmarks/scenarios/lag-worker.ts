/**
 * A reader of the invalidation-lag scenario (`lag.ts`), in a process of its own: forked by the
 * scenario, it builds a TieredStore (the built package, as users get it) for each phase the parent
 * sends, reads one key, and reports when it first saw each value. Times are on a clock shared by
 * the machine's processes (`now()`); the parent measures this process's offset from its own.
 *
 * Two roles. `cadence`: a read every `cadenceMs`, sleeping in between (`Atomics.wait`: the thread
 * is idle, not spinning), then one turn of the event loop so that replies and invalidations are
 * read, then the read. `arrival` (near-cache only): no reads of its own; when the invalidation
 * drops the key's copy (a wrapper on the store's memory tier notices), it reads the key at once,
 * so that both the arrival of the change and the first read after it are timed without polling.
 */
import type { TieredStoreOptions } from '../../src/index.js';
import { tieredKeyv } from '../lib/libraries.js';
import { untilLive } from './subjects.js';

/** What the parent asks a reader to do for one phase. */
export interface LagPhase {
  readonly type: 'phase';
  readonly role: 'cadence' | 'arrival';
  readonly store: TieredStoreOptions;
  readonly namespace: string;
  readonly key: string;
  readonly cadenceMs: number;
}

/** What a reader saw in one phase. */
export interface LagReport {
  readonly type: 'report';
  /** `[value, at]` each time a read returned a value newer than the last (cadence). */
  readonly seen: Array<[number, number]>;
  /** `[value read, copy dropped at, read answered at]` per invalidation (arrival). */
  readonly arrivals: Array<[number, number, number]>;
  readonly reads: number;
  /** Time between the starts of two reads (cadence), ms, ascending. */
  readonly periodsMs: number[];
  /** CPU time (user + system) over wall time while reading, in % of one core. */
  readonly cpuPercent: number;
  readonly revalidations: number;
  readonly verifiedHits: number;
  readonly state: string | undefined;
  readonly note?: string;
}

/** Set by the parent in the reader's environment: importing this file elsewhere runs nothing. */
export const READER_MARKER = 'KEYV_FAILSAFE_LAG_READER';

export type ToReader = LagPhase | { type: 'stop' } | { type: 'ping' };
export type FromReader = { type: 'ready'; note?: string } | LagReport | { type: 'pong'; at: number };

/** Milliseconds on a clock every process of the machine shares (epoch-based, sub-ms). */
export const now = (): number => performance.timeOrigin + performance.now();

const send = (message: FromReader): void => void process.send?.(message);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One phase: build, become ready, read until told to stop, report, close. */
async function runPhase(phase: LagPhase, stopped: Promise<void>): Promise<void> {
  const { keyv, store } = tieredKeyv(phase.store, phase.namespace);
  keyv.on('error', () => {});
  const note = phase.store.readPolicy === 'near-cache' ? await untilLive(store) : undefined;
  await keyv.get(phase.key);
  let stopping = false;
  void stopped.then(() => {
    stopping = true;
  });
  const [seen, arrivals, periods] = [
    [] as Array<[number, number]>,
    [] as Array<[number, number, number]>,
    [] as number[],
  ];
  let [reads, last] = [0, -1];
  if (phase.role === 'arrival') {
    // The store drops a copy on an invalidation; this process writes nothing, so a drop is one.
    const tier = store.fallback;
    const drop = tier.delete.bind(tier);
    tier.delete = (key: string) => {
      const dropped = drop(key);
      if (key.endsWith(phase.key)) {
        const at = now();
        queueMicrotask(() => {
          void keyv.get(phase.key).then((value) => {
            reads++;
            if (typeof value === 'number') arrivals.push([value, at, now()]);
          });
        });
      }
      return dropped;
    };
  }
  send({ type: 'ready', ...(note ? { note } : {}) });
  const [cpu, wall] = [process.cpuUsage(), performance.now()];
  if (phase.role === 'cadence') {
    for (let previous = Number.NaN; !stopping; ) {
      Atomics.wait(sleeper, 0, 0, phase.cadenceMs);
      await turn();
      const started = performance.now();
      if (!Number.isNaN(previous)) periods.push(started - previous);
      previous = started;
      const value = await keyv.get(phase.key);
      reads++;
      if (typeof value === 'number' && value > last) {
        last = value;
        seen.push([value, now()]);
      }
    }
  } else {
    await stopped;
  }
  const used = process.cpuUsage(cpu);
  const cpuPercent = ((used.user + used.system) / 1e3 / (performance.now() - wall)) * 100;
  const { revalidations, verifiedHits, state } = store.stats().nearCache;
  const periodsMs = periods.sort((a, b) => a - b);
  send({ type: 'report', seen, arrivals, reads, periodsMs, cpuPercent, revalidations, verifiedHits, state });
  await keyv.disconnect().catch(() => {});
}

/** The child side: phases one after the other, as the parent sends them; exits with the parent. */
function main(): void {
  process.on('disconnect', () => process.exit(0));
  let stop: () => void = () => {};
  process.on('message', (message: ToReader) => {
    if (message.type === 'ping') send({ type: 'pong', at: now() });
    else if (message.type === 'stop') stop();
    else {
      const stopped = new Promise<void>((resolve) => {
        stop = resolve;
      });
      runPhase(message, stopped).catch((error: unknown) => {
        process.stderr.write(`lag reader failed: ${(error as Error)?.stack ?? String(error)}\n`);
        process.exit(1);
      });
    }
  });
}

if (process.env[READER_MARKER] === '1' && process.send !== undefined) main();
