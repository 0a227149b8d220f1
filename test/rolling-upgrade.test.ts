import { createClient } from '@keyv/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from './helpers/redis-server.js';
import { now, StoreProcess, stopAllStoreProcesses } from './helpers/store-process.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

// A fleet moving from Keyv 5 to Keyv 6 one instance at a time: real processes sharing one
// redis-server, one running Keyv 5 (keyv 5.6) and one Keyv 6 (keyv 6.1, the `keyv6` alias) with the
// store option `keyLayout: 'keyv5'`, both in namespace `fleet`. Each reaches Redis through its own
// loopback TCP proxy, so that either can be partitioned (`pause` holds data both ways and delivers it,
// in order, when the mode changes). The test process reads Redis directly with a plain client.
//
// The Keyv 6 process has no `error` listener: Keyv 6 would turn any rejection of the store into a
// rejection of the call, and the test would see it.

const NAMESPACE = 'fleet';
/** Keyv 5's layout, which both processes read and write: `ns::ns:key`. */
const physical = (key: string) => `${NAMESPACE}::${NAMESPACE}:${key}`;

let server: RedisServer;
let redis: ReturnType<typeof createClient>;
const proxies: TcpProxy[] = [];
let five: StoreProcess;
let six: StoreProcess;
let fiveProxy: TcpProxy;
let sixProxy: TcpProxy;

async function proxy(): Promise<TcpProxy> {
  const p = await TcpProxy.start(server.port);
  proxies.push(p);
  return p;
}

/** The application value Redis holds at a physical key (Keyv's envelope unwrapped). */
async function at(key: string): Promise<unknown> {
  const raw = await redis.get(key);
  return raw === null ? undefined : (JSON.parse(String(raw)) as { value: unknown }).value;
}

beforeAll(async () => {
  server = await RedisServer.start();
  redis = createClient({ url: server.url });
  await redis.connect();
  [fiveProxy, sixProxy] = [await proxy(), await proxy()];
  [five, six] = await Promise.all([
    StoreProcess.start({ name: 'Keyv 5', store: { primary: fiveProxy.url }, keyv: { namespace: NAMESPACE } }),
    StoreProcess.start({
      name: 'Keyv 6',
      store: { primary: sixProxy.url, keyLayout: 'keyv5' },
      keyv: { major: 6, namespace: NAMESPACE, errorListener: false },
    }),
  ]);
  expect(await five.callStore('keyvMajor')).toBe(5);
  expect(await six.callStore('keyvMajor')).toBe(6);
});

afterAll(async () => {
  await stopAllStoreProcesses();
  for (const p of proxies.splice(0)) await p.close();
  await redis?.close();
  await server?.stop();
});

// A test that failed mid-partition must not leave the next one partitioned.
afterEach(() => {
  for (const p of proxies) p.setMode('pass');
});

describe("Keyv 5 and Keyv 6 (keyLayout: 'keyv5') in one namespace", () => {
  it("read each other's writes, TTLs and deletes, single and batched, and iterate each other's keys", async () => {
    expect(await five.call('set', 'a', { from: 5 }, 60_000)).toBe(true);
    expect(await six.call('set', 'b', { from: 6 }, 60_000)).toBe(true);
    // One layout in Redis, Keyv 5's, whoever wrote.
    expect(await at(physical('a'))).toEqual({ from: 5 });
    expect(await at(physical('b'))).toEqual({ from: 6 });
    expect(await redis.exists(`${NAMESPACE}::b`)).toBe(0);
    expect(await redis.pTTL(physical('b'))).toBeGreaterThan(59_000);

    expect(await six.call('get', 'a')).toEqual({ from: 5 });
    expect(await five.call('get', 'b')).toEqual({ from: 6 });
    expect(await six.call('has', 'a')).toBe(true);
    expect(await five.call('has', 'b')).toBe(true);

    expect(
      await five.call('setMany', [
        { key: 'c', value: 'c5' },
        { key: 'd', value: 'd5', ttl: 60_000 },
      ]),
    ).toEqual([true, true]);
    expect(await six.call('setMany', [{ key: 'e', value: 'e6' }])).toEqual([true]);
    expect(await six.call('get', ['c', 'd', 'missing'])).toEqual(['c5', 'd5', undefined]);
    expect(await five.call('get', ['e', 'missing'])).toEqual(['e6', undefined]);

    const iterated = async (p: StoreProcess) =>
      new Map(await p.call<Array<[string, unknown]>>('iterator', ...(p === five ? [NAMESPACE] : [])));
    const everything = new Map<string, unknown>([
      ['a', { from: 5 }],
      ['b', { from: 6 }],
      ['c', 'c5'],
      ['d', 'd5'],
      ['e', 'e6'],
    ]);
    // Keyv 5 yields its own keys with Keyv's `fleet:` prefix stripped; Keyv 6 yields bare keys: the same.
    expect(await iterated(six)).toEqual(everything);
    expect(await iterated(five)).toEqual(everything);

    // Deletes cross: each answers the truth about the other's key.
    expect(await six.call('delete', 'a')).toBe(true);
    expect(await five.call('get', 'a')).toBeUndefined();
    expect(await five.call('delete', 'b')).toBe(true);
    expect(await six.call('get', 'b')).toBeUndefined();
    // Keyv 6 answers per key, Keyv 5 with one boolean.
    expect(await six.call('delete', ['c', 'missing'])).toEqual([true, false]);
    expect(await five.call('get', 'c')).toBeUndefined();
    expect(await five.call('delete', ['d', 'e'])).toBe(true);
    expect(await six.call('get', ['d', 'e'])).toEqual([undefined, undefined]);
    expect(await redis.keys(`${NAMESPACE}::*`)).toEqual([]);

    // Nothing failed on either side.
    for (const p of [five, six]) expect((await p.stats()).primaryFailures, p.name).toBe(0);
    expect(five.events.filter((e) => e.name === 'keyv:error')).toEqual([]);
  });
});

describe('the reconciliation invariant across the majors, through a partition', () => {
  /** How long after the heal a late write of the partitioned side may stay visible (test/multi-instance.test.ts). */
  const LATE_WINDOW_MS = 150;

  /**
   * `partitioned` is cut off from Redis (its proxy paused) while both write the same keys; then the
   * partition heals, its held writes land late, and it reconciles. Afterwards neither process (nor
   * Redis) holds a value older than the newest one written to a key, or a key whose newest write
   * was a delete. Returns how long the other side was seen reading a late write after the heal.
   */
  async function partitionAndHeal(partitioned: StoreProcess, through: TcpProxy, other: StoreProcess): Promise<number> {
    const run = `${partitioned === six ? 'six' : 'five'}-cut`;
    const key = (name: string) => `${run}:${name}`;
    const K = {
      /** The partitioned side sets it; nobody else writes it later. */
      setCut: key('set-cut'),
      /** The partitioned side sets it, then the other side sets it (acknowledged) during the partition. */
      setCutThenOther: key('set-cut-then-other'),
      /** The partitioned side deletes it. */
      delCut: key('del-cut'),
      /** The partitioned side deletes it, then the other side sets it. */
      delCutThenOther: key('del-cut-then-other'),
      /** Only the other side writes it, during the partition: the partitioned side holds an older copy. */
      setOther: key('set-other'),
      /** Nobody touches it: it must survive reconciliation. */
      untouched: key('untouched'),
      batchSet: [key('batch-set-0'), key('batch-set-1')],
      batchDel: [key('batch-del-0'), key('batch-del-1')],
    };
    const before = [K.setCut, K.setCutThenOther, K.delCut, K.delCutThenOther, K.setOther, K.untouched, ...K.batchDel];
    // Written before the partition by one side, read by both (so both hold memory copies).
    for (const [i, k] of before.entries()) {
      expect(await (i % 2 === 0 ? other : partitioned).call('set', k, `v0:${k}`, 60_000)).toBe(true);
      for (const p of [partitioned, other]) expect(await p.call('get', k)).toBe(`v0:${k}`);
    }

    through.setMode('pause');
    const mark = partitioned.events.length;
    // Six writes at once into the partition: each times out (100 ms), and the failures open the breaker.
    const cut = await Promise.all([
      partitioned.begin('keyv', 'set', K.setCut, `v1:${K.setCut}`, 60_000),
      partitioned.begin('keyv', 'set', K.setCutThenOther, `v1:${K.setCutThenOther}`, 60_000),
      partitioned.begin('keyv', 'delete', K.delCut),
      partitioned.begin('keyv', 'delete', K.delCutThenOther),
      partitioned.begin(
        'keyv',
        'setMany',
        K.batchSet.map((k) => ({ key: k, value: `v1:${k}` })),
      ),
      partitioned.begin('keyv', 'delete', K.batchDel),
    ]);
    const results = await Promise.all(cut.map((c) => c.result));
    // The truth: Redis took none of them; under Keyv 6 a batch delete answers per key.
    expect(results.map((r) => r.value)).toEqual([
      false,
      false,
      false,
      false,
      [false, false],
      partitioned === six ? [false, false] : false,
    ]);
    for (const r of results) expect(r.ms, 'each write waited at most the deadline + margin').toBeLessThan(250);
    await partitioned.waitFor('circuit:state', (e) => e.payload.to === 'open', { from: mark, timeoutMs: 3_000 });

    // Meanwhile the other side writes, acknowledged.
    for (const k of [K.setCutThenOther, K.delCutThenOther, K.setOther]) {
      expect(await other.call('set', k, `v2:${k}`, 60_000)).toBe(true);
      expect(await at(physical(k))).toBe(`v2:${k}`);
    }
    // Cut off, the partitioned side answers from memory: its own newest writes, none of its deletes.
    expect(await partitioned.call('get', K.setCut)).toBe(`v1:${K.setCut}`);
    expect(await partitioned.call('get', K.delCut)).toBeUndefined();

    // Heal: the held writes land late, on top of the other side's; the partitioned side reconciles.
    let reconciledAt = Number.POSITIVE_INFINITY;
    const healMark = partitioned.events.length;
    const reconciled = partitioned
      .waitFor('reconcile:done', undefined, { from: healMark, timeoutMs: 5_000 })
      .then((e) => {
        reconciledAt = e.at;
      });
    reconciled.catch(() => {});
    through.setMode('pass');
    const healedAt = now();
    // From the heal until reconciliation (+50 ms): when did the other side last read a late write?
    let lateSeenMs = 0;
    while (now() < Math.min(reconciledAt + 50, healedAt + 5_000)) {
      const read = await other.call('get', K.setCutThenOther);
      if (read === `v1:${K.setCutThenOther}`) lateSeenMs = now() - healedAt;
    }
    await reconciled;
    await partitioned.waitFor('circuit:state', (e) => e.payload.to === 'closed', { from: healMark, timeoutMs: 5_000 });
    expect((await partitioned.stats()).journal.size).toBe(0);

    // The invariant: the newest value written to each key (by either side, acknowledged or not), or
    // a miss; never an older value, never a key whose newest write was a delete.
    const allowed = new Map<string, unknown[]>([
      [K.setCut, [`v1:${K.setCut}`, undefined]],
      [K.setCutThenOther, [`v2:${K.setCutThenOther}`, undefined]],
      [K.delCut, [undefined]],
      [K.delCutThenOther, [`v2:${K.delCutThenOther}`, undefined]],
      ...K.batchSet.map((k) => [k, [`v1:${k}`, undefined]] as [string, unknown[]]),
      ...K.batchDel.map((k) => [k, [undefined]] as [string, unknown[]]),
      // Never journaled by the partitioned side: Redis keeps them, and both read exactly them (the
      // partitioned side does not serve its older memory copy).
      [K.setOther, [`v2:${K.setOther}`]],
      [K.untouched, [`v0:${K.untouched}`]],
    ]);
    for (const [k, values] of allowed) {
      expect(values, `${k} in Redis`).toContain(await at(physical(k)));
      for (const p of [partitioned, other]) expect(values, `${k} read by ${p.name}`).toContain(await p.call('get', k));
    }
    // Keyv 6's process would have rejected a call (no listener); Keyv 5's would have emitted.
    expect(five.events.filter((e) => e.name === 'keyv:error')).toEqual([]);
    return lateSeenMs;
  }

  it('the Keyv 6 process partitioned: after the heal and its reconciliation, neither process reads an older value or a deleted key', {
    timeout: 20_000,
  }, async () => {
    const lateMs = await partitionAndHeal(six, sixProxy, five);
    console.log(`Keyv 6 partitioned: Keyv 5 read Keyv 6's late write until ${Math.round(lateMs)} ms after the heal`);
    expect.soft(lateMs, 'late-write window seen by the Keyv 5 process (ms)').toBeLessThan(LATE_WINDOW_MS);
  });

  it('the Keyv 5 process partitioned: the same, the other way round', { timeout: 20_000 }, async () => {
    const lateMs = await partitionAndHeal(five, fiveProxy, six);
    console.log(`Keyv 5 partitioned: Keyv 6 read Keyv 5's late write until ${Math.round(lateMs)} ms after the heal`);
    expect.soft(lateMs, 'late-write window seen by the Keyv 6 process (ms)').toBeLessThan(LATE_WINDOW_MS);
  });
});

describe("without keyLayout: 'keyv5' (the hazard the option removes)", () => {
  it("a Keyv 6 process in Keyv 6's own layout and a Keyv 5 process in the same namespace do not see each other's keys", async () => {
    const native = await StoreProcess.start({
      name: 'Keyv 6 (native layout)',
      store: { primary: server.url },
      keyv: { major: 6, namespace: NAMESPACE, errorListener: false },
    });
    try {
      expect(await five.call('set', 'hazard', 'from 5')).toBe(true);
      expect(await native.call('set', 'hazard', 'from 6')).toBe(true);
      // Two keys for one application key: the fleet's cache is split in two.
      expect((await redis.keys(`${NAMESPACE}::*hazard`)).map(String).sort()).toEqual([
        `${NAMESPACE}::${NAMESPACE}:hazard`,
        `${NAMESPACE}::hazard`,
      ]);
      expect(await five.call('get', 'hazard')).toBe('from 5');
      expect(await native.call('get', 'hazard')).toBe('from 6');
      expect(await five.call('set', 'only-5', 'x')).toBe(true);
      expect(await native.call('get', 'only-5')).toBeUndefined();
      // A delete by one leaves the other's copy alive: a deleted key stays visible to the rest of the fleet.
      expect(await native.call('delete', 'only-5')).toBe(false);
      expect(await five.call('get', 'only-5')).toBe('x');
      expect(await native.call('delete', 'hazard')).toBe(true);
      expect(await five.call('get', 'hazard')).toBe('from 5');
      // The layout option on (the process above) is what makes them one cache.
      expect(await six.call('get', 'only-5')).toBe('x');
    } finally {
      await native.stop();
      await five.call('delete', ['hazard', 'only-5']);
    }
  });
});
