import type Keyv from 'keyv';

/** What one versioned value looks like: the key and a per-key version, so staleness is visible. */
export interface Versioned {
  k: string;
  v: number;
}

interface Committed {
  version: number;
  deleted: boolean;
}

/** The outcome of a load run. */
export interface LoadReport {
  calls: number;
  /** Calls that rejected: must be none. */
  rejections: unknown[];
  /** Slowest call, ms. */
  maxMs: number;
  /** Sets that resolved false (reached memory only). */
  degradedSets: number;
  /** Reads that returned neither the newest value this instance wrote nor a miss. */
  stale: string[];
}

/**
 * Concurrent reads, writes and deletes over `keys` keys with versioned values. Each key belongs to
 * one worker, so per key the operations are sequential and the expected answer of every read is
 * exact: the newest value this instance wrote (a miss is allowed; an older value or a deleted key
 * never is). Many workers keep many keys in flight at once.
 */
export class VersionedLoad {
  readonly #keyv: Keyv;
  readonly #keys: string[];
  readonly #workers: number;
  readonly #ttlMs: number;
  readonly #committed = new Map<string, Committed>();
  readonly #report: LoadReport = { calls: 0, rejections: [], maxMs: 0, degradedSets: 0, stale: [] };
  #running = false;
  #done: Promise<void> | undefined;

  constructor(keyv: Keyv, prefix: string, options: { keys?: number; workers?: number; ttlMs?: number } = {}) {
    this.#keyv = keyv;
    this.#keys = Array.from({ length: options.keys ?? 200 }, (_, i) => `${prefix}:${i}`);
    this.#workers = options.workers ?? 16;
    this.#ttlMs = options.ttlMs ?? 60_000;
  }

  get report(): LoadReport {
    return this.#report;
  }

  start(): void {
    this.#running = true;
    this.#done = Promise.all(Array.from({ length: this.#workers }, (_, w) => this.#work(w))).then(() => {});
  }

  async stop(): Promise<LoadReport> {
    this.#running = false;
    await this.#done;
    return this.#report;
  }

  /** Reads every key once, sequentially, and checks it against what this instance last wrote. */
  async verify(): Promise<string[]> {
    const stale: string[] = [];
    for (const key of this.#keys) {
      const value = (await this.#keyv.get(key)) as Versioned | undefined;
      const problem = this.#check(key, value);
      if (problem) stale.push(problem);
    }
    return stale;
  }

  #check(key: string, value: Versioned | undefined): string | undefined {
    if (value === undefined) return undefined;
    const committed = this.#committed.get(key);
    if (committed === undefined) return `${key}: read v${value.v}, never written`;
    if (committed.deleted) return `${key}: read v${value.v} after it was deleted at v${committed.version}`;
    if (value.v !== committed.version) return `${key}: read v${value.v}, newest written v${committed.version}`;
    return undefined;
  }

  async #timed<T>(call: () => Promise<T>): Promise<T | undefined> {
    const started = performance.now();
    this.#report.calls++;
    try {
      return await call();
    } catch (error) {
      this.#report.rejections.push(error);
      return undefined;
    } finally {
      this.#report.maxMs = Math.max(this.#report.maxMs, performance.now() - started);
    }
  }

  async #work(worker: number): Promise<void> {
    const owned = this.#keys.filter((_, i) => i % this.#workers === worker);
    while (this.#running) {
      const key = owned[Math.floor(Math.random() * owned.length)] as string;
      const roll = Math.random();
      if (roll < 0.5) {
        const value = (await this.#timed(() => this.#keyv.get(key))) as Versioned | undefined;
        const problem = this.#check(key, value);
        if (problem) this.#report.stale.push(problem);
      } else if (roll < 0.9) {
        const version = (this.#committed.get(key)?.version ?? 0) + 1;
        const ok = await this.#timed(() =>
          this.#keyv.set(key, { k: key, v: version } satisfies Versioned, this.#ttlMs),
        );
        if (ok === false) this.#report.degradedSets++;
        this.#committed.set(key, { version, deleted: false });
      } else {
        const version = this.#committed.get(key)?.version ?? 0;
        await this.#timed(() => this.#keyv.delete(key));
        this.#committed.set(key, { version, deleted: true });
      }
      // Yield to the event loop between calls so timers (deadlines, the breaker) stay on time.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
