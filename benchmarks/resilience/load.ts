import type { CallRecorder } from './call-stats.js';
import type { KeyModel } from './key-model.js';
import type { CacheClient } from './libraries/types.js';
import { bounded, sleep } from './outcome.js';
import type { Phase, Timings } from './protocol.js';

/** Share of reads; the rest are writes, and a tenth of all calls deletes. */
const READ_SHARE = 0.6;
const DELETE_SHARE = 0.1;

/**
 * Concurrent load: `workers` loops, each owning the keys with `index % workers === id`, so that two
 * calls on one key are never in flight together unless one of them hung. A worker waits for its
 * call at most `callCapMs`, then moves on, as an application with a request timeout would.
 *
 * After recovery, odd keys are only read: what the outage left in Redis for them is not papered
 * over by later writes (as for a key nobody happens to write again soon). Even keys keep being
 * written, so a write from the outage landing late over a newer one shows up too.
 */
export class Load {
  #stopped = false;
  #phase: Phase = 'before';
  readonly #running: Promise<void>[] = [];
  readonly #client: CacheClient;
  readonly #model: KeyModel;
  readonly #recorder: CallRecorder;
  readonly #timings: Timings;

  constructor(client: CacheClient, model: KeyModel, recorder: CallRecorder, timings: Timings) {
    this.#client = client;
    this.#model = model;
    this.#recorder = recorder;
    this.#timings = timings;
  }

  /** Phase the next calls are counted in. */
  set phase(phase: Phase) {
    this.#phase = phase;
  }

  start(): void {
    for (let id = 0; id < this.#timings.workers; id++) this.#running.push(this.#worker(id));
  }

  /** Stops making calls; resolves once every worker's last call settled or hit the cap. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
  }

  /**
   * Writes version 1 of every key, so the outage starts with Redis and memory populated. Set-up,
   * not load: not recorded, and at the load's concurrency, so no burst of 1000 calls skews anything.
   */
  async seed(): Promise<void> {
    let next = 0;
    const seeder = async (): Promise<void> => {
      while (next < this.#model.keys.length) await this.#write(next++, undefined);
    };
    await Promise.all(Array.from({ length: this.#timings.workers }, seeder));
  }

  async #worker(id: number): Promise<void> {
    const own: number[] = [];
    for (let index = id; index < this.#model.keys.length; index += this.#timings.workers) own.push(index);
    if (own.length === 0) return;
    while (!this.#stopped) {
      const index = own[Math.floor(Math.random() * own.length)] as number;
      const roll = Math.random();
      const phase = this.#phase;
      const readOnly = phase === 'after' && index % 2 === 1;
      if (readOnly || roll < READ_SHARE) await this.#read(index, phase);
      else if (roll < 1 - DELETE_SHARE) await this.#write(index, phase);
      else await this.#delete(index, phase);
      await sleep(this.#timings.thinkMs);
    }
  }

  async #read(index: number, phase: Phase): Promise<void> {
    const key = this.#model.keys[index] as string;
    this.#recorder.record(phase, await bounded(() => this.#client.get(key), this.#timings.callCapMs), false);
  }

  /** `phase` undefined: a seeding write, not recorded. */
  async #write(index: number, phase: Phase | undefined): Promise<void> {
    const key = this.#model.keys[index] as string;
    const { version, seq } = this.#model.nextWrite(index);
    const outcome = await bounded(() => this.#client.set(key, { k: key, v: version }), this.#timings.callCapMs);
    this.#model.settle(index, seq, outcome);
    if (phase !== undefined) this.#recorder.record(phase, outcome, true);
  }

  async #delete(index: number, phase: Phase): Promise<void> {
    const key = this.#model.keys[index] as string;
    const seq = this.#model.nextDelete(index);
    const outcome = await bounded(() => this.#client.delete(key), this.#timings.callCapMs);
    this.#model.settle(index, seq, outcome);
    this.#recorder.record(phase, outcome, false);
  }
}
