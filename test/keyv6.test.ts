import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import KeyvRedis, { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import Keyv6 from 'keyv6';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryTier, TieredStore, type TieredStoreOptions } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

// TieredStore under Keyv 6 (keyv 6.1, installed as the `keyv6` alias), through `new Keyv6({ store,
// namespace })`. Keyv 6's conformance suite is not on npm: it lives in the keyv repository under
// core/test-suite (storageTestSuite: basic, batch, iterator, TTL, namespace, disconnect; then
// keyvTestSuite: API, values, namespaces; keyvIteratorTests). Every case it checks is written again
// here, in our own words and usually with more asserted, and run against a real redis-server and
// with Redis unreachable from the start. Then what only a Redis-backed store has to show under
// Keyv 6: the key layout it writes, plain Keyv 6 + @keyv/redis on the same keys, Keyv 5's layout
// for a rolling upgrade, the fast memory mode, and outages with and without an `error` listener.
//
// Keyv 6 turns every store rejection into an `error` event and, when nobody listens, into a
// rejection of the call: no Keyv 6 instance below has a listener unless the test says so, so any
// rejection of the store fails the test it happens in.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const word = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;
/** A namespace no other test uses: tests share one redis-server (and, unreachable, one memory tier). */
const freshNamespace = () => word('ns');

type Keyv6Options = NonNullable<ConstructorParameters<typeof Keyv6>[0]>;

/** `new Keyv6({ store, ...options })`: Keyv 6 adopts the store (it reads `capabilities`). */
function keyv6(store: object, options: Record<string, unknown> = {}): Keyv6 {
  return new Keyv6({ ...options, store } as unknown as Keyv6Options);
}

const stores: TieredStore[] = [];
function track(store: TieredStore): TieredStore {
  stores.push(store);
  return store;
}
afterAll(async () => {
  await Promise.all(stores.map((store) => store.disconnect()));
});

/** How one configuration builds stores and the Keyv 6 instances over them. */
interface Setup {
  /** A fresh store, not yet adopted by any Keyv. */
  store(): TieredStore;
  /** Keyv 6 options besides `store` and `namespace` (the fast mode's `serialization: false`). */
  keyvOptions?: Record<string, unknown>;
}

/** A store adopted by Keyv 6 under a namespace of its own (`null`: under none, Keyv 6's default). */
function adopted(setup: Setup, namespace: string | null = freshNamespace()): { store: TieredStore; keyv: Keyv6 } {
  const store = setup.store();
  const keyv = keyv6(store, { ...setup.keyvOptions, namespace: namespace ?? undefined });
  return { store, keyv };
}

// ---- the storage contract (the suite's storageTestSuite), on the store Keyv 6 adopted ---------------

function storageCases(setup: Setup): void {
  describe('storage: basic', () => {
    it('a value set is the value read back, under the v6 contract', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(store.keyvMajor).toBe(6);
      const key = word('k');
      expect(await store.set(key, 'a sentence, with "quotes"')).toBe(true);
      expect(await store.get(key)).toBe('a sentence, with "quotes"');
    });

    it('a key never set reads undefined (not null)', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(await store.get(word('k'))).toBeUndefined();
    });

    it('delete of a stored key resolves true, and the key is gone', async ({ expect }) => {
      const { store } = adopted(setup);
      const key = word('k');
      await store.set(key, 'v');
      expect(await store.delete(key)).toBe(true);
      expect(await store.get(key)).toBeUndefined();
    });

    it('delete of a key that is not there resolves false', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(await store.delete(word('k'))).toBe(false);
    });

    it('has: true for a stored key, false for an absent one, false again once deleted', async ({ expect }) => {
      const { store } = adopted(setup);
      const key = word('k');
      expect(await store.has(key)).toBe(false);
      await store.set(key, 'v');
      expect(await store.has(key)).toBe(true);
      await store.delete(key);
      expect(await store.has(key)).toBe(false);
    });

    it("clear removes every key of the namespace, and only the namespace's", async ({ expect }) => {
      const { store } = adopted(setup);
      const { store: other } = adopted(setup);
      const [a, b] = [word('k'), word('k')];
      await store.set(a, 'a');
      await store.set(b, 'b');
      await other.set(a, 'other');
      await store.clear();
      expect(await store.get(a)).toBeUndefined();
      expect(await store.get(b)).toBeUndefined();
      expect(await other.get(a)).toBe('other');
    });
  });

  describe('storage: batch', () => {
    it('setMany writes every entry, each readable on its own', async ({ expect }) => {
      const { store } = adopted(setup);
      const keys = [word('k'), word('k'), word('k')];
      expect(await store.setMany(keys.map((key, i) => ({ key, value: `v${i}` })))).toEqual([true, true, true]);
      for (const [i, key] of keys.entries()) expect(await store.get(key)).toBe(`v${i}`);
    });

    it('setMany of nothing resolves an empty array', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(await store.setMany([])).toEqual([]);
    });

    it('getMany answers in the order asked, undefined where absent', async ({ expect }) => {
      const { store } = adopted(setup);
      const [a, b, missing] = [word('k'), word('k'), word('k')];
      await store.set(a, 'A');
      await store.set(b, 'B');
      expect(await store.getMany([b, missing, a])).toEqual(['B', undefined, 'A']);
      expect(await store.getMany([missing, word('k')])).toEqual([undefined, undefined]);
    });

    it('getMany of nothing resolves an empty array', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(await store.getMany([])).toEqual([]);
    });

    it('hasMany answers one boolean per key, in order', async ({ expect }) => {
      const { store } = adopted(setup);
      const [a, b, missing] = [word('k'), word('k'), word('k')];
      await store.set(a, 'A');
      await store.set(b, 'B');
      expect(await store.hasMany([a, missing, b])).toEqual([true, false, true]);
    });

    it('hasMany of nothing resolves an empty array', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(await store.hasMany([])).toEqual([]);
    });

    it('deleteMany answers per key under Keyv 6 (boolean[], not one boolean) and deletes them', async ({ expect }) => {
      const { store } = adopted(setup);
      const [a, b, missing] = [word('k'), word('k'), word('k')];
      await store.set(a, 'A');
      await store.set(b, 'B');
      expect(await store.deleteMany([a, missing, b])).toEqual([true, false, true]);
      expect(await store.getMany([a, b])).toEqual([undefined, undefined]);
    });

    it('deleteMany of absent keys answers false for each', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(await store.deleteMany([word('k'), word('k')])).toEqual([false, false]);
    });

    it('deleteMany of nothing resolves an empty array', async ({ expect }) => {
      const { store } = adopted(setup);
      expect(await store.deleteMany([])).toEqual([]);
    });
  });

  describe('storage: iterator', () => {
    it('iterator() takes no argument and returns an async iterator', async ({ expect }) => {
      const { store } = adopted(setup);
      const iterator = store.iterator();
      expect(typeof iterator[Symbol.asyncIterator]).toBe('function');
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    });

    it('iterator() yields every pair of the namespace, with the keys as Keyv handed them', async ({ expect }) => {
      const { store } = adopted(setup);
      const written = new Map([0, 1, 2].map((i) => [word('k'), `v${i}`] as const));
      for (const [key, value] of written) await store.set(key, value);
      const seen = new Map<string, unknown>();
      for await (const [key, value] of store.iterator()) seen.set(key, value);
      expect(seen).toEqual(written);
    });

    it('iterator() under a namespace yields none of the keys written without one', async ({ expect }) => {
      // Keyv 6 assigns the namespace to the store: first none, then one.
      const { store } = adopted(setup, null);
      expect(store.namespace).toBeUndefined();
      const bare = word('bare');
      await store.set(bare, 'outside');
      store.namespace = freshNamespace();
      const [a, b] = [word('k'), word('k')];
      await store.set(a, 'A');
      await store.set(b, 'B');
      const seen = new Map<string, unknown>();
      for await (const [key, value] of store.iterator()) seen.set(key, value);
      expect(seen).toEqual(
        new Map([
          [a, 'A'],
          [b, 'B'],
        ]),
      );
    });

    it('iterator() over an empty namespace yields nothing', async ({ expect }) => {
      const { store } = adopted(setup);
      const seen: unknown[] = [];
      for await (const entry of store.iterator()) seen.push(entry);
      expect(seen).toEqual([]);
    });
  });

  describe('storage: TTL (absolute expires)', () => {
    // As in the suite: 300 ms to live, checked 600 ms later; the connection is warmed first.
    const TTL = 300;
    const WAIT = 600;

    it('set(key, value, expires) is readable until the expiry, then gone', async ({ expect }) => {
      const { store } = adopted(setup);
      await store.get(word('warm'));
      const key = word('k');
      expect(await store.set(key, 'short', Date.now() + TTL)).toBe(true);
      expect(await store.get(key)).toBe('short');
      await sleep(WAIT);
      expect(await store.get(key)).toBeUndefined();
    });

    it('an expiry already past is accepted, and the entry does not live on', async ({ expect }) => {
      const { store } = adopted(setup);
      // Redis refuses PX 0 or a negative PX: the store must not pass one, nor drop the TTL.
      const key = word('k');
      expect(await store.set(key, 'x', Date.now() - TTL)).toBe(true);
      await sleep(WAIT);
      expect(await store.get(key)).toBeUndefined();
    });

    it('has is false once the key expired', async ({ expect }) => {
      const { store } = adopted(setup);
      const key = word('k');
      await store.set(key, 'short', Date.now() + TTL);
      await sleep(WAIT);
      expect(await store.has(key)).toBe(false);
    });

    it("setMany honours each entry's own expires, and none where there is none", async ({ expect }) => {
      const { store } = adopted(setup);
      await store.get(word('warm'));
      const [short, forever] = [word('k'), word('k')];
      expect(
        await store.setMany([
          { key: short, value: 'short', expires: Date.now() + TTL },
          { key: forever, value: 'forever' },
        ]),
      ).toEqual([true, true]);
      expect(await store.getMany([short, forever])).toEqual(['short', 'forever']);
      await sleep(WAIT);
      expect(await store.getMany([short, forever])).toEqual([undefined, 'forever']);
    });
  });

  describe('storage: namespace and disconnect', () => {
    it('namespace: undefined as Keyv 6 adopts it without one, then what is assigned, then undefined again', ({
      expect,
    }) => {
      const { store } = adopted(setup, null);
      expect(store.namespace).toBeUndefined();
      store.namespace = 'test-ns';
      expect(store.namespace).toBe('test-ns');
      store.namespace = undefined;
      expect(store.namespace).toBeUndefined();
    });

    it("Keyv 6's namespace reaches the store, and a later change too", ({ expect }) => {
      const { store, keyv } = adopted(setup, 'first');
      expect(store.namespace).toBe('first');
      keyv.namespace = 'second';
      expect(store.namespace).toBe('second');
    });

    it('disconnect() resolves, on the store and through Keyv 6', async ({ expect }) => {
      const { store, keyv } = adopted(setup);
      await expect(keyv.disconnect()).resolves.toBeUndefined();
      await expect(store.disconnect()).resolves.toBeUndefined();
    });
  });
}

// ---- through Keyv 6 (the suite's keyvTestSuite and keyvIteratorTests) ------------------------------

/** A BigInt-safe serializer of our own (the suite brings json-bigint): `{"$bigint":"..."}`. */
const bigintSerializer = {
  stringify: (data: unknown) =>
    JSON.stringify(data, (_key, value: unknown) => (typeof value === 'bigint' ? { $bigint: value.toString() } : value)),
  parse: <T>(text: string): T =>
    JSON.parse(text, (_key, value: unknown) =>
      value !== null && typeof value === 'object' && '$bigint' in value
        ? BigInt((value as { $bigint: string }).$bigint)
        : value,
    ) as T,
};

const BIGINT_CASE = 'value can be a BigInt with a serializer of its own';

function keyvCases(setup: Setup, skip: ReadonlySet<string> = new Set()): void {
  const keyvIn = (namespace = freshNamespace(), options: Record<string, unknown> = {}) =>
    keyv6(setup.store(), { ...setup.keyvOptions, namespace, ...options });
  const maybe = (name: string) => (skip.has(name) ? it.skip : it);

  describe('Keyv API', () => {
    it('set, get and delete return promises', async ({ expect }) => {
      const keyv = keyvIn();
      const key = word('k');
      const setting = keyv.set(key, 'v');
      expect(setting).toBeInstanceOf(Promise);
      await setting;
      const getting = keyv.get(key);
      expect(getting).toBeInstanceOf(Promise);
      await getting;
      const deleting = keyv.delete(key);
      const deletingMany = keyv.delete([key]);
      expect(deleting).toBeInstanceOf(Promise);
      expect(deletingMany).toBeInstanceOf(Promise);
      await Promise.all([deleting, deletingMany]);
    });

    it('set resolves true, and get then resolves the value', async ({ expect }) => {
      const keyv = keyvIn();
      const key = word('k');
      expect(await keyv.set(key, 'a sentence.')).toBe(true);
      expect(await keyv.get(key)).toBe('a sentence.');
    });

    it('set with a TTL: the value lives that long, then reads undefined', async ({ expect }) => {
      const keyv = keyvIn();
      const key = word('k');
      await keyv.set(key, 'brief', 1_000);
      expect(await keyv.get(key)).toBe('brief');
      await sleep(1_100);
      expect(await keyv.get(key)).toBeUndefined();
    });

    it('get of an absent key resolves undefined', async ({ expect }) => {
      expect(await keyvIn().get(word('k'))).toBeUndefined();
    });

    it('get([keys]) resolves the values in order, undefined where absent', async ({ expect }) => {
      const keyv = keyvIn();
      const [a, missing, c] = [word('k'), word('k'), word('k')];
      await keyv.set(a, 'A', 3_000);
      await keyv.set(c, 'C', 3_000);
      expect(await keyv.get([a, missing, c])).toEqual(['A', undefined, 'C']);
      expect(await keyv.get([word('k'), word('k'), word('k')])).toEqual([undefined, undefined, undefined]);
    });

    it('get([keys]): the entry whose TTL ran out reads undefined, the others still read', async ({ expect }) => {
      const keyv = keyvIn();
      const [a, brief, c] = [word('k'), word('k'), word('k')];
      await keyv.set(a, 'A');
      await keyv.set(brief, 'B', 1_000);
      await keyv.set(c, 'C');
      await sleep(1_100);
      expect(await keyv.get([a, brief, c])).toEqual(['A', undefined, 'C']);
    });

    it('delete: true for a stored key (then gone), false for an absent one', async ({ expect }) => {
      const keyv = keyvIn();
      const key = word('k');
      await keyv.set(key, 'v');
      expect(await keyv.delete(key)).toBe(true);
      expect(await keyv.get(key)).toBeUndefined();
      expect(await keyv.delete(key)).toBe(false);
    });

    it('delete([keys]) resolves one boolean per key and deletes them', async ({ expect }) => {
      const keyv = keyvIn();
      const keys = [word('k'), word('k'), word('k')];
      for (const key of keys) await keyv.set(key, key);
      expect(await keyv.delete([keys[0] as string, word('absent'), keys[2] as string])).toEqual([true, false, true]);
      expect(await keyv.delete(keys)).toEqual([false, true, false]);
      expect(await keyv.get(keys)).toEqual([undefined, undefined, undefined]);
    });

    it('delete([absent keys]) resolves an array of false', async ({ expect }) => {
      expect(await keyvIn().delete([word('k'), word('k'), word('k')])).toEqual([false, false, false]);
    });

    it('clear returns a promise of undefined, empty or not, and removes every key', async ({ expect }) => {
      const keyv = keyvIn();
      const clearing = keyv.clear();
      expect(clearing).toBeInstanceOf(Promise);
      expect(await clearing).toBeUndefined();
      const [a, b] = [word('k'), word('k')];
      await keyv.set(a, 'A');
      await keyv.set(b, 'B');
      expect(await keyv.clear()).toBeUndefined();
      expect(await keyv.get([a, b])).toEqual([undefined, undefined]);
    });

    it('has: true for a stored key, false for an absent one', async ({ expect }) => {
      const keyv = keyvIn();
      const key = word('k');
      await keyv.set(key, 'v');
      expect(await keyv.has(key)).toBe(true);
      expect(await keyv.has(word('k'))).toBe(false);
      expect(await keyv.has([key, word('k')])).toEqual([true, false]);
    });
  });

  describe('values', () => {
    const roundTrips: Array<[string, unknown]> = [
      ['false', false],
      ['null', null],
      ['0', 0],
      ['an object', { fizz: 'buzz', nested: { list: [1, 'two', { three: 3 }] } }],
      ['a string', 'a sentence.'],
      ['a string of one double quote', '"'],
      ['a string of one single quote', "'"],
      ['a string of two single quotes', "''"],
      ['a string starting with a colon (Keyv escapes it)', ':base64:not really'],
    ];
    for (const [name, value] of roundTrips) {
      it(`value can be ${name}`, async ({ expect }) => {
        const keyv = keyvIn();
        const key = word('k');
        expect(await keyv.set(key, value)).toBe(true);
        expect(await keyv.get(key)).toEqual(value);
      });
    }

    it('value can be undefined (reads undefined)', async ({ expect }) => {
      const keyv = keyvIn();
      const key = word('k');
      expect(await keyv.set(key, undefined)).toBe(true);
      expect(await keyv.get(key)).toBeUndefined();
    });

    it('value can be a Buffer, alone or inside an object', async ({ expect }) => {
      const keyv = keyvIn();
      const [alone, inside] = [word('k'), word('k')];
      await keyv.set(alone, Buffer.from('bar'));
      await keyv.set(inside, { buff: Buffer.from('buzz') });
      const got = await keyv.get(alone);
      expect(Buffer.isBuffer(got)).toBe(true);
      expect(Buffer.from('bar').equals(got as Buffer)).toBe(true);
      expect(await keyv.get(inside)).toEqual({ buff: Buffer.from('buzz') });
    });

    it('a symbol is refused: set resolves false (with an error listener), nothing is stored', async ({ expect }) => {
      const keyv = keyvIn();
      const errors: unknown[] = [];
      keyv.on('error', (error: unknown) => errors.push(error));
      const key = word('k');
      expect(await keyv.set(key, Symbol('value'))).toBe(false);
      expect(errors).toHaveLength(1);
      expect(await keyv.get(key)).toBeUndefined();
    });

    maybe(BIGINT_CASE)(BIGINT_CASE, async ({ expect }) => {
      const keyv = keyvIn(freshNamespace(), { serialization: bigintSerializer });
      const key = word('k');
      expect(await keyv.set(key, 9_223_372_036_854_775_807n)).toBe(true);
      expect(await keyv.get(key)).toBe(9_223_372_036_854_775_807n);
    });

    it('a key of one single quote', async ({ expect }) => {
      const keyv = keyvIn();
      expect(await keyv.set("'", "'")).toBe(true);
      expect(await keyv.get("'")).toBe("'");
    });
  });

  describe('namespaces', () => {
    it("two namespaces' values for one key do not collide", async ({ expect }) => {
      const [one, two] = [keyvIn(), keyvIn()];
      const key = word('k');
      await one.set(key, 'one');
      await two.set(key, 'two');
      expect(await one.get(key)).toBe('one');
      expect(await two.get(key)).toBe('two');
    });

    it('a delete in one namespace leaves the other alone', async ({ expect }) => {
      const [one, two] = [keyvIn(), keyvIn()];
      const key = word('k');
      await one.set(key, 'one');
      await two.set(key, 'two');
      expect(await one.delete(key)).toBe(true);
      expect(await one.get(key)).toBeUndefined();
      expect(await two.get(key)).toBe('two');
    });

    it('a clear in one namespace leaves the other alone', async ({ expect }) => {
      const [one, two] = [keyvIn(), keyvIn()];
      const [a, b] = [word('k'), word('k')];
      for (const keyv of [one, two]) for (const key of [a, b]) await keyv.set(key, keyv === one ? 'one' : 'two');
      await one.clear();
      expect(await one.get([a, b])).toEqual([undefined, undefined]);
      expect(await two.get([a, b])).toEqual(['two', 'two']);
    });
  });

  describe('Keyv iterator', () => {
    it('iterator() returns an async iterator', ({ expect }) => {
      expect(typeof keyvIn().iterator()[Symbol.asyncIterator]).toBe('function');
    });

    it('iterator() yields every value of the namespace once', async ({ expect }) => {
      const keyv = keyvIn();
      const written = new Map(Array.from({ length: 5 }, (_, i) => [String(i), String(i + 10)] as const));
      await Promise.all([...written].map(([key, value]) => keyv.set(key, value)));
      const seen: Array<[unknown, unknown]> = [];
      for await (const entry of keyv.iterator()) seen.push(entry as [unknown, unknown]);
      expect(new Map(seen)).toEqual(written);
      expect(seen).toHaveLength(written.size);
    });

    it('iterator() of one namespace yields nothing of another sharing the store', async ({ expect }) => {
      // One store object handed to two Keyv instances, one after the other, as the suite does:
      // Keyv 6 reassigns the store's namespace to the second (so one store per Keyv in real use).
      const store = setup.store();
      const [ns1, ns2] = [freshNamespace(), freshNamespace()];
      const first = keyv6(store, { ...setup.keyvOptions, namespace: ns1 });
      await Promise.all([0, 1, 2, 3, 4].map((i) => first.set(String(i), `first:${i}`)));
      const second = keyv6(store, { ...setup.keyvOptions, namespace: ns2 });
      await Promise.all([0, 1, 2, 3, 4].map((i) => second.set(String(i), `second:${i}`)));
      const seen = new Map<unknown, unknown>();
      for await (const [key, value] of second.iterator()) seen.set(key, value);
      expect(seen).toEqual(new Map([0, 1, 2, 3, 4].map((i) => [String(i), `second:${i}`])));
      // The first namespace's values are still there, under the first namespace.
      const reader = keyv6(setup.store(), { ...setup.keyvOptions, namespace: ns1 });
      expect(await reader.get(['0', '4'])).toEqual(['first:0', 'first:4']);
    });

    it('iterator() yields no expired value', async ({ expect }) => {
      const keyv = keyvIn();
      const brief = [0, 1, 2, 3, 4].map(() => word('brief'));
      for (const key of brief) await keyv.set(key, `short-lived ${key}`, 100);
      const lasting = word('lasting');
      await keyv.set(lasting, 'lasting');
      await sleep(300);
      const seen: Array<[unknown, unknown]> = [];
      for await (const entry of keyv.iterator()) seen.push(entry as [unknown, unknown]);
      expect(seen).toEqual([[lasting, 'lasting']]);
      expect(await keyv.get(brief)).toEqual(brief.map(() => undefined));
    });
  });
}

// ---- the configurations --------------------------------------------------------------------------

describe.concurrent('Keyv 6 with a real redis-server primary', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });
  const setup: Setup = { store: () => track(new TieredStore({ primary: server.url })) };
  storageCases(setup);
  keyvCases(setup);

  it('really went through Redis (the primary answered, not memory)', async ({ expect }) => {
    const store = setup.store();
    const keyv = keyv6(store, { namespace: freshNamespace() });
    await keyv.set('probe', 'x');
    expect(await keyv.get('probe')).toBe('x');
    const stats = store.stats();
    expect(stats.hits.primary).toBe(1);
    expect(stats.hits.memory).toBe(0);
    expect(stats.primaryFailures).toBe(0);
    expect(stats.fallbackServes).toBe(0);
  });
});

describe.concurrent('Keyv 6 with the primary unreachable from the start (memory alone)', () => {
  // Port 1: nothing listens there, and no other test's redis-server can start on it meanwhile.
  // One memory tier shared by every store, as one process would share it.
  const shared = new MemoryTier({ max: 10_000 });
  const setup: Setup = {
    store: () =>
      track(
        new TieredStore({
          primary: 'redis://127.0.0.1:1',
          fallback: shared,
          fallbackWritesSucceed: true,
          connectTimeoutMs: 200,
        }),
      ),
  };
  storageCases(setup);
  keyvCases(setup);

  it('answered from memory only, and counted the failure', async ({ expect }) => {
    const store = setup.store();
    const keyv = keyv6(store, { namespace: freshNamespace() });
    expect(await keyv.set('probe', 'y')).toBe(true);
    expect(await keyv.get('probe')).toBe('y');
    const stats = store.stats();
    expect(stats.hits.primary).toBe(0);
    expect(stats.degradedWrites).toBe(1);
    expect(stats.fallbackServes).toBe(1);
    expect(stats.primaryFailures).toBeGreaterThanOrEqual(1);
  });
});

// ---- what Redis holds, and who else reads it ------------------------------------------------------

describe('key layout under Keyv 6, next to plain Keyv 6 and Keyv 5 + @keyv/redis', () => {
  let server: RedisServer;
  let redis: ReturnType<typeof createClient>;
  const plainStores: KeyvRedis<unknown>[] = [];
  const plain = () => {
    const store = new KeyvRedis(server.url);
    plainStores.push(store);
    return store;
  };
  const tiered = (options: Partial<TieredStoreOptions> = {}) =>
    track(new TieredStore({ primary: server.url, ...options }));
  /** The keys Redis holds that start with `prefix`, sorted. */
  const keysIn = async (prefix: string) => (await redis.keys(`${prefix}*`)).map(String).sort();
  /** The application value in Keyv's envelope at a physical key, or undefined. */
  const envelopeAt = async (physical: string) => {
    const raw = await redis.get(physical);
    return raw === null ? undefined : (JSON.parse(String(raw)) as { value: unknown; expires?: number | null });
  };

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = createClient({ url: server.url });
    await redis.connect();
  });
  afterAll(async () => {
    await Promise.all(plainStores.map((store) => store.disconnect().catch(() => {})));
    await redis.close();
    await server.stop();
  });

  it("Redis holds Keyv 6's layout ns::key, with Keyv's envelope and its expiry as the key's TTL", async () => {
    const namespace = freshNamespace();
    const keyv = keyv6(tiered(), { namespace });
    const before = Date.now();
    await keyv.set('user:1', { name: 'Ada' }, 60_000);
    expect(await keysIn(namespace)).toEqual([`${namespace}::user:1`]);
    const envelope = await envelopeAt(`${namespace}::user:1`);
    expect(envelope?.value).toEqual({ name: 'Ada' });
    // The absolute expiry Keyv 6 computed, and Redis's TTL agreeing with it.
    expect(envelope?.expires).toBeGreaterThanOrEqual(before + 60_000);
    expect(envelope?.expires).toBeLessThanOrEqual(Date.now() + 60_000);
    const pttl = await redis.pTTL(`${namespace}::user:1`);
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('without a namespace (Keyv 6 has none by default) the key is bare, as plain Keyv 6 writes it', async () => {
    const key = word('bare');
    const keyv = keyv6(tiered());
    await keyv.set(key, 'ours');
    expect(await envelopeAt(key)).toEqual({ value: 'ours' });
    const plainKeyv = keyv6(plain());
    expect(await plainKeyv.get(key)).toBe('ours');
    await plainKeyv.set(`${key}:plain`, 'theirs');
    expect(await keyv.get(`${key}:plain`)).toBe('theirs');
  });

  it('namespace-less clear() and iterator() refuse (NamespaceRequiredError), delete nothing, and reject only without a listener', async () => {
    const key = word('bare');
    const keyv = keyv6(tiered());
    await keyv.set(key, 'kept');
    await expect(keyv.clear()).rejects.toMatchObject({ name: 'NamespaceRequiredError', code: 'E_NAMESPACE_REQUIRED' });
    await expect(keyv.iterator().next()).rejects.toMatchObject({ code: 'E_NAMESPACE_REQUIRED' });
    const errors: unknown[] = [];
    keyv.on('error', (error: unknown) => errors.push(error));
    await expect(keyv.clear()).resolves.toBeUndefined();
    expect(errors).toMatchObject([{ code: 'E_NAMESPACE_REQUIRED' }]);
    expect(await envelopeAt(key)).toEqual({ value: 'kept' });
  });

  it('plain Keyv 6 + @keyv/redis reads what the store wrote, and the store reads what it wrote', async () => {
    const namespace = freshNamespace();
    const ours = keyv6(tiered(), { namespace });
    const theirs = keyv6(plain(), { namespace });
    await ours.set('a', { n: 1 }, 60_000);
    await ours.setMany<unknown>([
      { key: 'b', value: [1, 2] },
      { key: 'c', value: Buffer.from('c') },
    ]);
    await theirs.set('d', 'theirs', 60_000);
    await theirs.set('e', { deep: { e: true } });
    expect(await keysIn(namespace)).toEqual(['a', 'b', 'c', 'd', 'e'].map((k) => `${namespace}::${k}`));
    expect(await theirs.get(['a', 'b', 'c'])).toEqual([{ n: 1 }, [1, 2], Buffer.from('c')]);
    expect(await ours.get(['d', 'e', 'missing'])).toEqual(['theirs', { deep: { e: true } }, undefined]);
    expect(await redis.pTTL(`${namespace}::d`)).toBeGreaterThan(59_000);
    // Deletes cross too.
    expect(await ours.delete('d')).toBe(true);
    expect(await theirs.get('d')).toBeUndefined();
    expect(await theirs.delete('a')).toBe(true);
    expect(await ours.get('a')).toBeUndefined();
    // The store iterates their keys, bare, and its clear takes them.
    const seen = new Map<unknown, unknown>();
    for await (const [key, value] of ours.iterator()) seen.set(key, value);
    expect([...seen.keys()].sort()).toEqual(['b', 'c', 'e']);
    await ours.clear();
    expect(await keysIn(namespace)).toEqual([]);
    expect(await theirs.get('e')).toBeUndefined();
  });

  it("keyLayout: 'keyv5' reads and writes Keyv 5's ns::ns:key, so plain Keyv 5 + @keyv/redis and the store share keys", async () => {
    const namespace = freshNamespace();
    const store = tiered({ keyLayout: 'keyv5' });
    const ours = keyv6(store, { namespace });
    const keyv5 = new Keyv({ store: plain(), namespace });
    await ours.set('a', { from: 6 }, 60_000);
    await ours.setMany([{ key: 'b', value: 'six' }]);
    await keyv5.set('c', { from: 5 }, 60_000);
    expect(await keysIn(namespace)).toEqual(['a', 'b', 'c'].map((k) => `${namespace}::${namespace}:${k}`));
    expect(await keyv5.get(['a', 'b'])).toEqual([{ from: 6 }, 'six']);
    expect(await ours.get(['c', 'missing'])).toEqual([{ from: 5 }, undefined]);
    expect(await ours.has('c')).toBe(true);
    expect(await redis.pTTL(`${namespace}::${namespace}:a`)).toBeGreaterThan(59_000);
    expect(await keyv5.delete('a')).toBe(true);
    expect(await ours.get('a')).toBeUndefined();
    expect(await ours.delete(['c', 'missing'])).toEqual([true, false]);
    expect(await keyv5.get('c')).toBeUndefined();
    // Iteration yields the keys as Keyv 6 knows them (bare), and clear takes only Keyv 5's layout
    // of this namespace: a native-layout key of the same namespace is not provably ours.
    await redis.set(`${namespace}::native`, JSON.stringify({ value: 'not ours' }));
    const seen = new Map<unknown, unknown>();
    for await (const [key, value] of ours.iterator()) seen.set(key, value);
    expect(seen).toEqual(new Map([['b', 'six']]));
    await ours.clear();
    expect(await keysIn(namespace)).toEqual([`${namespace}::native`]);
  });

  it("keyLayout: 'keyv5' with namespace 'keyv' shares the keys of a Keyv 5 fleet that never set a namespace", async () => {
    const key = word('k');
    const keyv5 = new Keyv({ store: plain() });
    await keyv5.set(key, 'from keyv 5');
    expect(await envelopeAt(`keyv::keyv:${key}`)).toMatchObject({ value: 'from keyv 5' });
    const ours = keyv6(tiered({ keyLayout: 'keyv5' }), { namespace: 'keyv' });
    expect(await ours.get(key)).toBe('from keyv 5');
    await ours.set(key, 'from keyv 6');
    expect(await keyv5.get(key)).toBe('from keyv 6');
  });

  it("without keyLayout: 'keyv5', Keyv 5 and Keyv 6 do not see each other's keys (the upgrade hazard)", async () => {
    const namespace = freshNamespace();
    const ours = keyv6(tiered(), { namespace });
    const keyv5 = new Keyv({ store: plain(), namespace });
    await keyv5.set('shared', 'five');
    await ours.set('shared', 'six');
    expect(await keysIn(namespace)).toEqual([`${namespace}::${namespace}:shared`, `${namespace}::shared`]);
    expect(await keyv5.get('shared')).toBe('five');
    expect(await ours.get('shared')).toBe('six');
    expect(await ours.delete('shared')).toBe(true);
    expect(await keyv5.get('shared')).toBe('five');
  });

  it('keyvMajor: undefined until a Keyv adopts the store, then the major that did', () => {
    const five = tiered();
    const six = tiered();
    expect([five.keyvMajor, six.keyvMajor]).toEqual([undefined, undefined]);
    new Keyv({ store: five });
    keyv6(six);
    expect([five.keyvMajor, six.keyvMajor]).toEqual([5, 6]);
  });
});

// ---- the fast memory mode ---------------------------------------------------------------------------

describe.concurrent("Keyv 6 fast mode: Keyv's serialization: false, the store's serialization: 'store'", () => {
  let server: RedisServer;
  let redis: ReturnType<typeof createClient>;
  const plainStores: KeyvRedis<unknown>[] = [];
  beforeAll(async () => {
    server = await RedisServer.start();
    redis = createClient({ url: server.url });
    await redis.connect();
  });
  afterAll(async () => {
    await Promise.all(plainStores.map((store) => store.disconnect().catch(() => {})));
    await redis.close();
    await server.stop();
  });
  const setup: Setup = {
    store: () => track(new TieredStore({ primary: server.url, serialization: 'store' })),
    keyvOptions: { serialization: false },
  };
  // Keyv's API through the fast mode; one case brings its own serializer to Keyv, which this mode
  // exists to take away from Keyv (a custom serializer needs `serialization: 'keyv'`, where that
  // case runs, above). The storage cases are the default mode's contract and ran above.
  keyvCases(setup, new Set([BIGINT_CASE]));

  const fast = (namespace: string) =>
    keyv6(track(new TieredStore({ primary: server.url, serialization: 'store', readPolicy: 'memory-first' })), {
      serialization: false,
      namespace,
    });
  const plain6 = (namespace: string) => {
    const store = new KeyvRedis(server.url);
    plainStores.push(store);
    return keyv6(store, { namespace });
  };
  const value = () => ({
    title: 'nested',
    list: [1, 'two', { three: [3, null, false] }],
    buffer: Buffer.from('bytes'),
    deep: { inner: { buffer: Buffer.from([0, 255]), colon: ':leading colon' } },
  });

  it("objects, Buffers and nested values round-trip; memory hands out one frozen copy; Redis holds Keyv's format", async ({
    expect,
  }) => {
    const namespace = freshNamespace();
    const keyv = fast(namespace);
    expect(await keyv.set('v', value(), 60_000)).toBe(true);
    const first = await keyv.get('v');
    expect(first).toEqual(value());
    expect(Object.isFrozen(first)).toBe(true);
    expect(await keyv.get('v')).toBe(first);
    // Keyv's JSON envelope, as its own serializer writes it (Buffers as :base64:, a leading colon escaped).
    const raw = JSON.parse(String(await redis.get(`${namespace}::v`))) as { value: Record<string, unknown> };
    expect(raw.value.buffer).toBe(`:base64:${Buffer.from('bytes').toString('base64')}`);
    expect((raw.value.deep as { inner: { colon: string } }).inner.colon).toBe('::leading colon');
    expect(await redis.pTTL(`${namespace}::v`)).toBeGreaterThan(59_000);
    // So plain Keyv 6 + @keyv/redis, with Keyv's default serializer, reads it exactly, and vice versa.
    const theirs = plain6(namespace);
    expect(await theirs.get('v')).toEqual(value());
    await theirs.set('w', value());
    const read = await keyv.get('w');
    expect(read).toEqual(value());
    expect(Buffer.isBuffer((read as { buffer: unknown }).buffer)).toBe(true);
  });

  it('a Buffer on its own round-trips', async ({ expect }) => {
    const keyv = fast(freshNamespace());
    await keyv.set('b', Buffer.from('bar'));
    const got = await keyv.get('b');
    expect(Buffer.isBuffer(got)).toBe(true);
    expect(Buffer.from('bar').equals(got as Buffer)).toBe(true);
  });

  it('TTLs: Keyv 6 expires the entry in memory and Redis expires the key', async ({ expect }) => {
    const namespace = freshNamespace();
    const keyv = fast(namespace);
    await keyv.set('warm', 1);
    await keyv.set('brief', { n: 1 }, 300);
    await keyv.setMany([
      { key: 'brief2', value: { n: 2 }, ttl: 300 },
      { key: 'lasting', value: { n: 3 } },
    ]);
    expect(await keyv.get(['brief', 'brief2', 'lasting'])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const pttl = await redis.pTTL(`${namespace}::brief`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(300);
    expect(await redis.pTTL(`${namespace}::lasting`)).toBe(-1);
    await sleep(600);
    expect(await keyv.get(['brief', 'brief2', 'lasting'])).toEqual([undefined, undefined, { n: 3 }]);
    expect(await redis.exists(`${namespace}::brief`)).toBe(0);
  });

  it("Keyv 5's recipe (serialize: undefined) does nothing under Keyv 6: it still serializes, so memory holds strings", async ({
    expect,
  }) => {
    const namespace = freshNamespace();
    const store = track(new TieredStore({ primary: server.url, serialization: 'store', readPolicy: 'memory-first' }));
    const keyv = keyv6(store, { namespace, serialize: undefined, deserialize: undefined });
    await keyv.set('v', { n: 1 });
    // Still correct (the store passes Keyv's string through; Redis holds Keyv's format)...
    expect(await keyv.get('v')).toEqual({ n: 1 });
    expect(JSON.parse(String(await redis.get(`${namespace}::v`)))).toEqual({ value: { n: 1 } });
    // ...but not the fast path: each hit is parsed again, a fresh unfrozen copy.
    const [a, b] = [await keyv.get('v'), await keyv.get('v')];
    expect(a).not.toBe(b);
    expect(Object.isFrozen(a)).toBe(false);
  });
});

// ---- outages under Keyv 6 -----------------------------------------------------------------------------

describe('outages of a real redis-server under Keyv 6, with and without an error listener', () => {
  const TIMEOUT_MS = 100;
  /** Scheduling slack on a shared 2-core machine (event-loop delay, not our code), as test/outage.test.ts. */
  const MARGIN_MS = 150;
  let server: RedisServer;
  let redis: ReturnType<typeof createClient> | undefined;
  let store: TieredStore | undefined;
  /** Worst call per scenario, for the log at the end. */
  const measured: string[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterEach(async () => {
    server.resume();
    await store?.disconnect();
    store = undefined;
    await redis?.close().catch(() => {});
    redis = undefined;
    if (!server.running) await server.restart();
  });
  afterAll(async () => {
    console.log(`Keyv 6 outage timings (deadline ${TIMEOUT_MS} ms): ${measured.join('; ')}`);
    await server.stop();
  });

  interface Outcome {
    call: string;
    status: 'fulfilled' | 'rejected';
    value?: unknown;
    reason?: unknown;
    ms: number;
  }

  async function timed(call: string, run: () => Promise<unknown>): Promise<Outcome> {
    const started = performance.now();
    try {
      const value = await run();
      return { call, status: 'fulfilled', value, ms: performance.now() - started };
    } catch (reason) {
      return { call, status: 'rejected', reason, ms: performance.now() - started };
    }
  }

  /** Keys of the namespace, each holding `v1:<key>` before the outage. */
  const READ = Array.from({ length: 12 }, (_, i) => `read:${i}`);
  const UPDATE = ['update:0', 'update:1', 'update:2', 'update:3'];
  const DELETE = ['delete:0', 'delete:1', 'delete:2'];

  /**
   * Every Keyv 6 entry point at once (and the store's has/hasMany, which Keyv 6 does not call),
   * on disjoint keys so that each answer is known: reads of READ, writes tagged `tag` to UPDATE and
   * to new keys, deletes of DELETE, and a full iteration.
   */
  function battery(keyv: Keyv6, s: TieredStore, tag: string): Array<Promise<Outcome>> {
    const read = (i: number) => READ[i] as string;
    const [u0, u1, u2, u3] = UPDATE as [string, string, string, string];
    const [d0, d1, d2] = DELETE as [string, string, string];
    const iterate = async () => {
      const seen: Array<[unknown, unknown]> = [];
      for await (const entry of keyv.iterator()) seen.push(entry as [unknown, unknown]);
      return seen;
    };
    return [
      ...[0, 1, 2, 3, 4].map((i) => timed('get', () => keyv.get(read(i)))),
      timed('get([keys])', () => keyv.get([read(5), read(6)])),
      timed('has', () => keyv.has(read(7))),
      timed('has([keys])', () => keyv.has([read(8), read(9)])),
      timed('store.has', () => s.has(read(10))),
      timed('store.hasMany', () => s.hasMany([read(11)])),
      timed('set', () => keyv.set(u0, `${tag}:${u0}`, 60_000)),
      timed('set', () => keyv.set(u1, `${tag}:${u1}`)),
      timed('setMany', () =>
        keyv.setMany([
          { key: u2, value: `${tag}:${u2}`, ttl: 60_000 },
          { key: u3, value: `${tag}:${u3}` },
        ]),
      ),
      timed('set (new key)', () => keyv.set(`new:${tag}`, `${tag}:new`)),
      timed('delete', () => keyv.delete(d0)),
      timed('delete([keys])', () => keyv.delete([d1, d2])),
      timed('iterator', iterate),
    ];
  }

  /** Records every event the store emits (its own `emit`, so background paths are seen too). */
  function spyOnEmit(s: TieredStore): () => string[] {
    const spy = vi.spyOn(s as unknown as { emit(event: string, ...args: unknown[]): boolean }, 'emit');
    return () => spy.mock.calls.map(([event]) => event);
  }

  const worst = (outcomes: Outcome[]) => Math.max(...outcomes.map((o) => o.ms));

  function expectNoneRejectedAndBounded(outcomes: Outcome[], label: string): void {
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(
      rejected.map((o) => `${o.call}: ${String(o.reason)}`),
      `${label}: rejected calls`,
    ).toEqual([]);
    const slow = outcomes.filter((o) => o.ms >= TIMEOUT_MS + MARGIN_MS);
    expect(
      slow.map((o) => `${o.call}: ${Math.round(o.ms)} ms`),
      `${label}: calls past the deadline + margin`,
    ).toEqual([]);
  }

  /** What memory answers while Redis is away: the v1 copies, and false for every write and delete. */
  function expectMemoryAnswers(outcomes: Outcome[]): void {
    const byCall = (call: string) => outcomes.filter((o) => o.call === call).map((o) => o.value);
    expect(byCall('get')).toEqual(READ.slice(0, 5).map((key) => `v1:${key}`));
    expect(byCall('get([keys])')).toEqual([[`v1:${READ[5]}`, `v1:${READ[6]}`]]);
    expect(byCall('has')).toEqual([true]);
    expect(byCall('has([keys])')).toEqual([[true, true]]);
    expect(byCall('store.has')).toEqual([true]);
    expect(byCall('store.hasMany')).toEqual([[true]]);
    // The truth: Redis took none of them (fallbackWritesSucceed is off).
    expect(byCall('set')).toEqual([false, false]);
    expect(byCall('setMany')).toEqual([[false, false]]);
    expect(byCall('set (new key)')).toEqual([false]);
    expect(byCall('delete')).toEqual([false]);
    expect(byCall('delete([keys])')).toEqual([[false, false]]);
    // Iterated from memory alongside the other calls: only values that were written, each under its
    // own key. (Not every key: see the `it.fails` below, a defect of the memory tier's iteration.)
    const [seen] = byCall('iterator') as Array<Array<[string, unknown]>>;
    expect(seen?.length).toBeGreaterThan(0);
    for (const [key, value] of seen ?? []) expect(allowedDuringOutage(key)).toContain(value);
  }

  /** Every value a key of the namespace may hold during the outage (writes tagged v2, then v3). */
  function allowedDuringOutage(key: string): unknown[] {
    if (key.startsWith('new:')) return [`${key.slice(4)}:new`];
    return [`v1:${key}`, ...(UPDATE.includes(key) ? [`v2:${key}`, `v3:${key}`] : [])];
  }

  async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!(await condition())) {
      if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await sleep(10);
    }
  }

  for (const failure of ['hung (SIGSTOP)', 'killed (SIGKILL)'] as const) {
    for (const listening of [true, false]) {
      const name = `${failure}, ${listening ? 'with' : 'without'} an error listener: no call rejects or outlives ${TIMEOUT_MS} ms + ${MARGIN_MS} ms, memory answers, the store never emits error, and after recovery nothing older is read`;
      it(name, async () => {
        const s = new TieredStore({ primary: server.url, operationTimeoutMs: TIMEOUT_MS, reconnectMaxDelayMs: 100 });
        store = s;
        const emitted = spyOnEmit(s);
        const namespace = freshNamespace();
        const keyv = keyv6(s, { namespace });
        const errors: unknown[] = [];
        if (listening) keyv.on('error', (error: unknown) => errors.push(error));
        expect(keyv.listeners('error')).toHaveLength(listening ? 1 : 0);
        for (const key of [...READ, ...UPDATE, ...DELETE]) expect(await keyv.set(key, `v1:${key}`, 60_000)).toBe(true);
        expect(s.stats().primaryFailures).toBe(0);

        // On the wire when Redis fails: hung, or hung and then killed with the calls written.
        server.hang();
        const during = battery(keyv, s, 'v2');
        if (failure === 'killed (SIGKILL)') {
          await sleep(10);
          await server.kill();
        }
        const first = await Promise.all(during);
        expectNoneRejectedAndBounded(first, 'calls in flight');
        expectMemoryAnswers(first);
        expect(s.circuitState, 'the failures opened the breaker').toBe('open');
        // Breaker open: memory answers at once.
        const second = await Promise.all(battery(keyv, s, 'v3'));
        expectNoneRejectedAndBounded(second, 'calls with the breaker open');
        expectMemoryAnswers(second);
        expect(worst(second)).toBeLessThan(MARGIN_MS);
        // Iterated alone, from memory: exactly the namespace as this instance last wrote it.
        const alone = await timed('iterator', async () => {
          const seen: Array<[unknown, unknown]> = [];
          for await (const entry of keyv.iterator()) seen.push(entry as [unknown, unknown]);
          return seen;
        });
        expectNoneRejectedAndBounded([alone], 'iteration with the breaker open');
        expect(alone.value).toHaveLength(READ.length + UPDATE.length + 2);
        expect(new Map(alone.value as Array<[unknown, unknown]>)).toEqual(
          new Map([
            ...READ.map((key) => [key, `v1:${key}`] as const),
            ...UPDATE.map((key) => [key, `v3:${key}`] as const),
            ['new:v2', 'v2:new'],
            ['new:v3', 'v3:new'],
          ]),
        );
        const stats = s.stats();
        expect(failure === 'hung (SIGSTOP)' ? stats.timeouts : stats.primaryFailures).toBeGreaterThanOrEqual(5);
        expect(stats.shortCircuits).toBeGreaterThan(0);
        expect(stats.fallbackServes).toBeGreaterThan(0);
        measured.push(
          `${failure} ${listening ? 'with' : 'without'} listener: in flight max ${Math.round(worst(first))} ms, breaker open max ${worst(second).toFixed(1)} ms`,
        );

        // Redis back (resumed: it answers what it was sent meanwhile; restarted: empty).
        if (failure === 'hung (SIGSTOP)') server.resume();
        else await server.restart();
        await until(
          () => s.circuitState === 'closed' && s.journal.pending === 0,
          8_000,
          'breaker closed, nothing pending',
        );
        redis = createClient({ url: server.url });
        await redis.connect();
        // Nothing older, nothing deleted: the newest write of this instance (v3) or a miss; the
        // untouched keys as Redis holds them (v1 on a resumed server, gone from a restarted one).
        const untouched = READ.map((key) => (failure === 'hung (SIGSTOP)' ? `v1:${key}` : undefined));
        expect(await keyv.get(READ)).toEqual(untouched);
        for (const key of UPDATE) expect([`v3:${key}`, undefined]).toContain(await keyv.get(key));
        expect(await keyv.get(DELETE)).toEqual(DELETE.map(() => undefined));
        for (const key of ['new:v2', 'new:v3']) expect([undefined, 'v3:new']).toContain(await keyv.get(key));
        // In Redis too: the late writes of the resumed server were invalidated.
        for (const key of [...UPDATE, ...DELETE, 'new:v2', 'new:v3']) {
          expect(await redis.exists(`${namespace}::${key}`), `${key} in Redis`).toBe(0);
        }
        expect(s.stats().reconciled.keys).toBeGreaterThan(0);

        // Foreground and background (probe, reconnect, reconciliation): never an `error` event.
        expect(emitted().filter((event) => event === 'error')).toEqual([]);
        expect(emitted()).toContain('primary:failure');
        expect(errors).toEqual([]);
      });
    }
  }

  it('clear() and disconnect() on a hung server resolve within the deadline, without a listener; the missed clear is made good', async () => {
    const s = new TieredStore({ primary: server.url, operationTimeoutMs: TIMEOUT_MS, reconnectMaxDelayMs: 100 });
    store = s;
    const emitted = spyOnEmit(s);
    const namespace = freshNamespace();
    const keyv = keyv6(s, { namespace });
    for (const key of READ) await keyv.set(key, `v1:${key}`);
    server.hang();
    const cleared = await timed('clear', () => keyv.clear());
    expectNoneRejectedAndBounded([cleared], 'clear on a hung server');
    expect(s.journal.pending, 'the missed clear is journaled').toBe(1);
    expect(await keyv.get(READ)).toEqual(READ.map(() => undefined));
    server.resume();
    await until(() => s.circuitState === 'closed' && s.journal.pending === 0, 8_000, 'clear reconciled');
    expect(await keyv.get(READ)).toEqual(READ.map(() => undefined));
    redis = createClient({ url: server.url });
    await redis.connect();
    expect(await redis.keys(`${namespace}::*`)).toEqual([]);
    server.hang();
    const disconnected = await timed('disconnect', () => keyv.disconnect());
    expectNoneRejectedAndBounded([disconnected], 'disconnect from a hung server');
    measured.push(`clear on hung ${Math.round(cleared.ms)} ms, disconnect on hung ${Math.round(disconnected.ms)} ms`);
    expect(emitted().filter((event) => event === 'error')).toEqual([]);
    expect(emitted()).toContain('primary:failure');
  });

  // Found by this file (Keyv 5 behaved the same): a clear() that missed Redis is journaled as a
  // namespace prefix, and reads must treat every key under it as journaled until it is reconciled.
  it('from the moment Redis answers again until a missed clear is reconciled, no read returns a cleared value', async () => {
    const s = new TieredStore({ primary: server.url, operationTimeoutMs: TIMEOUT_MS, reconnectMaxDelayMs: 100 });
    store = s;
    const keyv = keyv6(s, { namespace: freshNamespace() });
    await keyv.set('k', 'cleared');
    server.hang();
    await keyv.clear();
    expect(s.circuitState, 'one failure: the breaker stays closed').toBe('closed');
    server.resume();
    const reads: unknown[] = [];
    do {
      reads.push(await keyv.get('k'));
      // Served from memory, a read never waits on I/O: let the reconciliation's replies in.
      await new Promise((resolve) => setImmediate(resolve));
    } while (s.journal.pending > 0);
    expect(reads.filter((value) => value === 'cleared')).toEqual([]);
  });

  // Found by this file (Keyv 5 behaved the same): a read while the iterator yields moves a key to
  // lru-cache's most-recent end; a lazy walk then skipped keys and repeated others.
  it('iterating from memory yields every key exactly once while other calls read', async () => {
    const s = track(
      new TieredStore({ primary: 'redis://127.0.0.1:1', fallbackWritesSucceed: true, connectTimeoutMs: 200 }),
    );
    const keyv = keyv6(s, { namespace: freshNamespace() });
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    for (const key of keys) await keyv.set(key, key);
    const seen: unknown[] = [];
    for await (const [key] of keyv.iterator()) {
      seen.push(key);
      // Another caller reads the key just yielded and one not yet visited.
      if (seen.length === 2) await keyv.get([String(key), 'k2']);
    }
    expect([...seen].sort()).toEqual([...keys].sort());
  });

  it('control: Keyv 6 without a listener does reject what the store rejects (bad input), so the tests above can fail', async () => {
    const s = track(new TieredStore({ primary: server.url }));
    const keyv = keyv6(s, { namespace: freshNamespace() });
    // A lone surrogate cannot be a Redis key the store could read back: InvalidArgumentError.
    await expect(keyv.set('\uD800', 'x')).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    const errors: unknown[] = [];
    keyv.on('error', (error: unknown) => errors.push(error));
    expect(await keyv.set('\uD800', 'x')).toBe(false);
    expect(errors).toMatchObject([{ code: 'E_INVALID_ARGUMENT' }]);
  });
});
