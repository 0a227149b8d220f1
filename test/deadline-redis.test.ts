import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARD_STOP_FACTOR } from '../src/deadline.js';
import { TieredStore } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

// Deadlines against a real redis-server: a healthy server is never reported dead because the
// process was busy parsing its replies, and a hung one (SIGSTOP) is still bounded. The precise
// margins are measured in benchmarks/README.md ("Performance targets (issue 13)"); the bounds here
// leave room for a shared 2-core machine.

const TIMEOUT_MS = 100;
/** Scheduling slack on a shared machine: event-loop delay, not our code. */
const MARGIN_MS = 100;

/** A value of about `bytes` of JSON made of small objects: Keyv's deserializer walks each one. */
function series(bytes: number): { points: Array<{ t: number; p: number }> } {
  const points: Array<{ t: number; p: number }> = [];
  for (let i = 0; points.length * 32 < bytes; i++) {
    points.push({ t: 1_700_000_000 + i * 60, p: Math.round((64_000 + Math.sin(i) * 500) * 100) / 100 });
  }
  return { points };
}

describe('deadlines against a real redis-server', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('96 gets of 64 KB at once: the parsing of replies is not a timeout, the breaker stays closed', async () => {
    const store = new TieredStore({ primary: server.url, operationTimeoutMs: TIMEOUT_MS });
    const keyv = new Keyv({ store, namespace: 'busy' });
    try {
      const value = series(64 * 1024);
      for (let i = 0; i < 96; i++) expect(await keyv.set(`k${i}`, value)).toBe(true);
      for (let round = 0; round < 2; round++) {
        const values = await Promise.all(Array.from({ length: 96 }, (_, i) => keyv.get(`k${i}`)));
        expect(values.every((v) => (v as typeof value).points.length === value.points.length)).toBe(true);
      }
      expect(store.stats()).toMatchObject({ timeouts: 0, primaryFailures: 0, circuit: 'closed' });
    } finally {
      await keyv.disconnect();
    }
  });

  it('10,000-entry setMany and getMany: no timeout', async () => {
    const store = new TieredStore({ primary: server.url, operationTimeoutMs: TIMEOUT_MS });
    const keyv = new Keyv({ store, namespace: 'batch' });
    try {
      const value = series(1024);
      const entries = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, value }));
      // Connected first: Keyv serializing 10,000 values right after construction would starve the
      // connection attempt (a connect timeout, not what this test is about).
      expect(await keyv.set('first', 1)).toBe(true);
      expect((await keyv.setMany(entries)).every(Boolean)).toBe(true);
      const values = await keyv.getMany(entries.map((e) => e.key));
      expect(values.filter((v) => v !== undefined)).toHaveLength(10_000);
      expect(store.stats()).toMatchObject({ timeouts: 0, primaryFailures: 0, circuit: 'closed' });
    } finally {
      await keyv.disconnect();
    }
  });

  it('a hung server (SIGSTOP): each sequential get ends within the deadline plus a margin, from memory', async () => {
    const store = new TieredStore({
      primary: server.url,
      operationTimeoutMs: TIMEOUT_MS,
      // Kept closed, so that every call meets the hung server rather than the open breaker.
      breaker: { failureThreshold: 1_000 },
    });
    const keyv = new Keyv({ store, namespace: 'hung' });
    try {
      for (let i = 0; i < 10; i++) expect(await keyv.set(`k${i}`, i)).toBe(true);
      server.hang();
      const took: number[] = [];
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        expect(await keyv.get(`k${i}`)).toBe(i);
        took.push(performance.now() - started);
      }
      expect(Math.min(...took)).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
      // The median within the margin; every call within the hard stop, which holds however busy the
      // machine is (vitest runs other files beside this one: one call waited 209 ms in a CI run).
      // The idle-process bound (deadline + a few ms) is measured by the benchmark's hung-Redis rows.
      const sorted = [...took].sort((a, b) => a - b);
      expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      expect(Math.max(...took)).toBeLessThan(TIMEOUT_MS * HARD_STOP_FACTOR);
      expect(store.stats().timeouts).toBe(10);
    } finally {
      server.resume();
      await keyv.disconnect();
    }
  });
});
