import { keyvIteratorTests, default as keyvTestSuite } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as test from 'vitest';
import { TieredStore } from '../src/index.js';
import { unreachableConformance } from './helpers/conformance.js';
import { RedisServer } from './helpers/redis-server.js';

// The Keyv conformance suite, run twice: against a real redis-server, and with the primary
// unreachable from the start so that the memory tier alone must satisfy the contract.

const stores: TieredStore[] = [];
function track(store: TieredStore): TieredStore {
  stores.push(store);
  return store;
}
test.afterAll(async () => {
  await Promise.all(stores.map((store) => store.disconnect()));
});

test.describe('with a real redis-server primary', () => {
  let server: RedisServer;
  test.beforeAll(async () => {
    server = await RedisServer.start();
  });
  test.afterAll(async () => {
    await server.stop();
  });
  // The factory runs after beforeAll, when the suite's tests call it.
  const factory = () => track(new TieredStore({ primary: server.url }));
  keyvTestSuite(test, Keyv, factory);
  keyvIteratorTests(test, Keyv, factory);

  test.it('really wrote to Redis (the primary answered, memory did not)', async ({ expect }) => {
    const store = factory();
    const keyv = new Keyv({ store });
    await keyv.set('conformance-probe', 'x');
    expect(store.stats().hits.primary).toBe(0);
    expect(await keyv.get('conformance-probe')).toBe('x');
    expect(store.stats().hits.primary).toBe(1);
    expect(store.stats().primaryFailures).toBe(0);
  });
});

test.describe("with serialization: 'store' and Keyv's serializer off (objects in memory)", () => {
  let server: RedisServer;
  test.beforeAll(async () => {
    server = await RedisServer.start();
  });
  test.afterAll(async () => {
    await server.stop();
  });
  // Keyv as the fast mode is set up: no serializer; a test that brings its own still gets it.
  class ObjectKeyv extends Keyv {
    constructor(options: ConstructorParameters<typeof Keyv>[0] = {}) {
      // Keyv's types say `serialize?: Serialize`; `undefined` is how Keyv itself documents turning it off.
      const off = { serialize: undefined, deserialize: undefined } as unknown as ConstructorParameters<typeof Keyv>[0];
      super({ ...off, ...options });
    }
  }
  const factory = () => track(new TieredStore({ primary: server.url, serialization: 'store' }));
  // One suite test brings its own serializer (json-bigint) to Keyv. This mode exists to take
  // serialization away from Keyv; a custom serializer needs `serialization: 'keyv'`, where that test
  // passes (above). Every other test of the suite runs.
  const incompatible = new Set(['value can be BigInt using other serializer/deserializer']);
  const suiteApi = {
    ...test,
    it: Object.assign(
      (name: string, fn: Parameters<typeof test.it>[1]) => (incompatible.has(name) ? test.it.skip : test.it)(name, fn),
      test.it,
    ),
  } as typeof test;
  keyvTestSuite(suiteApi, ObjectKeyv as typeof Keyv, factory);
  keyvIteratorTests(suiteApi, ObjectKeyv as typeof Keyv, factory);
});

unreachableConformance(
  'with the primary unreachable from the start (fallback only)',
  'redis://127.0.0.1:1',
  track,
  (stats, expect) => {
    expect(stats.degradedWrites).toBe(1);
    // The set waited for the first connection attempt and failed; that opened the breaker, so the
    // get did not try the primary at all.
    expect(stats.primaryFailures).toBe(1);
    expect(stats.shortCircuits).toBe(1);
    expect(stats.circuit).not.toBe('closed');
  },
);
