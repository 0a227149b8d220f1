import { describe, expect, it } from 'vitest';
import { type NearCacheStateEvent, TieredStore } from '../src/index.js';
import type { InvalidationListener, TrackingSupport } from '../src/primary.js';
import { ManualClock } from './helpers/manual-clock.js';
import { ScriptedPrimary } from './helpers/scripted-primary.js';

// The near-cache's verification policy (issue 11) on a scripted primary and the manual clock: when a
// memory copy may answer without a network call, and every way it stops being allowed to. What
// Redis does (tracking pushes, their order, expiry) is tested against real servers in
// near-cache.test.ts.

const flush = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A scripted primary that reports invalidations; the test pushes them and answers heartbeats. */
class TrackingPrimary extends ScriptedPrimary {
  listener: InvalidationListener | undefined;
  prefix: string | undefined;
  heartbeats = 0;
  /** While set, heartbeats are not answered (a silent partition). */
  silent = false;

  trackingSupport(): TrackingSupport {
    return { supported: true };
  }

  track(prefix: string, listener: InvalidationListener): void {
    this.prefix = prefix;
    this.listener = listener;
  }

  heartbeat(): Promise<void> {
    this.heartbeats++;
    return this.silent ? new Promise(() => {}) : Promise.resolve();
  }

  gets(): number {
    return this.log.filter((command) => command.startsWith('get ')).length;
  }
}

const LEASE = 300;

function setup() {
  const clock = new ManualClock();
  const primary = new TrackingPrimary();
  const store = new TieredStore({ primary, clock, namespace: 'ns', readPolicy: 'near-cache', nearCacheLeaseMs: LEASE });
  const states: NearCacheStateEvent[] = [];
  store.on('near-cache:state', (event) => states.push(event));
  primary.listener?.tracking(true, 'armed');
  primary.data.set('ns::ns:k', { value: 'v1', ttlMs: undefined });
  return { clock, primary, store, states };
}

describe('near-cache verification', () => {
  it('tracks the namespace prefix; a read fills a verified copy that answers without a call', async () => {
    const h = setup();
    expect(h.primary.prefix).toBe('ns::ns:');
    expect(await h.store.get('ns:k')).toBe('v1');
    expect(await h.store.get('ns:k')).toBe('v1');
    expect(h.primary.gets()).toBe(1);
    expect(h.store.stats().nearCache).toMatchObject({ state: 'live', verifiedHits: 1 });
  });

  it('a write fills a verified copy too', async () => {
    const h = setup();
    expect(await h.store.set('ns:w', 'mine')).toBe(true);
    expect(await h.store.get('ns:w')).toBe('mine');
    expect(h.primary.gets()).toBe(0);
  });

  it('an invalidation drops the copy: the next read asks the primary', async () => {
    const h = setup();
    await h.store.get('ns:k');
    h.primary.data.set('ns::ns:k', { value: 'v2', ttlMs: undefined });
    h.primary.listener?.invalidated('ns::ns:k');
    expect(await h.store.get('ns:k')).toBe('v2');
    expect(h.primary.gets()).toBe(2);
    expect(h.store.stats().nearCache.invalidations).toBe(1);
  });

  it('an invalidation that arrives while a read is in flight wins over its answer', async () => {
    const h = setup();
    h.primary.hold();
    const read = h.store.get('ns:k');
    h.primary.listener?.invalidated('ns::ns:k');
    h.primary.release();
    expect(await read).toBe('v1');
    // The answer was not kept as verified (nor kept at all): the next read asks again.
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(2);
  });

  it('an invalidation while a write is in flight: its copy is not verified', async () => {
    const h = setup();
    h.primary.hold();
    const write = h.store.set('ns:w', 'mine');
    h.primary.listener?.invalidated('ns::ns:w');
    h.primary.release();
    expect(await write).toBe(true);
    await h.store.get('ns:w');
    expect(h.primary.gets()).toBe(1);
  });

  it('FLUSHDB (every key): copies dropped, a read in flight does not verify', async () => {
    const h = setup();
    await h.store.get('ns:k');
    h.primary.hold();
    const other = h.store.get('ns:other');
    h.primary.listener?.invalidated(null);
    h.primary.release();
    await other;
    await h.store.get('ns:k');
    await h.store.get('ns:other');
    expect(h.primary.gets()).toBe(4);
  });

  it('a silent partition: with no traffic, the lapse is reported within lease + a third; nothing is verified after', async () => {
    const h = setup();
    await h.store.get('ns:k');
    h.primary.silent = true;
    // Heartbeats every 100 ms; the last answered one was sent at arming time.
    h.clock.advance(LEASE + LEASE / 3);
    await flush();
    expect(h.states.at(-1)).toEqual({ state: 'lost', reason: 'heartbeat unanswered' });
    expect(h.store.nearCacheState).toBe('lost');
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(2);
    // Answered again: copies made from now on verify; the old one was replaced by that read.
    h.primary.silent = false;
    h.clock.advance(LEASE + 1);
    await flush();
    expect(h.states.at(-1)).toEqual({ state: 'live', reason: 'heartbeat answered' });
    await h.store.get('ns:k');
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(3);
  });

  it('a read on an expired lease asks the primary even before the heartbeat timer notices', async () => {
    const h = setup();
    await h.store.get('ns:k');
    h.primary.silent = true;
    // The process was busy: time moved past the lease without the timers running.
    h.clock.stall(LEASE + 1);
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(2);
    expect(h.store.nearCacheState).toBe('lost');
  });

  it('a lost connection unverifies every copy; after re-arming, only new reads verify', async () => {
    const h = setup();
    await h.store.get('ns:k');
    h.primary.listener?.tracking(false, 'connection closed');
    expect(h.store.nearCacheState).toBe('lost');
    h.primary.listener?.tracking(true, 'armed');
    await h.store.get('ns:k');
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(2);
  });

  it('a namespace change re-tracks the new prefix', async () => {
    const h = setup();
    h.store.namespace = 'other';
    expect(h.primary.prefix).toBe('other::other:');
  });

  it('a primary that cannot report changes: `unsupported`, and memory-first instead', async () => {
    const clock = new ManualClock();
    const primary = new ScriptedPrimary();
    primary.data.set('ns::ns:k', { value: 'v1', ttlMs: undefined });
    const store = new TieredStore({ primary, clock, namespace: 'ns', readPolicy: 'near-cache', memoryTtlMs: 1_000 });
    const states: NearCacheStateEvent[] = [];
    store.on('near-cache:state', (event) => states.push(event));
    await flush();
    expect(states).toEqual([{ state: 'unsupported', reason: expect.stringContaining('cannot report changes') }]);
    await store.get('ns:k');
    await store.get('ns:k');
    expect(primary.log.filter((c) => c.startsWith('get ')).length).toBe(1);
    clock.advance(1_001);
    await store.get('ns:k');
    expect(primary.log.filter((c) => c.startsWith('get ')).length).toBe(2);
  });

  it('a server that refuses HELLO 3 (no RESP3), even after being live: `unsupported` for good, memory-first', async () => {
    const h = setup();
    await h.store.get('ns:k');
    h.primary.listener?.tracking(false, 'connection closed');
    const reason =
      "the server refused HELLO 3 (RESP3), needed for invalidations: reading memory-first (unknown command 'HELLO')";
    h.primary.listener?.tracking(false, reason);
    expect(h.states.slice(-2)).toEqual([
      { state: 'lost', reason: 'connection closed' },
      { state: 'unsupported', reason },
    ]);
    expect(h.store.nearCacheState).toBe('unsupported');
    // Dropped: a later report (a reconnect's) changes nothing, and reads are memory-first.
    h.primary.listener?.tracking(true, 'armed');
    expect(h.store.nearCacheState).toBe('unsupported');
    // The copy read while live is younger than memoryTtlMs (1 s): it answers, unverified or not.
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(1);
    h.clock.advance(1_001);
    await h.store.get('ns:k');
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(2);
    expect(h.store.stats().nearCache.verifiedHits).toBe(0);
    expect(h.states.at(-1)?.state).toBe('unsupported');
  });

  it('a server that refuses tracking: `unsupported`, and memory-first instead', async () => {
    const h = setup();
    h.primary.listener?.tracking(false, 'CLIENT TRACKING refused: ERR unknown command');
    expect(h.store.nearCacheState).toBe('unsupported');
    await h.store.get('ns:k');
    await h.store.get('ns:k');
    expect(h.primary.gets()).toBe(1);
    expect(h.store.stats().nearCache.verifiedHits).toBe(0);
  });
});
