import KeyvRedis from '@keyv/redis';
import { keyvIteratorTests, default as keyvTestSuite } from '@keyv/test-suite';
import { createClient, createCluster, ErrorReply } from '@redis/client';
import Keyv from 'keyv';
import * as test from 'vitest';
import { RedisPrimary } from '../adapters/redis-primary.js';
import { RedisCluster } from '../harness/redis-cluster.js';
import { InvalidOptionError, TieredStore } from '../src/index.js';
import { unreachableConformance } from './helpers/conformance.js';
import { closedAfterEach } from './helpers/stores.js';

// The Keyv conformance suite against a real Redis Cluster on loopback (3 masters, 1 replica each):
// through the store's own cluster client ({ cluster: { rootNodes } }) and through a KeyvRedis on
// createCluster, then with every root node unreachable. Then what a cluster changes: keys on every
// master, clear/iterator/warm over every master, the fail-fast settings on every node connection,
// and the replies of a topology change classified as transient.

let cluster: RedisCluster;
const track = closedAfterEach();
test.beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 60_000);
test.afterAll(async () => {
  await cluster?.stop();
});

/** DBSIZE of every master, through the harness's own client. */
async function keysPerMaster(): Promise<number[]> {
  const masters = await cluster.masters();
  return Promise.all(masters.map(async (master) => Number(await master.command(['DBSIZE']))));
}

test.describe('with { cluster: { rootNodes } } (the store builds the cluster client)', () => {
  const factory = () => track(new TieredStore({ primary: { cluster: { rootNodes: cluster.rootNodes } } }));
  keyvTestSuite(test, Keyv, factory);
  keyvIteratorTests(test, Keyv, factory);

  test.it('really wrote to the cluster, on every master', async ({ expect }) => {
    const store = factory();
    const keyv = new Keyv({ store, namespace: 'spread' });
    const entries = Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    await keyv.setMany(entries);
    expect((await keysPerMaster()).every((count) => count > 0)).toBe(true);
    expect(await keyv.getMany(entries.map((e) => e.key))).toEqual(entries.map((e) => e.value));
    expect(store.stats().hits.primary).toBe(60);
    expect(store.stats().primaryFailures).toBe(0);
    expect(await keyv.hasMany(['k1', 'k59', 'nope'])).toEqual([true, true, false]);
    await keyv.deleteMany(['k1', 'k2']);
    expect(await keyv.get('k1')).toBeUndefined();
  });
});

test.describe('with a KeyvRedis on createCluster', () => {
  const factory = () =>
    track(new TieredStore({ primary: new KeyvRedis(createCluster({ rootNodes: cluster.rootNodes }) as never) }));
  keyvTestSuite(test, Keyv, factory);
  keyvIteratorTests(test, Keyv, factory);

  test.it("turns the offline queue off on every node connection, and bounds the application's", async ({ expect }) => {
    const client = createCluster({ rootNodes: cluster.rootNodes });
    const store = track(new TieredStore({ primary: new KeyvRedis(client as never) }));
    const keyv = new Keyv({ store });
    await keyv.set('queued', 'no');
    expect(await keyv.get('queued')).toBe('no');
    expect(client.masters.length).toBe(3);
    for (const master of client.masters) {
      const options = (master.client as { options?: { disableOfflineQueue?: boolean; socket?: object } }).options;
      expect(options?.disableOfflineQueue).toBe(true);
      expect(options?.socket).toMatchObject({ connectTimeout: 1_000 });
    }
  });
});

unreachableConformance(
  'with every root node unreachable from the start (fallback only)',
  { cluster: { rootNodes: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'] } },
  track,
);

test.describe('namespace-wide operations cover every master', () => {
  test.it('clear deletes the namespace on every master, and nothing else', async ({ expect }) => {
    const store = track(new TieredStore({ primary: { cluster: { rootNodes: cluster.rootNodes } } }));
    const keyv = new Keyv({ store, namespace: 'wide' });
    await keyv.setMany(Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: i })));
    // Someone else's keys, on every master: the store cannot prove them its own.
    const others = Array.from({ length: 30 }, (_, i) => `other:${i}`);
    const admin = createCluster({ rootNodes: cluster.rootNodes });
    await admin.connect();
    try {
      for (const key of others) await admin.set(key, 'keep');
      const iterated: string[] = [];
      for await (const [key] of store.iterator('wide')) iterated.push(String(key));
      expect(iterated.length).toBe(60);
      await keyv.clear();
      for (const master of await cluster.masters()) {
        const keys = (await master.command(['KEYS', '*'])) as string[];
        expect(keys.some((key) => key.startsWith('wide::'))).toBe(false);
      }
      expect(await Promise.all(others.map((key) => admin.get(key)))).toEqual(others.map(() => 'keep'));
      await Promise.all(others.map((key) => admin.del(key)));
    } finally {
      admin.destroy();
    }
  });

  test.it('warm loads from every master', async ({ expect }) => {
    const writer = new Keyv({
      store: track(new TieredStore({ primary: { cluster: { rootNodes: cluster.rootNodes } } })),
    });
    for (let i = 0; i < 90; i++) await writer.set(`warm:${i}`, i, 60_000);
    const store = track(
      new TieredStore({
        primary: { cluster: { rootNodes: cluster.rootNodes } },
        readPolicy: 'memory-first',
        memoryTtlMs: 60_000,
      }),
    );
    const keyv = new Keyv({ store });
    await keyv.get('connect');
    expect(await store.warm({ match: 'warm:*' })).toMatchObject({ loaded: 90, stopped: undefined });
  });

  test.it("reports the masters' run ids as its identity, one per master", async ({ expect }) => {
    const client = createCluster({ rootNodes: cluster.rootNodes });
    const primary = new RedisPrimary(client);
    primary.connect();
    await client.connect().catch(() => {});
    try {
      const id = await primary.probe();
      const ids = await Promise.all(
        (await cluster.masters()).map(
          async (master) => /run_id:(\w+)/.exec(String(await master.command(['INFO'])))?.[1],
        ),
      );
      expect(id).toBe(ids.sort().join(','));
    } finally {
      await primary.disconnect();
    }
  });
});

test.describe('replies of a topology change are transient, never bad input', () => {
  test.it('a real MOVED, from a node asked for a key of another master', async ({ expect }) => {
    const [first] = await cluster.masters();
    const direct = createClient({ url: String(first?.url), disableOfflineQueue: true });
    await direct.connect();
    const primary = new RedisPrimary(direct);
    try {
      const errors: unknown[] = [];
      for (let i = 0; i < 20; i++) await primary.get(`moved:${i}`).catch((error: unknown) => errors.push(error));
      expect(errors.length).toBeGreaterThan(0);
      for (const error of errors) {
        expect(String(error)).toMatch(/^.*MOVED/);
        expect(primary.classify(error)).toBe('unavailable');
      }
    } finally {
      await primary.disconnect();
    }
  });

  test.it('a real READONLY, from a replica asked to write', async ({ expect }) => {
    const masters = new Set((await cluster.masters()).map((m) => m.port));
    const replica = cluster.nodes.find((node) => !masters.has(node.port));
    const direct = createClient({ url: String(replica?.url), disableOfflineQueue: true });
    await direct.connect();
    const primary = new RedisPrimary(direct);
    try {
      // READONLY first makes the replica serve its own slots' reads; a write is refused either way.
      const error = await primary.set('readonly-probe', 'x', undefined).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(error)).toMatch(/MOVED|READONLY/);
      expect(primary.classify(error)).toBe('unavailable');
    } finally {
      await primary.disconnect();
    }
  });

  test.it('ASK, TRYAGAIN, CLUSTERDOWN, READONLY, LOADING and MASTERDOWN replies are unavailable', ({ expect }) => {
    const primary = new RedisPrimary(createCluster({ rootNodes: cluster.rootNodes }));
    for (const reply of [
      'ASK 3999 127.0.0.1:6381',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'CLUSTERDOWN The cluster is down',
      "READONLY You can't write against a read only replica.",
      'LOADING Redis is loading the dataset in memory',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
    ]) {
      expect(primary.classify(new ErrorReply(reply))).toBe('unavailable');
    }
    expect(primary.classify(new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind'))).toBe(
      'command',
    );
    expect(primary.classify(new ErrorReply('NOAUTH Authentication required.'))).toBe('auth');
  });
});

test.describe('{ cluster } is validated at construction', () => {
  const make = (cluster: unknown) => () => new TieredStore({ primary: { cluster } as never });
  test.it('names the bad field and never shows a password', ({ expect }) => {
    const cases: Array<[unknown, string]> = [
      [undefined, 'primary.cluster'],
      [{}, 'primary.cluster.rootNodes'],
      [{ rootNodes: [] }, 'primary.cluster.rootNodes'],
      [{ rootNodes: ['redis://127.0.0.1:7000', 'http://:s3cret@host:1'] }, 'primary.cluster.rootNodes[1]'],
      [{ rootNodes: ['redis://:s3cret@host:99999'] }, 'primary.cluster.rootNodes[0]'],
      [{ rootNodes: [{ url: 'redis://h:1', password: 7 }] }, 'primary.cluster.rootNodes[0].password'],
      [{ rootNodes: [{ url: 42, password: 's3cret' }] }, 'primary.cluster.rootNodes[0]'],
      [{ rootNodes: ['redis://h:1'], pasword: 's3cret' }, 'primary.cluster.pasword'],
      [{ rootNodes: ['redis://h:1'], password: '' }, 'primary.cluster.password'],
    ];
    for (const [value, field] of cases) {
      let thrown: unknown;
      try {
        make(value)();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe(field);
      expect(JSON.stringify({ ...(thrown as object), message: (thrown as Error).message })).not.toContain('s3cret');
    }
    expect(() => new TieredStore({ primary: { cluster: { rootNodes: ['redis://h:1'] }, extra: 1 } as never })).toThrow(
      /primary\.extra/,
    );
  });
});
