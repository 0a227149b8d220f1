import type { Clock } from './clock.js';
import { type Codec, keyvCodec } from './codec.js';
import { InvalidArgumentError } from './errors.js';
import type { KeyLayout } from './key-layout.js';
import type { MemoryCopies } from './memory-copies.js';
import type { MemoryTier } from './memory-tier.js';
import type { Primary, Step } from './primary.js';
import { checkKey, checkTtl } from './validate.js';

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
  readonly copies: MemoryCopies;
  readonly clock: Clock;
  readonly step: Step;
  readonly codec: Codec | undefined;
  readonly layout: KeyLayout;
  /** False while the breaker is not closed. */
  readonly primaryUsable: () => boolean;
  readonly onProgress: (event: WarmProgressEvent) => void;
}

/** The option names of {@link WarmOptions}, checked by the compiler against the type. */
const WARM_OPTIONS = Object.keys({ match: true, limit: true, batchSize: true, signal: true } as const satisfies Record<
  keyof WarmOptions,
  true
>) as ReadonlyArray<keyof WarmOptions>;

function resolveLimit(options: WarmOptions, memory: MemoryTier): number {
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('warm.signal', options.signal, 'an AbortSignal');
  }
  const limit = options.limit ?? memory.max;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new InvalidArgumentError('warm.limit', limit, 'a positive integer');
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
  const { primary, copies, clock, step, layout } = context;
  const memory = copies.memory;
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('warm options', options, 'an object { match, limit, batchSize, signal }');
  }
  for (const name of Object.keys(options)) {
    if (!WARM_OPTIONS.includes(name as keyof WarmOptions)) {
      throw new InvalidArgumentError(`warm.${name}`, undefined, `one of ${WARM_OPTIONS.join(', ')} (no such option)`);
    }
  }
  const match = options.match ?? '*';
  if (typeof match !== 'string' || match === '' || !match.isWellFormed()) {
    throw new InvalidArgumentError('warm.match', match, 'a non-empty glob over the application key');
  }
  const run = new WarmRun(clock);
  const limit = resolveLimit(options, memory);
  const full = fullSince(memory);
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError('warm.batchSize', batchSize, 'a positive integer');
  }
  const report = (stopped: WarmReport['stopped']) => run.report(stopped);
  if (primary.scan === undefined || primary.readPhysical === undefined || !context.primaryUsable()) {
    return report('primary-unavailable');
  }
  const scan = primary.scan(layout.scanPattern(match) as string, batchSize);
  try {
    while (true) {
      if (options.signal?.aborted) return report('cancelled');
      if (!context.primaryUsable()) return report('primary-unavailable');
      const next = await step('warm', scan.next());
      if (next.done) return report(undefined);
      for (let start = 0; start < next.value.length; start += batchSize) {
        // Only keys the namespace provably owns, whatever the server answered to the pattern.
        const keys = next.value
          .slice(start, start + Math.min(batchSize, limit - run.loaded))
          .filter((key) => layout.owns(key));
        if (keys.length === 0) continue;
        const asked = clock.now();
        const ticket = copies.guard.begin();
        let reads: Awaited<ReturnType<NonNullable<Primary['readPhysical']>>>;
        try {
          reads = await step('warm', primary.readPhysical(keys));
          run.seen += keys.length;
          for (const [i, read] of reads.entries()) {
            // A key this instance wrote or deleted while the batch was in flight keeps its newer state.
            if (read === undefined || copies.guard.verdict(keys[i] as string, ticket) !== 'fill') continue;
            // Asked-at, not now: the copy must expire no later than Redis's.
            const expiresAt = read.ttlMs === undefined ? Number.POSITIVE_INFINITY : asked + read.ttlMs;
            if (store(memory, context.codec, keys[i] as string, read.value, expiresAt)) run.loaded++;
          }
        } finally {
          copies.guard.end();
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
): Promise<WarmReport> {
  const { copies, clock, layout, codec } = context;
  const memory = copies.memory;
  const run = new WarmRun(clock);
  const limit = resolveLimit(options, memory);
  const full = fullSince(memory);
  const report = (stopped: WarmReport['stopped']) => run.report(stopped);
  for await (const entry of loader()) {
    if (options.signal?.aborted) return report('cancelled');
    run.seen++;
    if (entry === null || typeof entry !== 'object') {
      throw new InvalidArgumentError('warm entry', entry, 'an object { key, value, ttl }');
    }
    const key = layout.physicalOfApp(checkKey(entry.key, 'warm entry key'));
    const ttl = checkTtl(entry.ttl, 'warm entry ttl');
    // The envelope Keyv would have written for this value.
    let raw: string;
    try {
      raw = keyvCodec.encode({ value: entry.value, expires: ttl === undefined ? undefined : Date.now() + ttl });
    } catch (error) {
      throw new InvalidArgumentError(
        'warm entry value',
        entry.value,
        `a value Keyv can serialize (${(error as Error).message})`,
      );
    }
    const expiresAt = ttl === undefined ? Number.POSITIVE_INFINITY : clock.now() + ttl;
    copies.guard.stamp(key);
    if (store(memory, codec, key, raw, expiresAt)) run.loaded++;
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

/**
 * Puts what the primary holds (or would hold) for `key` in memory, decoded with `serialization:
 * 'store'` and with the text it came from, as a read would leave it. False when it does not fit.
 */
function store(memory: MemoryTier, codec: Codec | undefined, key: string, raw: unknown, expiresAt: number): boolean {
  if (codec === undefined || typeof raw !== 'string') {
    return memory.set(key, codec === undefined ? raw : codec.decode(raw), expiresAt) !== undefined;
  }
  const value = codec.decode(raw);
  const source = value === raw || !codec.shareable(raw) ? undefined : raw;
  return memory.set(key, value, expiresAt, expiresAt, raw.length, source) !== undefined;
}
