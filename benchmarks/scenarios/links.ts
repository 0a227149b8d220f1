import { createClient } from '@keyv/redis';
import { TcpProxy } from '../../harness/tcp-proxy.js';
import { newHistogram } from '../lib/measure.js';

/**
 * Where Redis is, as `--rtt` names it: `loopback` (a direct connection), or a round trip through
 * the harness's delaying proxy, `5ms`, with jitter `5ms~1ms` (0 to 1 ms more each way).
 */
export interface Link {
  readonly label: string;
  /** Undefined: loopback, no proxy. */
  readonly rttMs: number | undefined;
  readonly jitterMs: number;
}

export const LOOPBACK: Link = { label: 'loopback', rttMs: undefined, jitterMs: 0 };

const ms = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)ms$/.exec(text);
  return match ? Number(match[1]) : undefined;
};

/** Parses `--rtt loopback,1ms,5ms~1ms`; throws naming the bad entry. */
export function parseLinks(spec: string): Link[] {
  return spec.split(',').map((raw) => {
    const entry = raw.trim();
    if (entry === 'loopback') return LOOPBACK;
    const [rtt, jitter, extra] = entry.split('~');
    const [rttMs, jitterMs] = [ms(rtt ?? ''), jitter === undefined ? 0 : ms(jitter)];
    if (rttMs === undefined || jitterMs === undefined || extra !== undefined || rttMs <= 0) {
      throw new RangeError(`--rtt: "${entry}" is not loopback, <n>ms or <n>ms~<jitter>ms (e.g. 1ms,5ms,5ms~1ms)`);
    }
    return { label: entry, rttMs, jitterMs };
  });
}

/** A link described for a reader: `1 ms`, `5 ms ± up to 1 ms each way`, `loopback`. */
export const describeLink = (link: Link): string =>
  link.rttMs === undefined
    ? 'loopback'
    : `${link.rttMs} ms${link.jitterMs > 0 ? ` (+0-${link.jitterMs} ms jitter each way)` : ''}`;

/** `url` with its host and port replaced (credentials and database kept): the same server, reached through a proxy. */
export function through(url: string, port: number): string {
  const proxied = new URL(url);
  [proxied.hostname, proxied.port] = ['127.0.0.1', String(port)];
  return proxied.toString();
}

/** A path to the server at `url`: its URL (the proxy's, for a delayed link) and how to take it down. */
export interface OpenLink {
  readonly url: string;
  /** Switches the delay on; a preload before it runs at loopback speed. */
  delay(): void;
  close(): Promise<void>;
}

/** Opens `link` to `url`: a proxy in pass mode, delaying once `delay()` is called; loopback is `url` itself. */
export async function openLink(link: Link, url: string): Promise<OpenLink> {
  if (link.rttMs === undefined) return { url, delay: () => {}, close: async () => {} };
  const { hostname, port } = new URL(url);
  const proxy = await TcpProxy.start(Number(port), hostname);
  const rttMs = link.rttMs;
  return {
    url: through(url, proxy.port),
    delay: () => proxy.setLatency(rttMs, { jitterMs: link.jitterMs }),
    close: () => proxy.close(),
  };
}

/** PING round trips one at a time on one connection: p50 and p99 in ms. */
export async function pingRtt(url: string, pings: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  const histogram = newHistogram();
  try {
    for (let i = 0; i < 10; i++) await client.ping();
    for (let i = 0; i < pings; i++) {
      const started = performance.now();
      await client.ping();
      histogram.record(Math.max(1, Math.round((performance.now() - started) * 1e6)));
    }
  } finally {
    client.destroy();
  }
  return { p50Ms: histogram.percentile(50) / 1e6, p99Ms: histogram.percentile(99) / 1e6 };
}
