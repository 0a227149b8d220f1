import type { MemoryTier } from '../adapters/memory-tier.js';
import type { Clock } from './clock.js';
import type { Codec } from './codec.js';
import { InvalidOptionError } from './errors.js';
import type { Primary, Step } from './primary.js';

/** Where to warm from Redis: keys whose application key matches a glob. */
export interface WarmOptions {
  /** Glob over the application key (as written to Keyv, without namespace), e.g. `'price:*'`. @default '*' */
  readonly match?: string;
  /** Most keys loaded; never more than the memory tier holds (`fallback.max`). */
  readonly limit?: number;
  /** Keys per round trip. @default 100 */
  readonly batchSize?: number;
  /** Cancels the warming; what was loaded stays. */
  readonly signal?: AbortSignal;
}

/** One entry a loader yields: the application key, the application value, an optional TTL in ms. */
export interface WarmEntry {
  readonly key: string;
  readonly value: unknown;
  readonly ttl?: number;
}

/** A function yielding entries to load, e.g. from a database snapshot. */
export type WarmLoader = () => Iterable<WarmEntry> | AsyncIterable<WarmEntry>;

/** What a warming did. */
export interface WarmReport {
  /** Entries now in memory. */
  readonly loaded: number;
  /** Keys looked at (scanned or yielded). */
  readonly seen: number;
  /** Why it stopped before the source ran out, if it did. */
  readonly stopped: 'limit' | 'full' | 'cancelled' | 'primary-unavailable' | undefined;
  readonly durationMs: number;
}

/** Payload of `warm:progress`, emitted after every batch. */
export interface WarmProgressEvent {
  readonly loaded: number;
  readonly seen: number;
}

/** What warming needs from the store. @internal */
export interface WarmContext {
  readonly primary: Primary;
  readonly memory: MemoryTier;
  readonly clock: Clock;
  readonly step: Step;
  readonly codec: Codec | undefined;
  /** The physical key of an application key (Keyv's `namespace:` prefix and the primary's layout). */
  readonly physicalOf: (appKey: string) => string;
  /** The physical-key glob for an application-key glob. */
  readonly patternOf: (appGlob: string) => string;
  /** False while the breaker is not closed. */
  readonly primaryUsable: () => boolean;
  readonly onProgress: (event: WarmProgressEvent) => void;
}

function resolveLimit(options: WarmOptions, memory: MemoryTier): number {
  const limit = options.limit ?? memory.max;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new InvalidOptionError('warm.limit', limit, 'a positive integer');
  return Math.min(limit, memory.max);
}

/** Yields to the event loop so that warming never holds up normal traffic. */
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Counts what a warming did and builds its report. */
class WarmRun {
  loaded = 0;
  seen = 0;
  readonly #clock: Clock;
  readonly #started: number;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#started = clock.now();
  }

  report(stopped: WarmReport['stopped']): WarmReport {
    return { loaded: this.loaded, seen: this.seen, stopped, durationMs: this.#clock.now() - this.#started };
  }
}

/** Full once the tier starts evicting: loading more would only push out what was just loaded. */
function fullSince(memory: MemoryTier): () => boolean {
  const evictions = memory.evictions;
  return () => memory.evictions > evictions;
}

/** Fills memory from the primary: `SCAN` batches, then one round trip of values and TTLs per batch. */
export async function warmFromPrimary(context: WarmContext, options: WarmOptions): Promise<WarmReport> {
  const { primary, memory, clock, step } = context;
  const run = new WarmRun(clock);
  const limit = resolveLimit(options, memory);
  const full = fullSince(memory);
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new InvalidOptionError('warm.batchSize', batchSize, 'a positive integer');
  }
  const report = (stopped: WarmReport['stopped']) => run.report(stopped);
  if (primary.scan === undefined || primary.readPhysical === undefined || !context.primaryUsable()) {
    return report('primary-unavailable');
  }
  const scan = primary.scan(context.patternOf(options.match ?? '*'), batchSize);
  try {
    while (true) {
      if (options.signal?.aborted) return report('cancelled');
      if (!context.primaryUsable()) return report('primary-unavailable');
      const next = await step('warm', scan.next());
      if (next.done) return report(undefined);
      for (let start = 0; start < next.value.length; start += batchSize) {
        const keys = next.value.slice(start, start + Math.min(batchSize, limit - run.loaded));
        const asked = clock.now();
        const reads = await step('warm', primary.readPhysical(keys));
        run.seen += keys.length;
        for (const [i, read] of reads.entries()) {
          if (read === undefined) continue;
          const value = context.codec === undefined ? read.value : context.codec.decode(read.value);
          // Asked-at, not now: the copy must expire no later than Redis's.
          const expiresAt = read.ttlMs === undefined ? Number.POSITIVE_INFINITY : asked + read.ttlMs;
          if (memory.set(keys[i] as string, value, expiresAt) !== undefined) run.loaded++;
        }
        context.onProgress({ loaded: run.loaded, seen: run.seen });
        if (run.loaded >= limit) return report('limit');
        if (full()) return report('full');
        await breathe();
      }
    }
  } catch {
    return report('primary-unavailable');
  } finally {
    scan.return(undefined).catch(() => {});
  }
}

/**
 * Fills memory from a loader, e.g. a database snapshot at startup while Redis is down. Memory
 * only: the loader is the source of truth, and what goes to Redis is the application's call.
 * Values are stored as Keyv's default serializer writes them (as objects with
 * `serialization: 'store'`).
 */
export async function warmFromLoader(
  context: WarmContext,
  loader: WarmLoader,
  options: WarmOptions,
  encode: (value: unknown, ttlMs: number | undefined) => unknown,
): Promise<WarmReport> {
  const { memory, clock } = context;
  const run = new WarmRun(clock);
  const limit = resolveLimit(options, memory);
  const full = fullSince(memory);
  const report = (stopped: WarmReport['stopped']) => run.report(stopped);
  for await (const entry of loader()) {
    if (options.signal?.aborted) return report('cancelled');
    run.seen++;
    const ttl = entry.ttl;
    if (ttl !== undefined && !(typeof ttl === 'number' && ttl > 0 && Number.isFinite(ttl))) {
      throw new InvalidOptionError(
        'warm entry ttl',
        ttl,
        `a positive number of ms for key ${JSON.stringify(entry.key)}`,
      );
    }
    const expiresAt = ttl === undefined ? Number.POSITIVE_INFINITY : clock.now() + ttl;
    if (memory.set(context.physicalOf(entry.key), encode(entry.value, ttl), expiresAt) !== undefined) run.loaded++;
    if (run.seen % 100 === 0) {
      context.onProgress({ loaded: run.loaded, seen: run.seen });
      await breathe();
    }
    if (run.loaded >= limit) return report('limit');
    if (full()) return report('full');
  }
  context.onProgress({ loaded: run.loaded, seen: run.seen });
  return report(undefined);
}
