import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type CircuitState,
  InvalidOptionError,
  type LatencyPath,
  type TieredStore,
  type TieredStoreStats,
} from 'keyv-failsafe';
import { Registry } from 'prom-client';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page.js';
import { registerPrometheusMetrics } from './prometheus.js';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /**
   * Registry the store's metrics are registered on and `/metrics` serves. The store must not be
   * registered on it already (prom-client refuses a metric name twice).
   * @default a new private `Registry`, so the dashboard never touches prom-client's global one
   */
  readonly registry?: Registry;
  /** Shown on the page and used as the `store` label of the metrics. @default 'default' */
  readonly storeName?: string;
  /**
   * Seconds of per-second history kept for the page's chart.
   * @default 300
   * @throws {InvalidOptionError} from `createDashboard` unless a positive integer
   */
  readonly historySeconds?: number;
}

/**
 * A request handler for `node:http`, Express (`app.use`) and Fastify (through `req.raw`/`reply.raw`),
 * with `close()` to stop its timer and detach it from the store.
 */
export type DashboardHandler = ((req: IncomingMessage, res: ServerResponse, next?: () => void) => void) & {
  close(): void;
};

/** One second of traffic: counter increases during that second, and the breaker state at its end. */
export interface DashboardPoint {
  /** End of the second, epoch ms. */
  readonly t: number;
  readonly primaryHits: number;
  readonly memoryHits: number;
  readonly misses: number;
  readonly fallbackServes: number;
  readonly staleServes: number;
  readonly shortCircuits: number;
  readonly timeouts: number;
  readonly circuit: CircuitState;
}

/** Latency of one path over the window, in seconds (`null` when nothing took that path). */
export interface PathLatency {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
}

/** The body of `GET stats.json`. Holds counters and sizes only: no URL, host or credential. */
export interface DashboardSnapshot {
  readonly storeName: string;
  /** Epoch ms when the snapshot was taken. */
  readonly now: number;
  readonly circuit: { readonly state: CircuitState; readonly since: number | null; readonly transitions: number };
  /** The primary's connection as last reported (`unknown` until the first report). */
  readonly connection: 'ready' | 'down' | 'unknown';
  readonly stats: TieredStoreStats;
  readonly memory: {
    readonly entries: number;
    readonly bytes: number;
    readonly max: number;
    readonly maxSize: number | null;
    readonly evictions: number;
    readonly expirations: number;
  };
  readonly journal: { readonly size: number; readonly overflows: number };
  readonly latency: { readonly windowSeconds: number; readonly paths: Record<LatencyPath, PathLatency> };
  /** Oldest first; at most `seconds` points, fewer while the dashboard is young. */
  readonly history: {
    readonly intervalSeconds: 1;
    readonly seconds: number;
    readonly points: readonly DashboardPoint[];
  };
}

const PATHS: readonly LatencyPath[] = ['primary', 'memory', 'fallback', 'breaker-open'];
const PATH_INDEX: Record<LatencyPath, number> = { primary: 0, memory: 1, fallback: 2, 'breaker-open': 3 };

/**
 * Latency buckets: bucket `i` counts calls up to `MIN_SECONDS * 2^(i / STEPS_PER_OCTAVE)`. Four
 * steps an octave keep a percentile within 19 % of the truth, and 96 buckets span 1 µs (a memory
 * hit) to 16 s (far past any deadline) in 384 bytes a path a second, whatever the traffic.
 */
const MIN_SECONDS = 1e-6;
const STEPS_PER_OCTAVE = 4;
const BUCKETS = 96;
/** Seconds the percentiles cover: long enough to be stable, short enough to show an outage. */
const LATENCY_WINDOW_SECONDS = 60;

function bucketOf(seconds: number): number {
  if (!(seconds > MIN_SECONDS)) return 0;
  const i = Math.ceil(Math.log2(seconds / MIN_SECONDS) * STEPS_PER_OCTAVE);
  return i < BUCKETS ? i : BUCKETS - 1;
}

/**
 * Per-path latency counts for each of the last 60 seconds, in one flat array: a call costs one
 * `log2` and one increment, and memory stays fixed however many calls there are.
 */
class LatencyWindow {
  readonly #counts = new Uint32Array(LATENCY_WINDOW_SECONDS * PATHS.length * BUCKETS);
  #slot = 0;

  record(path: LatencyPath, seconds: number): void {
    const i = (this.#slot * PATHS.length + PATH_INDEX[path]) * BUCKETS + bucketOf(seconds);
    this.#counts[i] = (this.#counts[i] ?? 0) + 1;
  }

  /** Starts a new second, forgetting the one that fell out of the window. */
  advance(): void {
    this.#slot = (this.#slot + 1) % LATENCY_WINDOW_SECONDS;
    const start = this.#slot * PATHS.length * BUCKETS;
    this.#counts.fill(0, start, start + PATHS.length * BUCKETS);
  }

  summary(): Record<LatencyPath, PathLatency> {
    const result = {} as Record<LatencyPath, PathLatency>;
    const merged = new Uint32Array(BUCKETS);
    for (const path of PATHS) {
      merged.fill(0);
      let count = 0;
      for (let slot = 0; slot < LATENCY_WINDOW_SECONDS; slot++) {
        const base = (slot * PATHS.length + PATH_INDEX[path]) * BUCKETS;
        for (let b = 0; b < BUCKETS; b++) {
          const n = this.#counts[base + b] ?? 0;
          merged[b] = (merged[b] ?? 0) + n;
          count += n;
        }
      }
      result[path] = { count, p50: quantile(merged, count, 0.5), p99: quantile(merged, count, 0.99) };
    }
    return result;
  }
}

/** The upper bound of the bucket holding the q-quantile: never under-reports a latency. */
function quantile(counts: Uint32Array, total: number, q: number): number | null {
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let b = 0; b < counts.length; b++) {
    seen += counts[b] ?? 0;
    if (seen >= rank) return MIN_SECONDS * 2 ** (b / STEPS_PER_OCTAVE);
  }
  return null;
}

/** The counters the history follows, by the name they have in a {@link DashboardPoint}. */
function counters(s: TieredStoreStats) {
  return {
    primaryHits: s.hits.primary,
    memoryHits: s.hits.memory,
    misses: s.misses,
    fallbackServes: s.fallbackServes,
    staleServes: s.staleServes,
    shortCircuits: s.shortCircuits,
    timeouts: s.timeouts,
  };
}

/**
 * Serves a live dashboard of a store: `GET metrics` (Prometheus text), `GET stats.json` (a
 * {@link DashboardSnapshot}) and `GET /` or `index.html` (a self-contained page polling
 * `stats.json` every second). Routes match the last segment of the path, so the handler answers
 * the same whether the framework strips its mount path (Express) or not (Fastify's `req.raw`).
 * Anything else goes to `next()` when given, or gets a 404.
 *
 * Keeps a per-second history (`historySeconds`) and latency histograms over the last 60 s, updated
 * by an unref'd one-second timer: call `close()` to stop it, detach from the store and unregister
 * the metrics.
 *
 * @example
 * const dashboard = createDashboard(store, { storeName: 'prices' });
 * http.createServer(dashboard).listen(9464, '127.0.0.1');
 */
export function createDashboard(store: TieredStore, options: DashboardOptions = {}): DashboardHandler {
  const storeName = options.storeName ?? 'default';
  const historySeconds = options.historySeconds ?? 300;
  if (!Number.isInteger(historySeconds) || historySeconds < 1) {
    throw new InvalidOptionError('historySeconds', historySeconds, 'a positive integer');
  }
  const registry = options.registry ?? new Registry();
  const unregister = registerPrometheusMetrics(store, { registry, storeName });

  const latency = new LatencyWindow();
  const detach = store.observe({ latency: (_operation, path, seconds) => latency.record(path, seconds) });

  let circuitSince: number | null = null;
  let transitions = 0;
  let connection: DashboardSnapshot['connection'] = 'unknown';
  const onCircuit = () => {
    circuitSince = Date.now();
    transitions++;
  };
  const onConnection = (event: { state: 'ready' | 'down' }) => {
    connection = event.state;
  };
  store.on('circuit:state', onCircuit);
  store.on('primary:connection', onConnection);

  const history: DashboardPoint[] = [];
  let last = counters(store.stats());
  const tick = () => {
    const stats = store.stats();
    const now = counters(stats);
    history.push({
      t: Date.now(),
      primaryHits: now.primaryHits - last.primaryHits,
      memoryHits: now.memoryHits - last.memoryHits,
      misses: now.misses - last.misses,
      fallbackServes: now.fallbackServes - last.fallbackServes,
      staleServes: now.staleServes - last.staleServes,
      shortCircuits: now.shortCircuits - last.shortCircuits,
      timeouts: now.timeouts - last.timeouts,
      circuit: stats.circuit,
    });
    if (history.length > historySeconds) history.splice(0, history.length - historySeconds);
    last = now;
    latency.advance();
  };
  const timer = setInterval(tick, 1000);
  // A dashboard must never be the reason a process stays up.
  timer.unref();

  const snapshot = (): DashboardSnapshot => {
    const stats = store.stats();
    const memory = store.fallback;
    return {
      storeName,
      now: Date.now(),
      circuit: { state: stats.circuit, since: circuitSince, transitions },
      connection,
      stats,
      memory: {
        entries: memory.size,
        bytes: memory.calculatedSize,
        max: memory.max,
        maxSize: memory.maxSize ?? null,
        evictions: memory.evictions,
        expirations: memory.expirations,
      },
      journal: stats.journal,
      latency: { windowSeconds: LATENCY_WINDOW_SECONDS, paths: latency.summary() },
      history: { intervalSeconds: 1, seconds: historySeconds, points: history },
    };
  };

  const handle = (req: IncomingMessage, res: ServerResponse, next?: () => void): void => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const segment = path.slice(path.lastIndexOf('/') + 1);
    const route = segment === '' || segment === 'index.html' ? 'page' : segment;
    if (route !== 'page' && route !== 'metrics' && route !== 'stats.json') {
      if (next) next();
      else send(req, res, 404, 'text/plain; charset=utf-8', 'Not found\n');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(req, res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n');
    } else if (route === 'page') {
      res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
      res.setHeader('Referrer-Policy', 'no-referrer');
      send(req, res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML);
    } else if (route === 'stats.json') {
      send(req, res, 200, 'application/json; charset=utf-8', JSON.stringify(snapshot()));
    } else {
      registry.metrics().then(
        (text) => send(req, res, 200, registry.contentType, text),
        // The collector's message may name anything; the scraper only needs to know it failed.
        () => send(req, res, 500, 'text/plain; charset=utf-8', 'Metrics collection failed\n'),
      );
    }
  };

  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    detach();
    store.off('circuit:state', onCircuit);
    store.off('primary:connection', onConnection);
    unregister();
  };
  return Object.assign(handle, { close });
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  // Live data: a cached copy would show a breaker state that is no longer true.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}
