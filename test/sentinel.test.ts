import KeyvRedis from '@keyv/redis';
import { keyvIteratorTests, default as keyvTestSuite } from '@keyv/test-suite';
import { createClient, createSentinel } from '@redis/client';
import Keyv from 'keyv';
import * as test from 'vitest';
import { RedisPrimary } from '../adapters/redis-primary.js';
import { RedisSentinelDeployment } from '../harness/redis-sentinel.js';
import { InvalidOptionError, TieredStore } from '../src/index.js';
import { unreachableConformance } from './helpers/conformance.js';
import { closedAfterEach } from './helpers/stores.js';

// The Keyv conformance suite against a real Sentinel deployment on loopback (1 primary, 1 replica,
// 3 sentinels): through the store's own Sentinel client ({ sentinel: { name, sentinelRootNodes } })
// and through a KeyvRedis on createSentinel, then with every sentinel unreachable.

let deployment: RedisSentinelDeployment;
const track = closedAfterEach();
test.beforeAll(async () => {
  deployment = await RedisSentinelDeployment.start();
}, 60_000);
test.afterAll(async () => {
  await deployment?.stop();
});

const sentinelOption = () => ({ name: deployment.name, sentinelRootNodes: deployment.sentinelRootNodes });

test.describe('with { sentinel: { name, sentinelRootNodes } } (the store builds the Sentinel client)', () => {
  // A Sentinel client connects in several round trips (a sentinel, then the primary it names): about
  // 100 ms here, the default deadline, and seconds on a loaded machine. The first calls wait for it within
  // a longer deadline: what this suite checks is the contract, not the deadline.
  const factory = () => track(new TieredStore({ primary: { sentinel: sentinelOption() }, operationTimeoutMs: 5_000 }));
  keyvTestSuite(test, Keyv, factory);
  keyvIteratorTests(test, Keyv, factory);

  test.it('really wrote to the primary the sentinels name', async ({ expect }) => {
    const store = factory();
    const keyv = new Keyv({ store });
    await keyv.set('sentinel-probe', 'x');
    expect(await keyv.get('sentinel-probe')).toBe('x');
    expect(store.stats().hits.primary).toBe(1);
    expect(store.stats().primaryFailures).toBe(0);
    const primary = await deployment.primary();
    expect(String(await primary.command(['GET', 'keyv::keyv:sentinel-probe']))).toContain('"x"');
  });

  test.it(
    "readPolicy 'near-cache': unsupported through Sentinel, said so, and read memory-first",
    async ({ expect }) => {
      const store = track(
        new TieredStore({
          primary: { sentinel: sentinelOption() },
          operationTimeoutMs: 5_000,
          readPolicy: 'near-cache',
        }),
      );
      const state = new Promise<{ state: string; reason?: string }>((resolve) =>
        store.once('near-cache:state', resolve),
      );
      const keyv = new Keyv({ store });
      await keyv.set('sentinel-near', 'x');
      expect(await state).toEqual({ state: 'unsupported', reason: expect.stringContaining('Sentinel') });
      expect(await keyv.get('sentinel-near')).toBe('x');
      // Memory-first: the copy this instance wrote answers, without asking the primary.
      expect(store.stats().hits).toEqual({ primary: 0, memory: 1 });
    },
  );
});

test.describe('with a KeyvRedis on createSentinel', () => {
  // The same longer deadline, for the same first connection.
  const factory = () =>
    track(
      new TieredStore({ primary: new KeyvRedis(createSentinel(sentinelOption()) as never), operationTimeoutMs: 5_000 }),
    );
  keyvTestSuite(test, Keyv, factory);
  keyvIteratorTests(test, Keyv, factory);
});

unreachableConformance(
  'with every sentinel unreachable from the start (fallback only)',
  { sentinel: { name: 'nobody', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] } },
  track,
);

test.describe('a demoted primary', () => {
  test.it('answers READONLY to a write, which is transient, never bad input', async ({ expect }) => {
    const primaryPort = await deployment.primaryPort();
    const replica = deployment.dataNodes.find((node) => node.port !== primaryPort);
    const direct = createClient({ url: String(replica?.url), disableOfflineQueue: true });
    await direct.connect();
    const primary = new RedisPrimary(direct);
    try {
      const error = await primary.set('readonly-probe', 'x', undefined).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(error)).toMatch(/READONLY/);
      expect(primary.classify(error)).toBe('unavailable');
    } finally {
      await primary.disconnect();
    }
  });
});

test.describe('{ sentinel } is validated at construction', () => {
  test.it('names the bad field and never shows a password', ({ expect }) => {
    const node = { host: '127.0.0.1', port: 26379 };
    const cases: Array<[unknown, string]> = [
      [null, 'primary.sentinel'],
      [{ sentinelRootNodes: [node] }, 'primary.sentinel.name'],
      [{ name: 'my primary', sentinelRootNodes: [node] }, 'primary.sentinel.name'],
      [{ name: 'm', sentinelRootNodes: [] }, 'primary.sentinel.sentinelRootNodes'],
      [{ name: 'm', sentinelRootNodes: [node, { host: 'h', port: 0 }] }, 'primary.sentinel.sentinelRootNodes[1].port'],
      [{ name: 'm', sentinelRootNodes: [{ host: '', port: 1 }] }, 'primary.sentinel.sentinelRootNodes[0].host'],
      [{ name: 'm', sentinelRootNodes: ['redis://:s3cret@h:99999'] }, 'primary.sentinel.sentinelRootNodes[0]'],
      [
        { name: 'm', sentinelRootNodes: [{ ...node, password: 's3cret' }] },
        'primary.sentinel.sentinelRootNodes[0].password',
      ],
      [{ name: 'm', sentinelRootNodes: [node], password: 5 }, 'primary.sentinel.password'],
      [{ name: 'm', sentinelRootNodes: [node], secret: 's3cret' }, 'primary.sentinel.secret'],
    ];
    for (const [value, field] of cases) {
      let thrown: unknown;
      try {
        new TieredStore({ primary: { sentinel: value } as never });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe(field);
      expect(JSON.stringify({ ...(thrown as object), message: (thrown as Error).message })).not.toContain('s3cret');
    }
  });
});
