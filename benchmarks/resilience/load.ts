import type { Client } from '../lib/libraries.js';
import { bounded, describeError, newHistogram, type Outcome, sleep } from '../lib/measure.js';
import type { Timings } from './scenarios.js';

/** Share of reads; the rest are writes, and a tenth of all calls deletes. */
const [READ_SHARE, DELETE_SHARE] = [0.6, 0.1];

export type Phase = 'before' | 'outage' | 'after';

/**
 * The newest thing this process did to a key, counted when the call is made (not when it lands:
 * a write still queued somewhere is exactly what may land late over a newer one), and what the
 * library said about it. `seq` tells an older call settling late from the newest.
 */
export type KeyState = { version: number; deleted: boolean; ack: 'acked' | 'failed' | 'hung'; seq: number };

/** Counters and a latency histogram (µs) of the calls of one phase. */
function phaseStats() {
  return { made: 0, settled: 0, hung: 0, slow: 0, rejected: 0, writesReportedFailed: 0, histogram: newHistogram() };
}
type PhaseStats = ReturnType<typeof phaseStats>;

/** A phase's figures for the report: counts, and p50/p99/max in ms (null when nothing settled). */
export function callStats({ histogram, ...counts }: PhaseStats) {
  const ms = (us: number): number | null => (histogram.count === 0 ? null : Math.round(us) / 1000);
  const [p50Ms, p99Ms, maxMs] = [ms(histogram.percentile(50)), ms(histogram.percentile(99)), ms(histogram.max)];
  return { ...counts, latency: { p50Ms, p99Ms, maxMs } };
}
export type CallStats = ReturnType<typeof callStats>;

/**
 * `workers` loops, each owning the keys `index % workers === id` (two calls on a key are in flight
 * together only when one hung), each waiting at most `callCapMs` for a call. After recovery odd keys
 * are only read, so that what the outage left in Redis is not papered over by later writes.
 */
export class Load {
  /** Phase the next calls are counted in. */
  phase: Phase = 'before';
  readonly keys: readonly string[];
  /** Never written: only a miss is correct. */
  readonly state: KeyState[];
  readonly errorSamples = new Set<string>();
  readonly #phases = { before: phaseStats(), outage: phaseStats(), after: phaseStats(), total: phaseStats() };
  readonly #running: Promise<void>[] = [];
  #stopped = false;

  constructor(
    readonly client: Client,
    readonly timings: Timings,
  ) {
    this.keys = Array.from({ length: timings.keys }, (_, i) => `k:${i}`);
    this.state = this.keys.map(() => ({ version: 0, deleted: true, ack: 'acked', seq: 0 }));
  }

  /** Writes version 1 of every key at the load's concurrency; set-up, not recorded. */
  async seed(): Promise<void> {
    let next = 0;
    const seeder = async (): Promise<void> => {
      while (next < this.keys.length) await this.#call(next++, 'set', undefined);
    };
    await Promise.all(Array.from({ length: this.timings.workers }, seeder));
  }

  start(): void {
    for (let id = 0; id < this.timings.workers; id++) this.#running.push(this.#worker(id));
  }

  /** Stops making calls; resolves once every worker's last call settled or reached the cap. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
  }

  /** Per phase, and for the whole pair. */
  stats(): { total: CallStats; phases: Record<Phase, CallStats> } {
    const { before, outage, after, total } = this.#phases;
    const phases = { before: callStats(before), outage: callStats(outage), after: callStats(after) };
    return { total: callStats(total), phases };
  }

  async #worker(id: number): Promise<void> {
    const own = this.keys.map((_, index) => index).filter((index) => index % this.timings.workers === id);
    while (!this.#stopped && own.length > 0) {
      const index = own[Math.floor(Math.random() * own.length)] as number;
      const [roll, phase] = [Math.random(), this.phase];
      const readOnly = phase === 'after' && index % 2 === 1;
      const kind = readOnly || roll < READ_SHARE ? 'get' : roll < 1 - DELETE_SHARE ? 'set' : 'delete';
      await this.#call(index, kind, phase);
      await sleep(this.timings.thinkMs);
    }
  }

  /** One call through the library, registered in the key's state first; `phase` undefined: seeding, not recorded. */
  async #call(index: number, kind: 'get' | 'set' | 'delete', phase: Phase | undefined): Promise<void> {
    const [key, state] = [this.keys[index] as string, this.state[index] as KeyState];
    const seq = kind === 'get' ? 0 : ++state.seq;
    if (kind !== 'get') Object.assign(state, { deleted: kind === 'delete', ack: 'hung' });
    if (kind === 'set') state.version++;
    const value = { k: key, v: state.version };
    const outcome = await bounded(() => this.client[kind](key, value), this.timings.callCapMs);
    // Resolving `false` (a write) or rejecting is 'failed'; still pending at the cap, 'hung'.
    const saidFalse = kind === 'set' && outcome.status === 'resolved' && outcome.value === false;
    const failed = outcome.status === 'rejected' || saidFalse;
    if (seq !== 0 && state.seq === seq) state.ack = outcome.status === 'hung' ? 'hung' : failed ? 'failed' : 'acked';
    const recorded = phase === undefined ? [] : [this.#phases[phase], this.#phases.total];
    for (const stats of recorded) this.#record(stats, outcome, kind === 'set' && failed);
  }

  /** Counts a call in `stats`; the first few distinct rejections are kept as samples. */
  #record(stats: PhaseStats, outcome: Outcome<unknown>, writeFailed: boolean): void {
    stats.made++;
    if (outcome.status === 'hung') return void stats.hung++;
    stats.settled++;
    stats.histogram.record(Math.max(1, Math.round(outcome.ms * 1000)));
    if (outcome.ms > this.timings.slowMs) stats.slow++;
    if (outcome.status === 'rejected') {
      stats.rejected++;
      if (this.errorSamples.size < 5) this.errorSamples.add(describeError(outcome.error));
    } else if (writeFailed) stats.writesReportedFailed++;
  }
}
