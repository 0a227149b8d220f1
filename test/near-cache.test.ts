import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lags, runCoherence } from './helpers/coherence-worker.js';
import { RedisServer } from './helpers/redis-server.js';
import { StoreProcess, stopAllStoreProcesses } from './helpers/store-process.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

// `readPolicy: 'near-cache'` (issue 11) with several real processes on one real redis-server:
// how soon a write acknowledged by one instance is seen by the others, changes made outside the
// store (redis-cli, expiry, FLUSHDB), and an instance partitioned through the test proxy.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LEASE_MS = 300;
/** The stated bound: a lapsed lease is noticed by the next heartbeat, a third of the lease later. */
const DETECTION_BOUND_MS = LEASE_MS + LEASE_MS / 3;

let server: RedisServer;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await stopAllStoreProcesses();
  for (const proxy of proxies.splice(0)) await proxy.close();
  await server?.stop();
});

afterEach(() => {
  for (const proxy of proxies) proxy.setMode('pass');
});

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function summary(values: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    p50: round(quantile(sorted, 0.5)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? 0),
    n: sorted.length,
  };
}

/** A Keyv 5 store process (namespace `nc`) with the near-cache, on `url`. */
function nearCacheProcess(name: string, url: string, extra: Record<string, unknown> = {}): Promise<StoreProcess> {
  return StoreProcess.start({
    name,
    store: { primary: url, readPolicy: 'near-cache', nearCacheLeaseMs: LEASE_MS, ...extra },
    keyv: { namespace: 'nc' },
  });
}

const physical = (key: string) => `nc::nc:${key}`;

describe('three processes writing and reading the same keys', () => {
  it('near-cache: every write is seen by the others within the invalidation lag; no read goes backwards', async () => {
    const reports = await runCoherence({
      url: server.url,
      processes: 3,
      store: { readPolicy: 'near-cache', nearCacheLeaseMs: LEASE_MS },
      durationMs: 2_000,
      writeEveryMs: 2,
    });
    const lag = summary(lags(reports));
    const hits = reports.map((r) => r.stats.nearCache.verifiedHits);
    console.log('near-cache invalidation lag after the writer was acknowledged (ms):', lag, 'verified hits:', hits);
    for (const report of reports) {
      expect(report.regressions).toBe(0);
      expect(report.stats.nearCache.state).toBe('live');
      expect(report.stats.nearCache.invalidations).toBeGreaterThan(100);
      // Every process saw every other's last write.
      for (const writer of reports) {
        const lastWrite = writer.writes.at(-1)?.[0];
        if (writer !== report) expect(report.seen[writer.index]?.at(-1)?.[0]).toBe(lastWrite);
      }
    }
    // Reads between invalidations are answered from memory, without a network call.
    expect(Math.min(...hits)).toBeGreaterThan(100);
    expect(lag.n).toBeGreaterThan(500);
    // Loopback target p99 < 2 ms is measured (printed above, and in the benchmarks); asserted here
    // only far above it, on a shared 2-core machine: memory-first at 1 s exceeds it (next test).
    expect(lag.max).toBeLessThan(500);
  }, 30_000);

  it('memory-first, the same run: stale for up to memoryTtlMs (the measurement can see staleness)', async () => {
    const reports = await runCoherence({
      url: server.url,
      processes: 3,
      store: { readPolicy: 'memory-first', memoryTtlMs: 1_000 },
      durationMs: 2_000,
      writeEveryMs: 2,
    });
    const lag = summary(lags(reports));
    console.log('memory-first (memoryTtlMs 1000) lag (ms):', lag);
    expect(lag.max).toBeGreaterThan(500);
  }, 30_000);
});

describe('changes made outside the store invalidate too', () => {
  let a: StoreProcess;
  let b: StoreProcess;

  beforeAll(async () => {
    [a, b] = await Promise.all([nearCacheProcess('A', server.url), nearCacheProcess('B', server.url)]);
    await Promise.all([
      a.waitFor('near-cache:state', (e) => e.payload.state === 'live'),
      b.waitFor('near-cache:state', (e) => e.payload.state === 'live'),
    ]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  /** A's read of `key` is answered from a verified copy (no new primary hit). */
  async function verifiedRead(key: string): Promise<unknown> {
    await a.call('get', key);
    const before = (await a.stats()).nearCache.verifiedHits;
    const value = await a.call('get', key);
    expect((await a.stats()).nearCache.verifiedHits).toBe(before + 1);
    return value;
  }

  async function until(read: () => Promise<unknown>, expected: unknown): Promise<unknown> {
    let value: unknown;
    for (let i = 0; i < 100; i++) {
      value = await read();
      if (value === expected) return value;
      await sleep(10);
    }
    return value;
  }

  it('a write by redis-cli', async () => {
    await b.call('set', 'cli', 'v1');
    expect(await verifiedRead('cli')).toBe('v1');
    const envelope = JSON.stringify({ value: 'v2', expires: null });
    const cli = spawnSync('redis-cli', ['-p', String(server.port), 'SET', physical('cli'), envelope], {
      encoding: 'utf8',
    });
    expect(cli.stdout.trim()).toBe('OK');
    expect(await until(async () => await a.call('get', 'cli'), 'v2')).toBe('v2');
    expect(await verifiedRead('cli')).toBe('v2');
  });

  it('expiry by the server (a TTL set outside the store, which the copy does not know)', async () => {
    await b.call('set', 'ttl', 'v1');
    expect(await verifiedRead('ttl')).toBe('v1');
    await server.command(['PEXPIRE', physical('ttl'), '50']);
    // The server expires the key lazily or by its active cycle (about every 100 ms), then pushes.
    expect(await until(async () => await a.call('get', 'ttl'), undefined)).toBeUndefined();
  });

  it('a delete and FLUSHDB', async () => {
    await b.call('set', 'del', 'v1');
    expect(await verifiedRead('del')).toBe('v1');
    await b.call('delete', 'del');
    expect(await until(async () => await a.call('get', 'del'), undefined)).toBeUndefined();
    await b.call('set', 'flush', 'v1');
    expect(await verifiedRead('flush')).toBe('v1');
    await server.command(['FLUSHDB']);
    expect(await until(async () => await a.call('get', 'flush'), undefined)).toBeUndefined();
  });
});

describe('an instance partitioned through the proxy while the others write', () => {
  let writer: StoreProcess;

  beforeAll(async () => {
    writer = await nearCacheProcess('W', server.url);
  });

  afterAll(async () => {
    await writer?.stop();
  });

  async function partitioned(): Promise<{ p: StoreProcess; proxy: TcpProxy }> {
    const proxy = await TcpProxy.start(server.port);
    proxies.push(proxy);
    const p = await nearCacheProcess('P', proxy.url, { operationTimeoutMs: 100 });
    await p.waitFor('near-cache:state', (e) => e.payload.state === 'live');
    return { p, proxy };
  }

  for (const variant of ['silent (held, then delivered)', 'black hole, then reset'] as const) {
    it(`${variant}: detected within the bound with no traffic; nothing older served after the heal`, async () => {
      const { p, proxy } = await partitioned();
      try {
        await writer.call('set', 'part', 'v1');
        await p.call('get', 'part');
        expect(await p.call('get', 'part')).toBe('v1');
        const from = p.events.length;
        const cutAt = performance.timeOrigin + performance.now();
        proxy.setMode(variant.startsWith('silent') ? 'pause' : 'blackhole');
        const lost = await p.waitFor('near-cache:state', (e) => e.payload.state === 'lost', { from });
        const detectedMs = lost.at - cutAt;
        console.log(`${variant}: partition detected after ${detectedMs.toFixed(0)} ms (bound ${DETECTION_BOUND_MS})`);
        // The bound plus scheduling slack on a loaded 2-core machine; never the 1 s a socket timeout takes.
        expect(detectedMs).toBeLessThan(DETECTION_BOUND_MS + 300);
        expect(lost.payload.reason).toBe('heartbeat unanswered');
        await writer.call('set', 'part', 'v2');
        // While partitioned, the old copy may be served as the fallback (the primary is unreachable).
        expect(['v1', 'v2']).toContain(await p.call('get', 'part'));
        const healFrom = p.events.length;
        if (variant.startsWith('silent')) proxy.setMode('pass');
        else {
          proxy.setMode('pass');
          proxy.resetAll();
        }
        await p.waitFor('near-cache:state', (e) => e.payload.state === 'live', { from: healFrom, timeoutMs: 10_000 });
        // Every read after the heal returns the newest value: the old copy was unverified, not renewed.
        let value: unknown;
        for (let i = 0; i < 50; i++) {
          value = await p.call('get', 'part');
          if (value === 'v2') break;
          await sleep(20);
        }
        expect(value).toBe('v2');
        for (let i = 0; i < 5; i++) expect(await p.call('get', 'part')).toBe('v2');
      } finally {
        await p.stop();
      }
    }, 30_000);
  }

  it('reset: the connection loss unverifies at once and the copy is revalidated on reconnect', async () => {
    const { p, proxy } = await partitioned();
    try {
      await writer.call('set', 'reset', 'v1');
      await p.call('get', 'reset');
      const from = p.events.length;
      proxy.resetAll();
      const lost = await p.waitFor('near-cache:state', (e) => e.payload.state === 'lost', { from });
      expect(lost.payload.reason).toMatch(/connection/);
      await writer.call('set', 'reset', 'v2');
      await p.waitFor('near-cache:state', (e) => e.payload.state === 'live', { from, timeoutMs: 10_000 });
      expect(await p.call('get', 'reset')).toBe('v2');
    } finally {
      await p.stop();
    }
  }, 30_000);
});
