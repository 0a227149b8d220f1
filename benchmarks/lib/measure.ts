import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** One latency distribution (µs) and the throughput it came with. */
export type Sample = { count: number; opsPerSec: number; p50Us: number; p99Us: number; maxUs: number };

/**
 * One measurement: untimed calls for `warmupMs` (JIT settled, connections warm), then at least
 * `durationMs` and `minOps` timed calls (so that p99 rests on enough samples), `inFlight` at a time.
 */
export type MeasureOptions = { warmupMs: number; durationMs: number; minOps: number; inFlight: number };

/** A call under test; `i` picks the key, so that callers can rotate through a key set. */
export type Operation = (i: number) => unknown;

/** HDR histogram in ns: 3 significant figures from 1 ns to an hour, in a fixed few kilobytes. */
export const newHistogram = (): RecordableHistogram =>
  createHistogram({ lowest: 1, highest: 3_600_000_000_000, figures: 3 });

const nowNs = (): number => performance.now() * 1e6;

/** A sample from a histogram in ns, the calls it holds and the wall time they took. */
export function summarize(histogram: RecordableHistogram, count: number, elapsedNs: number): Sample {
  const [p50Us, p99Us, maxUs] = [histogram.percentile(50) / 1e3, histogram.percentile(99) / 1e3, histogram.max / 1e3];
  return { count, opsPerSec: count / (elapsedNs / 1e9), p50Us, p99Us, maxUs };
}

/**
 * Warms `op` up, then measures it, adding every call's latency to `histogram`; returns the calls
 * and their wall time, so that rounds can be pooled. One at a time, a call is awaited only when it
 * returns a promise: a synchronous floor (a raw lru-cache get) is not charged a microtask.
 */
export async function measureInto(op: Operation, options: MeasureOptions, histogram: RecordableHistogram) {
  const settle = (result: unknown) => (options.inFlight > 1 || result instanceof Promise ? result : undefined);
  for (let i = 0, until = nowNs() + options.warmupMs * 1e6; nowNs() < until; i++) await settle(op(i));
  const started = nowNs();
  const until = started + options.durationMs * 1e6;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (nowNs() < until || next < options.minOps) {
      const t0 = nowNs();
      const result = settle(op(next++));
      if (result !== undefined) await result;
      histogram.record(Math.max(1, Math.round(nowNs() - t0)));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.inFlight) }, worker));
  return { count: next, elapsedNs: nowNs() - started };
}

/** One measurement of `op`. */
export async function measure(op: Operation, options: MeasureOptions): Promise<Sample> {
  const histogram = newHistogram();
  const { count, elapsedNs } = await measureInto(op, options, histogram);
  return summarize(histogram, count, elapsedNs);
}

/** What timing costs per call (an empty op measured the same way), for a reader to discount. */
export async function timerOverheadNs(): Promise<number> {
  return (await measure(() => undefined, { warmupMs: 20, durationMs: 100, minOps: 10_000, inFlight: 1 })).p50Us * 1e3;
}

/** Latencies in ms of `calls` calls made one after the other. */
export async function timeCalls(calls: number, op: Operation): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0, started = performance.now(); i < calls; i++, started = performance.now()) {
    await op(i);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/** A sample of calls timed one by one (ms each), throughput from their total time. */
export function sampleOf(latenciesMs: readonly number[]): Sample {
  const [sorted, totalMs] = [[...latenciesMs].sort((a, b) => a - b), latenciesMs.reduce((sum, ms) => sum + ms, 0)];
  const [p50Us, p99Us] = [percentile(sorted, 50) * 1e3, percentile(sorted, 99) * 1e3];
  const [count, maxUs] = [sorted.length, (sorted.at(-1) ?? Number.NaN) * 1e3];
  return { count, opsPerSec: count / (totalMs / 1e3), p50Us, p99Us, maxUs };
}

/** The nearest-rank percentile of ascending `sorted`. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

/** How one call ended, as seen by a caller who stops waiting after a cap. */
export type Outcome<T> =
  | { readonly status: 'resolved'; readonly value: T; readonly ms: number }
  | { readonly status: 'rejected'; readonly error: unknown; readonly ms: number }
  | { readonly status: 'hung' };

/** Runs `call` and waits for it at most `capMs`; nothing can cancel it then, it is only no longer waited for. */
export async function bounded<T>(call: () => T | PromiseLike<T>, capMs: number): Promise<Outcome<T>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'hung' }), capMs);
  });
  const settled = Promise.resolve()
    .then<T>(call)
    .then(
      (value): Outcome<T> => ({ status: 'resolved', value, ms: performance.now() - started }),
      (error: unknown): Outcome<T> => ({ status: 'rejected', error, ms: performance.now() - started }),
    );
  return Promise.race([settled, cap]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A short, stable description of an error (name, code, first line of the message). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 120);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message.split('\n')[0]?.slice(0, 120)}`;
}

/**
 * Disposers run last-in first-out, each bounded: a neighbour's `disconnect()` can wait forever on
 * a server that was killed or hung, and the run must still end. `run()` says which failed or stuck.
 */
export class Cleanup {
  readonly #disposers: Array<[label: string, dispose: () => unknown]> = [];

  add(label: string, dispose: () => unknown): void {
    this.#disposers.push([label, dispose]);
  }

  async run(timeoutMs = 2_000): Promise<string[]> {
    const stuck: string[] = [];
    for (let next = this.#disposers.pop(); next !== undefined; next = this.#disposers.pop()) {
      const outcome = await bounded(next[1], timeoutMs);
      if (outcome.status !== 'resolved') {
        stuck.push(`${next[0]} (${outcome.status === 'hung' ? 'timed out' : describeError(outcome.error)})`);
      }
    }
    return stuck;
  }
}
