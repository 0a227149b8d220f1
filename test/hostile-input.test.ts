import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import KeyvRedis, { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  defineTtlCategories,
  InvalidArgumentError,
  InvalidOptionError,
  MemoryTier,
  NamespaceRequiredError,
  TieredStore,
  TieredStoreError,
  type TieredStoreOptions,
} from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

// Hostile and careless input at every public entry point of the store, against real redis-server
// processes of this file's own (free ports; never the one on 6379). Bad input gets a clear error at
// the boundary, before either tier is touched, and is never counted as an outage; a key the store
// cannot prove is its own (written beside it by plain node-redis, by plain Keyv + @keyv/redis under
// other namespaces, or of another type) survives every clear, reconciliation and warm, with its
// value and its TTL; no error or event ever holds a password.

function plainClient(url: string) {
  return createClient({ url, socket: { reconnectStrategy: () => 50 } });
}
type Admin = ReturnType<typeof plainClient>;

/**
 * Keyv options with `namespace` given even when it is `undefined`: omitted, Keyv 5 would use its
 * default `keyv`.
 */
function withNamespace<T extends object>(namespace: string | undefined, rest: T = {} as T): T & { namespace: string } {
  return { ...rest, namespace } as T & { namespace: string };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // A cleanup must not hide the test's own failure.
    }
  }
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function startServer(args: string[] = []): Promise<RedisServer> {
  const server = await RedisServer.start(args);
  cleanups.push(async () => {
    server.resume();
    await server.stop();
  });
  return server;
}

/** A plain node-redis client, no library code of ours: what other applications run. */
async function adminOf(url: string): Promise<Admin> {
  const client = plainClient(url);
  // Killed and restarted servers make it emit errors; without a listener they would crash the run.
  client.on('error', () => {});
  await client.connect();
  cleanups.push(() => client.destroy());
  return client;
}

function storeOf(options: TieredStoreOptions): TieredStore {
  const store = new TieredStore(options);
  cleanups.push(() => store.disconnect());
  return store;
}

/** Fast outage handling, so that an outage and its recovery take well under a second. */
const quick = {
  operationTimeoutMs: 50,
  reconnectMinDelayMs: 20,
  reconnectMaxDelayMs: 50,
  breaker: { cooldownMs: 100, maxCooldownMs: 200 },
} as const;

// ---- errors ------------------------------------------------------------------------------------

/** What a call rejected (or threw) with; `{ resolvedWith }` when it did not, so the diff shows it. */
async function failure(call: () => unknown): Promise<unknown> {
  try {
    const value = await call();
    return { resolvedWith: value };
  } catch (error) {
    return error;
  }
}

function failureSync(call: () => unknown): unknown {
  try {
    return { returned: call() };
  } catch (error) {
    return error;
  }
}

/** What constructing a store threw; a store that was built after all is disconnected at once. */
function constructionFailure(options: unknown): unknown {
  try {
    const store = new TieredStore(options as TieredStoreOptions);
    void store.disconnect();
    return { returned: 'a TieredStore' };
  } catch (error) {
    return error;
  }
}

function summary(error: unknown): Record<string, unknown> {
  if (error === null || typeof error !== 'object') return { thrown: error };
  const e = error as Record<string, unknown>;
  return {
    name: e.name,
    code: e.code,
    ...(e.argument === undefined ? {} : { argument: e.argument }),
    ...(e.option === undefined ? {} : { option: e.option }),
    ...('resolvedWith' in e ? { resolvedWith: e.resolvedWith } : {}),
    ...('returned' in e ? { returned: e.returned } : {}),
    message: typeof e.message === 'string' ? e.message.slice(0, 300) : e.message,
  };
}

/** The observed outcome, for the failure message: what today's code did instead. */
function observed(error: unknown): string {
  return `observed ${inspect(summary(error), { depth: 3, breakLength: Number.POSITIVE_INFINITY }).slice(0, 400)}`;
}

function expectInvalidArgument(error: unknown, argument?: string | RegExp): void {
  expect(summary(error), observed(error)).toMatchObject({
    name: 'InvalidArgumentError',
    code: 'E_INVALID_ARGUMENT',
    ...(argument === undefined
      ? {}
      : { argument: typeof argument === 'string' ? argument : expect.stringMatching(argument) }),
  });
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(error).toBeInstanceOf(TieredStoreError);
}

function expectInvalidOption(error: unknown, option: string | RegExp): void {
  expect(summary(error), observed(error)).toMatchObject({
    name: 'InvalidOptionError',
    code: 'E_INVALID_OPTION',
    option: typeof option === 'string' ? option : expect.stringMatching(option),
  });
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect(error).toBeInstanceOf(TieredStoreError);
}

function expectNamespaceRequired(error: unknown): void {
  expect(summary(error), observed(error)).toMatchObject({
    name: 'NamespaceRequiredError',
    code: 'E_NAMESPACE_REQUIRED',
  });
  expect(error).toBeInstanceOf(NamespaceRequiredError);
  expect(error).toBeInstanceOf(TieredStoreError);
}

// ---- secrets -----------------------------------------------------------------------------------

/** A password with every character a URL parser trips on. */
const SECRET = 'Sup3r/Secr@t:pw';
const SECRET_ENCODED = encodeURIComponent(SECRET);
/** A userinfo without a colon: node-redis sends it as a credential, so it is a secret too. */
const BARE_SECRET = 'Sup3rSecr3tNoColon';

/** Every 5-character piece of each form of the secrets: a half-redacted URL leaks too. */
const NEEDLES = [
  ...new Set(
    [SECRET, SECRET_ENCODED, BARE_SECRET].flatMap((secret) =>
      Array.from({ length: secret.length - 4 }, (_, i) => secret.slice(i, i + 5)),
    ),
  ),
];

/** Every string reachable from `root`: own properties (non-enumerable and symbols too), recursively. */
function strings(root: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown, depth: number): void => {
    if (typeof value === 'string') {
      out.push(value);
      return;
    }
    if (typeof value === 'function') {
      out.push(String(value.name));
      return;
    }
    if (value === null || typeof value !== 'object') {
      out.push(String(value));
      return;
    }
    if (seen.has(value) || depth > 25) return;
    seen.add(value);
    if (value instanceof Error) {
      out.push(String(value.message), String(value.stack), String(value));
    }
    if (value instanceof Map) for (const entry of value) walk(entry, depth + 1);
    if (value instanceof Set) for (const v of value) walk(v, depth + 1);
    for (const key of Reflect.ownKeys(value)) {
      out.push(String(key));
      let child: unknown;
      try {
        child = (value as Record<PropertyKey, unknown>)[key];
      } catch {
        continue;
      }
      walk(child, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

function expectNoSecret(thing: unknown): void {
  let json = '';
  try {
    json = JSON.stringify(thing) ?? '';
  } catch {
    // circular: the walk covers it
  }
  const texts = [...strings(thing), inspect(thing, { depth: 10, showHidden: true }), json];
  const leaks = NEEDLES.flatMap((needle) => {
    const text = texts.find((t) => t.includes(needle));
    if (text === undefined) return [];
    const at = text.indexOf(needle);
    return [`${needle} in …${text.slice(Math.max(0, at - 60), at + 60)}…`];
  });
  expect(leaks, `secret found:\n${leaks.join('\n')}\n`).toEqual([]);
}

// ---- foreign keys ------------------------------------------------------------------------------

/** Namespaces other applications (plain Keyv + @keyv/redis) use beside the store. */
const FOREIGN_NAMESPACES = ['other', 'a', 'a::b', 'ab', 'a*', '*', '?', '[ab]', 'b', 'x', 'keyv', 'app'];

/** Does a store with namespace `ns` (and this separator) own this physical key? (/work/notes/semantics.md) */
function ownedBy(ns: string | undefined, separator = '::'): (physicalKey: string) => boolean {
  return (key) => ns !== undefined && ns !== '' && key.startsWith(`${ns}${separator}${ns}:`);
}

function ownKey(ns: string | undefined, appKey: string, separator = '::'): string {
  return ns === undefined || ns === '' ? appKey : `${ns}${separator}${ns}:${appKey}`;
}

interface KeyState {
  type: string;
  value: unknown;
  ttl: 'none' | 'expires' | 'missing' | number;
}

type Snapshot = Map<string, { state: KeyState; pttl: number }>;

async function stateOf(redis: Admin, key: string): Promise<{ state: KeyState; pttl: number }> {
  const type = await redis.type(key);
  let value: unknown = null;
  if (type === 'string') value = await redis.get(key);
  else if (type === 'hash') value = { ...(await redis.hGetAll(key)) };
  else if (type === 'list') value = await redis.lRange(key, 0, -1);
  const pttl = Number(await redis.pTTL(key));
  const ttl = pttl === -1 ? 'none' : pttl === -2 ? 'missing' : pttl > 0 ? 'expires' : pttl;
  return { state: { type, value, ttl }, pttl };
}

/**
 * Writes keys other applications own beside the store's, in several forms, and returns their state.
 * Keys the store under test would own are left out: they are not foreign to it.
 */
async function plantForeign(url: string, redis: Admin, owned: (key: string) => boolean): Promise<Snapshot> {
  const keys: string[] = [];
  const hour = 3_600_000;
  for (const namespace of [...FOREIGN_NAMESPACES, undefined]) {
    const physical = (appKey: string) => (namespace === undefined ? appKey : `${namespace}::${namespace}:${appKey}`);
    const appKeys = namespace === undefined ? ['bare-keyv'] : ['k', 'forever'];
    const mine = appKeys.filter((appKey) => !owned(physical(appKey)));
    if (mine.length === 0) continue;
    const adapter = new KeyvRedis(url);
    const keyv = new Keyv(adapter, withNamespace(namespace));
    keyv.on('error', () => {});
    for (const appKey of mine) {
      expect(await keyv.set(appKey, `foreign ${namespace} ${appKey}`, appKey === 'forever' ? undefined : hour)).toBe(
        true,
      );
      keys.push(physical(appKey));
    }
    await adapter.disconnect();
  }
  const raw: Array<[string, number | undefined]> = [
    ['session:1', hour],
    ['b::zzz', undefined],
    ['a::raw', hour],
    ['a::b::raw', undefined],
    ['*::raw', undefined],
    ['bare', hour],
    ['*', undefined],
    ['[ab]', undefined],
    ['a:a:k', hour],
    ['app:app:k', undefined],
    ['app:raw', undefined],
  ];
  for (const [key, ttl] of raw) {
    if (owned(key)) continue;
    await (ttl === undefined ? redis.set(key, `raw ${key}`) : redis.set(key, `raw ${key}`, { PX: ttl }));
    keys.push(key);
  }
  for (const key of ['session:h', 'other::other:h', 'a::a:h', '*::*:h']) {
    if (owned(key)) continue;
    await redis.hSet(key, { field: 'value', other: key });
    await redis.pExpire(key, hour);
    keys.push(key);
  }
  for (const key of ['queue:l', 'a::b::a::b:l']) {
    if (owned(key)) continue;
    await redis.rPush(key, ['one', 'two', key]);
    keys.push(key);
  }
  return snapshot(redis, keys);
}

async function snapshot(redis: Admin, keys: readonly string[]): Promise<Snapshot> {
  const result: Snapshot = new Map();
  for (const key of keys) result.set(key, await stateOf(redis, key));
  return result;
}

/** Every foreign key has the same type, value and TTL (the TTL only ran down) as when planted. */
async function expectForeignIntact(redis: Admin, before: Snapshot): Promise<void> {
  expect(before.size).toBeGreaterThan(10);
  const after = await snapshot(redis, [...before.keys()]);
  const show = ({ state }: { state: KeyState }) => `${state.type} ${JSON.stringify(state.value)} ttl ${state.ttl}`;
  const changed = [...before].flatMap(([key, was]) => {
    const now = after.get(key) as { state: KeyState; pttl: number };
    const same = JSON.stringify(now.state) === JSON.stringify(was.state);
    const ranDown = was.pttl <= 0 || (now.pttl <= was.pttl && now.pttl > was.pttl - 120_000);
    return same && ranDown ? [] : [`${key}: ${show(was)} -> ${show(now)}`];
  });
  expect(changed, `foreign keys changed:\n${changed.join('\n')}\n`).toEqual([]);
}

/** Calls to the commands that read or delete keys, per the server's own counters. */
async function keyCommandCalls(redis: Admin): Promise<Record<string, number>> {
  const info = String(await redis.info('commandstats'));
  const wanted = ['scan', 'get', 'mget', 'unlink', 'del', 'keys', 'flushdb', 'flushall', 'exists', 'pttl', 'type'];
  const calls: Record<string, number> = {};
  for (const name of wanted) calls[name] = Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return calls;
}

/**
 * Asserts that what follows `watch()` left the store and Redis alone: no key added or removed, no
 * memory copy, nothing journaled, no primary failure counted or emitted, the breaker closed.
 */
async function watch(store: TieredStore, redis: Admin): Promise<() => Promise<void>> {
  const events: unknown[] = [];
  const listener = (event: unknown) => events.push(event);
  store.on('primary:failure', listener);
  const state = async () => {
    const stats = store.stats();
    return {
      redisKeys: await redis.dbSize(),
      memoryEntries: store.fallback.size,
      journal: stats.journal.size,
      degradedWrites: stats.degradedWrites,
      primaryFailures: stats.primaryFailures,
      circuit: store.circuitState,
    };
  };
  const before = await state();
  return async () => {
    // Give a reconciliation or a late failure the chance to show.
    await sleep(30);
    store.off('primary:failure', listener);
    expect({ ...(await state()), failureEvents: events.length }).toEqual({
      ...before,
      circuit: 'closed',
      failureEvents: 0,
    });
  };
}

async function entriesOf(iterable: AsyncIterable<[string, unknown]>): Promise<Array<[string, unknown]>> {
  const out: Array<[string, unknown]> = [];
  for await (const entry of iterable) out.push(entry);
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// =================================================================================================

describe('hostile input to the methods (one redis-server)', () => {
  let server: RedisServer;
  let redis: Admin;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = plainClient(server.url);
    redis.on('error', () => {});
    await redis.connect();
  });
  afterAll(async () => {
    redis.destroy();
    await server.stop();
  });
  beforeEach(async () => {
    await redis.flushAll();
  });

  function store(options: Partial<TieredStoreOptions> = {}): TieredStore {
    return storeOf({ primary: server.url, namespace: 'h', ...options });
  }

  describe('keys', () => {
    const oneMegabyte = 'k'.repeat(1 << 20);
    const valid: Array<[string, string]> = [
      ['empty', ''],
      ['1 MB', oneMegabyte],
      ['unicode', 'ключ-鍵-🔑-e\u0301-\u200f-\ufeff'],
      ['glob *', '*'],
      ['glob ?', '?'],
      ['glob [ab]', '[ab]'],
      ['backslash', '\\'],
      ['every glob character', 'a*b?c[d]e\\f^g'],
      ['::', '::'],
      ['a::b', 'a::b'],
      ['a namespace lookalike', 'other::other:k'],
      ['colon', ':'],
      ['NUL', '\u0000nul\u0000'],
      ['CRLF and a command', 'a\r\nFLUSHALL\r\n'],
      ['__proto__', '__proto__'],
      ['constructor', 'constructor'],
      ['space', ' '],
    ];

    it('round-trip through Keyv, from memory and from Redis, and land in Redis as `ns::ns:key`', async () => {
      const foreign = await plantForeign(server.url, redis, ownedBy('h'));
      const writer = new Keyv({ store: store(), namespace: 'h' });
      for (const [name, key] of valid)
        expect([name, await writer.set(key, `value of ${name}`, 60_000)]).toEqual([name, true]);
      // A second instance has no memory copy: its reads come from Redis.
      const reader = new Keyv({ store: store(), namespace: 'h' });
      for (const [name, key] of valid) {
        expect([name, await writer.get(key)]).toEqual([name, `value of ${name}`]);
        expect([name, await reader.get(key)]).toEqual([name, `value of ${name}`]);
        expect([name, await reader.has(key)]).toEqual([name, true]);
        expect([name, await redis.exists(`h::h:${key}`)]).toEqual([name, 1]);
      }
      expect(await reader.get(valid.map(([, key]) => key))).toEqual(valid.map(([name]) => `value of ${name}`));
      // Deleting the key named `*` deletes that key, not a pattern.
      expect(await writer.delete('*')).toBe(true);
      expect(await reader.get('*')).toBeUndefined();
      expect(await reader.get('?')).toBe('value of glob ?');
      expect(await reader.get('a*b?c[d]e\\f^g')).toBe('value of every glob character');
      await expectForeignIntact(redis, foreign);
    });

    it('round-trip through the store itself, with and without a namespace', async () => {
      for (const namespace of ['h', undefined]) {
        const s = store(withNamespace(namespace));
        for (const [name, key] of valid) {
          expect([name, await s.set(key, `raw ${name}`)]).toEqual([name, true]);
          expect([name, await s.get(key)]).toEqual([name, `raw ${name}`]);
          expect([name, await redis.get(namespace === undefined ? key : `h::${key}`)]).toEqual([name, `raw ${name}`]);
        }
        expect(await s.getMany(valid.map(([, key]) => key))).toEqual(valid.map(([name]) => `raw ${name}`));
        expect(await s.hasMany(valid.map(([, key]) => key))).toEqual(valid.map(() => true));
        expect(await s.deleteMany(valid.map(([, key]) => key))).toBe(true);
        expect(await s.getMany(valid.map(([, key]) => key))).toEqual(valid.map(() => undefined));
      }
      expect(await redis.dbSize()).toBe(0);
    });

    const loneSurrogates: Array<[string, string]> = [
      ['high alone', 'a\uD800'],
      ['low alone', '\uDFFFb'],
      ['two highs', 'x\uD800\uD800'],
      ['reversed pair', '\uDC00\uD800'],
      ['under a namespace prefix', 'h:\uDBFF'],
    ];

    it.each(loneSurrogates)(
      'a lone surrogate (%s) is rejected by every method before anything is touched',
      async (_, key) => {
        const s = store();
        const untouched = await watch(s, redis);
        expectInvalidArgument(await failure(() => s.set(key, 'v')), 'key');
        expectInvalidArgument(await failure(() => s.get(key)), 'key');
        expectInvalidArgument(await failure(() => s.has(key)), 'key');
        expectInvalidArgument(await failure(() => s.delete(key)), 'key');
        expectInvalidArgument(await failure(() => s.getMany(['ok', key])), /^keys(\[1\])?$/);
        expectInvalidArgument(await failure(() => s.hasMany(['ok', key])), /^keys(\[1\])?$/);
        expectInvalidArgument(await failure(() => s.deleteMany(['ok', key])), /^keys(\[1\])?$/);
        expectInvalidArgument(
          await failure(() =>
            s.setMany([
              { key: 'ok', value: 'v' },
              { key, value: 'v' },
            ]),
          ),
          /^entries(\[1\](\.key)?)?$/,
        );
        await untouched();
        // Redis would have stored U+FFFD: two different keys would have been one.
        expect(await redis.keys('*\uFFFD*')).toEqual([]);
      },
    );

    it('two keys that differ only in a lone surrogate never share a Redis key', async () => {
      const s = store();
      await failure(() => s.set('pair\uD800', 'first'));
      await failure(() => s.set('pair\uDBFF', 'second'));
      expect(await redis.keys('*pair*')).toEqual([]);
      expect(await failure(() => s.get('pair\uD800'))).not.toEqual({ resolvedWith: 'second' });
    });

    // Hostile sizes in the error path: quoting, redaction and escaping must be linear and cut early.
    const huge: Array<[string, (s: TieredStore, n: number) => unknown]> = [
      ['a key with a lone surrogate at the end', (s, n) => s.set(`${'k'.repeat(n)}\uD800`, 'v')],
      ['a key of URL-like text with a lone surrogate', (s, n) => s.get(`redis://${'u:'.repeat(n / 2)}\uD800`)],
      ['a TTL that is a long string', (s, n) => s.set('h:k', 'v', 'k'.repeat(n) as never)],
      ['a value that is an object holding a long string', (s, n) => s.set('h:k', { text: 'k'.repeat(n) })],
      ['a long string where the keys array belongs', (s, n) => s.getMany('k'.repeat(n) as never)],
      ['a long string where the entries array belongs', (s, n) => s.setMany('k'.repeat(n) as never)],
    ];

    it.each(huge)('%s: a short error, in linear time (50,000 then 1,048,576 characters)', async (_, call) => {
      const s = store();
      for (const n of [50_000, 1 << 20]) {
        const started = performance.now();
        const error = await failure(() => call(s, n));
        const ms = Math.round(performance.now() - started);
        // Super-linear work shows at the first size (seconds): it fails there instead of hanging the run.
        expect(ms, `${n} characters took ${ms} ms`).toBeLessThan(n === 50_000 ? 250 : 2_000);
        expectInvalidArgument(error);
        expect(
          (error as Error).message.length,
          `a message of ${(error as Error).message.length} characters`,
        ).toBeLessThan(4_096);
      }
    });

    const notStrings: Array<[string, unknown]> = [
      ['undefined', undefined],
      ['null', null],
      ['a number', 42],
      ['NaN', Number.NaN],
      ['an object', { toString: () => 'k' }],
      ['an array', ['k']],
      ['a symbol', Symbol('k')],
      ['a bigint', 1n],
      ['a boolean', true],
      ['a Buffer', Buffer.from('k')],
    ];

    it.each(notStrings)('a key that is %s is rejected by every method', async (_, key) => {
      const s = store();
      const untouched = await watch(s, redis);
      const k = key as string;
      expectInvalidArgument(await failure(() => s.set(k, 'v')), 'key');
      expectInvalidArgument(await failure(() => s.get(k)), 'key');
      expectInvalidArgument(await failure(() => s.has(k)), 'key');
      expectInvalidArgument(await failure(() => s.delete(k)), 'key');
      expectInvalidArgument(await failure(() => s.getMany([k])), /^keys(\[0\])?$/);
      expectInvalidArgument(await failure(() => s.hasMany([k])), /^keys(\[0\])?$/);
      expectInvalidArgument(await failure(() => s.deleteMany([k])), /^keys(\[0\])?$/);
      expectInvalidArgument(await failure(() => s.setMany([{ key: k, value: 'v' }])), /^entries(\[0\](\.key)?)?$/);
      await untouched();
    });
  });

  describe('values (defect 5: bad input is not an outage)', () => {
    const notStrings: Array<[string, unknown]> = [
      ['an object', { price: 42 }],
      ['a number', 42],
      ['null', null],
      ['undefined', undefined],
      ['a Buffer', Buffer.from('x')],
      ['a boolean', false],
      ['an array', ['x']],
      ['a Keyv envelope object', { value: 'x', expires: undefined }],
    ];

    it.each(notStrings)(
      "serialization 'keyv': %s is rejected with an error that names serialization: 'store'",
      async (_, value) => {
        const s = store();
        const untouched = await watch(s, redis);
        const error = await failure(() => s.set('h:v', value));
        expectInvalidArgument(error, 'value');
        expect((error as Error).message).toMatch(/serialization.*'store'/);
        expectInvalidArgument(
          await failure(() =>
            s.setMany([
              { key: 'h:ok', value: 'fine' },
              { key: 'h:bad', value },
            ]),
          ),
          /^entries(\[1\](\.value)?)?$/,
        );
        await untouched();
      },
    );

    it('20 non-string values on a healthy Redis: 20 clear errors, the breaker untouched, the store still works', async () => {
      const s = store();
      const untouched = await watch(s, redis);
      for (let i = 0; i < 20; i++) {
        expectInvalidArgument(await failure(() => s.set(`h:obj${i}`, { i })), 'value');
      }
      await untouched();
      expect(s.stats().timeouts).toBe(0);
      expect(await s.set('h:after', 'still works')).toBe(true);
      expect(await redis.get('h::h:after')).toBe('still works');
    });

    it("the same through Keyv with its serializer off and serialization left at 'keyv'", async () => {
      const s = store();
      const keyv = new Keyv({
        store: s,
        serialize: undefined,
        deserialize: undefined,
      } as unknown as ConstructorParameters<typeof Keyv>[0]);
      const errors: unknown[] = [];
      keyv.on('error', (error) => errors.push(error));
      const untouched = await watch(s, redis);
      for (let i = 0; i < 20; i++) expect(await keyv.set(`obj${i}`, { i })).toBe(false);
      expect(errors).toHaveLength(20);
      for (const error of errors) expectInvalidArgument(error, 'value');
      await untouched();
    });

    it("serialization 'keyv': strings of any content round-trip, lone surrogates and Keyv-looking text included", async () => {
      const keyv = new Keyv({ store: store(), namespace: 'h' });
      const values = ['', 'x\uD800', '{"value":1,"expires":1}', ':base64:aGk=', 'x'.repeat(1 << 20), '\u0000\r\n'];
      for (const [i, value] of values.entries()) expect(await keyv.set(`s${i}`, value, 60_000)).toBe(true);
      const reader = new Keyv({ store: store(), namespace: 'h' });
      for (const [i, value] of values.entries()) expect([i, await reader.get(`s${i}`)]).toEqual([i, value]);
    });

    it("serialization 'store': a value Keyv's format cannot encode is rejected, nothing written", async () => {
      const s = store({ serialization: 'store' });
      const circular: Record<string, unknown> = { name: 'loop' };
      circular.self = circular;
      const unencodable: Array<[string, unknown]> = [
        ['a bigint', { value: 10n, expires: undefined }],
        ['a nested bigint', { value: { n: 10n }, expires: undefined }],
        ['a circular object', { value: circular, expires: undefined }],
        // @keyv/serialize writes `{"value":{"a":undefined}}` for these: JSON nobody can read back.
        ['a symbol in an object', { value: { a: Symbol('x') }, expires: undefined }],
        ['a symbol in an array', { value: [Symbol('y')], expires: undefined }],
      ];
      const untouched = await watch(s, redis);
      for (const [name, value] of unencodable) {
        const error = await failure(() => s.set('h:v', value));
        expect([name, summary(error).code]).toEqual([name, 'E_INVALID_ARGUMENT']);
        expectInvalidArgument(error, 'value');
      }
      expectInvalidArgument(
        await failure(() =>
          s.setMany([
            { key: 'h:ok', value: { value: 1, expires: undefined } },
            { key: 'h:bad', value: { value: 1n, expires: undefined } },
          ]),
        ),
        /^entries(\[1\](\.value)?)?$/,
      );
      await untouched();
    });
  });

  describe('TTLs', () => {
    const bad: Array<[string, unknown]> = [
      ['NaN', Number.NaN],
      ['negative', -1],
      ['negative fraction', -0.5],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['a numeric string', '1000'],
      ['2^52 + 1 (past what Redis and a double keep exactly)', 2 ** 52 + 1],
      ['2^53', 2 ** 53],
      ['1e300 (Redis: "value is not an integer or out of range")', 1e300],
      ['Number.MAX_VALUE', Number.MAX_VALUE],
      ['an object', { ms: 1000 }],
      ['true', true],
      ['a bigint', 1000n],
      ['null', null],
    ];

    it.each(bad)('a TTL that is %s is rejected by set and setMany before anything is touched', async (_, ttl) => {
      const s = store();
      const untouched = await watch(s, redis);
      expectInvalidArgument(await failure(() => s.set('h:t', 'v', ttl as number)), 'ttl');
      expectInvalidArgument(
        await failure(() =>
          s.setMany([
            { key: 'h:a', value: 'a' },
            { key: 'h:b', value: 'b', ttl: 1000 },
            { key: 'h:c', value: 'c' },
            { key: 'h:d', value: 'd', ttl: ttl as number },
          ]),
        ),
        'entries[3].ttl',
      );
      await untouched();
    });

    it('defect 4: a setMany rejected for one invalid TTL leaves nothing, in memory, Redis or the journal', async () => {
      const s = store({ readPolicy: 'memory-first' });
      const untouched = await watch(s, redis);
      const entries = Array.from({ length: 5 }, (_, i) => ({ key: `h:e${i}`, value: `v${i}`, ttl: 60_000 }));
      (entries[3] as { ttl: number }).ttl = Number.NaN;
      expectInvalidArgument(await failure(() => s.setMany(entries)), 'entries[3].ttl');
      await untouched();
      // memory-first would have served an entry left in memory without asking Redis.
      expect(await s.getMany(entries.map((e) => e.key))).toEqual(entries.map(() => undefined));
      expect(await s.get('h:e0')).toBeUndefined();
      expect(s.stats().hits.memory).toBe(0);
    });

    it('accepted TTLs: none (undefined, 0, -0), sub-millisecond (rounded up), fractional, 2^52', async () => {
      const s = store();
      expect(await s.set('h:undefined', 'v', undefined)).toBe(true);
      expect(await s.set('h:zero', 'v', 0)).toBe(true);
      expect(await s.set('h:minus-zero', 'v', -0)).toBe(true);
      expect(await s.set('h:half', 'v', 0.5)).toBe(true);
      expect(await s.set('h:fraction', 'v', 5_000.2)).toBe(true);
      expect(await s.set('h:max', 'v', 2 ** 52)).toBe(true);
      for (const none of ['undefined', 'zero', 'minus-zero']) expect(await redis.pTTL(`h::h:${none}`)).toBe(-1);
      const fraction = Number(await redis.pTTL('h::h:fraction'));
      expect(fraction).toBeGreaterThan(4_000);
      expect(fraction).toBeLessThanOrEqual(5_001);
      expect(Number(await redis.pTTL('h::h:max'))).toBeGreaterThan(2 ** 52 - 60_000);
      // Half a millisecond became one, not zero (which would have been "no TTL" or an error).
      await sleep(5);
      expect(await redis.exists('h::h:half')).toBe(0);
      expect(await s.get('h:half')).toBeUndefined();
      expect(s.stats().primaryFailures).toBe(0);
    });
  });

  describe('batch arguments', () => {
    const notArrays: Array<[string, unknown]> = [
      ['a string', 'abc'],
      ['undefined', undefined],
      ['null', null],
      ['a number', 3],
      ['an array-like', { length: 1, 0: 'h:a' }],
      ['a Set', new Set(['h:a'])],
      ['a Map', new Map([['h:a', 'v']])],
      ['an object', { key: 'h:a', value: 'v' }],
      [
        'a generator',
        (function* () {
          yield 'h:a';
        })(),
      ],
    ];

    it.each(notArrays)('%s where an array belongs is rejected by every batch method', async (_, batch) => {
      const s = store();
      const untouched = await watch(s, redis);
      expectInvalidArgument(await failure(() => s.getMany(batch as string[])), 'keys');
      expectInvalidArgument(await failure(() => s.hasMany(batch as string[])), 'keys');
      expectInvalidArgument(await failure(() => s.deleteMany(batch as string[])), 'keys');
      expectInvalidArgument(await failure(() => s.setMany(batch as never)), 'entries');
      await untouched();
    });

    it('entries that are not { key, value } objects are rejected, naming the entry', async () => {
      const s = store();
      const untouched = await watch(s, redis);
      const ok = { key: 'h:ok', value: 'v' };
      expectInvalidArgument(await failure(() => s.setMany([ok, null] as never)), /^entries\[1\]/);
      expectInvalidArgument(await failure(() => s.setMany([ok, 'h:k'] as never)), /^entries\[1\]/);
      expectInvalidArgument(await failure(() => s.setMany([ok, ['h:k', 'v']] as never)), /^entries\[1\]/);
      expectInvalidArgument(await failure(() => s.setMany([ok, { value: 'v' }] as never)), /^entries\[1\]/);
      // A hole: Keyv never sends one, a careless caller may.
      // biome-ignore lint/suspicious/noSparseArray: the hole is the point
      expectInvalidArgument(await failure(() => s.setMany([ok, , ok] as never)), /^entries\[1\]/);
      await untouched();
    });

    it('an entry whose key changes between two reads cannot smuggle an invalid key past validation', async () => {
      const s = store();
      let reads = 0;
      const shifty = {
        get key() {
          reads++;
          return reads === 1 ? 'h:fine' : 'h:\uD800';
        },
        value: 'v',
      };
      await failure(() => s.setMany([shifty]));
      expect(await redis.keys('*\uFFFD*')).toEqual([]);
      expect(s.stats().primaryFailures).toBe(0);
    });

    it('empty batches are answered without a primary failure', async () => {
      const s = store();
      const untouched = await watch(s, redis);
      expect(await s.getMany([])).toEqual([]);
      expect(await s.hasMany([])).toEqual([]);
      expect(await s.setMany([])).toEqual([]);
      expect(typeof (await s.deleteMany([]))).toBe('boolean');
      await untouched();
    });
  });

  it('validation comes first while Redis is down too: nothing is journaled or served for bad input', async () => {
    const own = await startServer();
    const s = storeOf({ primary: own.url, namespace: 'h', ...quick });
    expect(await s.set('h:warm', 'v')).toBe(true);
    await own.kill();
    await waitFor('the breaker to open', () => s.circuitState === 'open');
    const before = { journal: s.stats().journal.size, memory: s.fallback.size, degraded: s.stats().degradedWrites };
    expectInvalidArgument(await failure(() => s.set('h:\uD800', 'v')), 'key');
    expectInvalidArgument(await failure(() => s.set('h:t', 'v', -5)), 'ttl');
    expectInvalidArgument(await failure(() => s.set('h:o', { o: 1 })), 'value');
    expectInvalidArgument(await failure(() => s.delete(42 as never)), 'key');
    expectInvalidArgument(await failure(() => s.deleteMany('h:warm' as never)), 'keys');
    expectInvalidArgument(await failure(() => s.get(undefined as never)), 'key');
    expect({ journal: s.stats().journal.size, memory: s.fallback.size, degraded: s.stats().degradedWrites }).toEqual(
      before,
    );
    expect(await s.get('h:warm')).toBe('v');
  });

  describe('other entry points', () => {
    it('observe() refuses what is not an observer, and a throwing observer never makes a call reject', async () => {
      const s = store();
      for (const bad of [null, undefined, {}, { latency: 'yes' }, 42, () => {}]) {
        const error = failureSync(() => s.observe(bad as never));
        expectInvalidArgument(error, /^observer/);
      }
      s.observe({
        latency() {
          throw new Error('observer bug');
        },
      });
      expect(await s.set('h:o', 'v')).toBe(true);
      expect(await s.get('h:o')).toBe('v');
      expect(await s.delete('h:o')).toBe(true);
      expect(await redis.exists('h::h:o')).toBe(0);
      expect(s.stats().primaryFailures).toBe(0);
    });

    it('warm() refuses arguments it cannot use, before reading anything', async () => {
      const s = store();
      await redis.set('h::h:price:BTC', 'x');
      const bad: Array<[string, unknown]> = [
        // `store.warm('price:*')`: the glob where the options object belongs
        ['a glob string', 'price:*'],
        ['null', null],
        ['a number', 42],
        ['a non-string match', { match: 42 }],
        ['a lone surrogate in match', { match: 'price:\uD800' }],
        ['limit 0', { limit: 0 }],
        ['limit -1', { limit: -1 }],
        ['a fractional limit', { limit: 1.5 }],
        ['limit NaN', { limit: Number.NaN }],
        ['batchSize 0', { batchSize: 0 }],
        ['batchSize Infinity', { batchSize: Number.POSITIVE_INFINITY }],
        ['a signal that is a string', { signal: 'stop' }],
        ['a misspelt option', { matches: 'price:*' }],
      ];
      for (const [name, source] of bad) {
        const error = await failure(() => s.warm(source as never));
        expect([name, summary(error).code]).toEqual([name, 'E_INVALID_ARGUMENT']);
        expect(error).toBeInstanceOf(InvalidArgumentError);
      }
      expect(s.fallback.size).toBe(0);
    });

    it('warm(loader) refuses entries it cannot store', async () => {
      const bad: Array<[string, unknown]> = [
        ['null', null],
        ['a number key', { key: 42, value: 'v' }],
        ['a lone surrogate key', { key: 'k\uD800', value: 'v' }],
        ['ttl NaN', { key: 'k', value: 'v', ttl: Number.NaN }],
        ['ttl -1', { key: 'k', value: 'v', ttl: -1 }],
        ['ttl past 2^52', { key: 'k', value: 'v', ttl: 2 ** 53 }],
        ['a bigint value', { key: 'k', value: 1n }],
      ];
      for (const [name, entry] of bad) {
        const s = store();
        const error = await failure(() =>
          s.warm(function* () {
            yield entry as never;
          }),
        );
        expect([name, summary(error).code]).toEqual([name, 'E_INVALID_ARGUMENT']);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect([name, s.fallback.size]).toEqual([name, 0]);
      }
    });

    it('the namespace setter refuses what Keyv would never set: non-strings and lone surrogates', async () => {
      const s = store({ namespace: 'h' });
      for (const bad of [42, {}, ['h'], Symbol('ns'), 'n\uD800']) {
        const error = failureSync(() => {
          s.namespace = bad as never;
        });
        expect(summary(error)).toMatchObject({ code: expect.stringMatching(/^E_INVALID_(ARGUMENT|OPTION)$/) });
        expect(error).toBeInstanceOf(TieredStoreError);
        expect(s.namespace).toBe('h');
      }
      expect(await s.set('h:k', 'v')).toBe(true);
      expect(await redis.keys('*')).toEqual(['h::h:k']);
    });

    it("namespace '' is no namespace: keys are bare, and clear() refuses", async () => {
      for (const s of [store({ namespace: '' }), store(withNamespace(undefined))]) {
        expect(await s.set('mine:k', 'v')).toBe(true);
        expect(await redis.get('mine:k')).toBe('v');
        expectNamespaceRequired(await failure(() => s.clear()));
        expect(await redis.get('mine:k')).toBe('v');
        await redis.flushAll();
      }
      const s = store({ namespace: 'h' });
      s.namespace = '';
      expectNamespaceRequired(await failure(() => s.clear()));
    });

    it('iterator(namespace) never reads another namespace, whatever it is handed', async () => {
      const s = store({ namespace: 'a' });
      const keyv = new Keyv({ store: s, namespace: 'a' });
      await keyv.set('mine', 'v');
      const foreign = await plantForeign(server.url, redis, ownedBy('a'));
      for (const asked of ['*', 'a*', '?', 'other', '', undefined, 'a::b']) {
        const seen: string[] = [];
        try {
          for await (const [key] of s.iterator(asked)) seen.push(key);
        } catch (error) {
          expect(error).toBeInstanceOf(TieredStoreError);
        }
        expect([asked, seen.filter((key) => key !== 'a:mine')]).toEqual([asked, []]);
      }
      await expectForeignIntact(redis, foreign);
    });

    it('a TTL rule glob never takes super-linear time on a hostile key (no regex backtracking)', async () => {
      const ttl = defineTtlCategories({ price: '30s' });
      const s = store({ ttl: { categories: ttl, rules: [{ match: 'price:*:*:*:x', category: 'price' }] } });
      // 2,000 colons: a backtracking matcher tries ~n^3 splits (seconds); 4,000 take half a minute.
      const key = `h:price:${':'.repeat(2_000)}`;
      const started = performance.now();
      const written = await s.set(key, 'v');
      const read = await s.get(key);
      const ms = Math.round(performance.now() - started);
      expect(ms, `set + get took ${ms} ms`).toBeLessThan(500);
      expect({ written, read }).toEqual({ written: true, read: 'v' });
    });

    it('after disconnect(), every method still settles and a second disconnect() resolves', async () => {
      const s = store();
      expect(await s.set('h:k', 'v')).toBe(true);
      await s.disconnect();
      const settled = await Promise.race([
        Promise.allSettled([
          s.get('h:k'),
          s.set('h:k', 'w'),
          s.has('h:k'),
          s.delete('h:k'),
          s.getMany(['h:k']),
          s.setMany([{ key: 'h:k', value: 'x' }]),
          s.hasMany(['h:k']),
          s.deleteMany(['h:k']),
          s.disconnect(),
        ]),
        sleep(2_000).then(() => 'hung'),
      ]);
      expect(settled).not.toBe('hung');
      expect((settled as PromiseSettledResult<unknown>[]).filter((r) => r.status === 'rejected')).toEqual([]);
    });
  });

  describe('through Keyv 5', () => {
    it('bad input surfaces as Keyv error events and false, or as a rejection with throwOnErrors', async () => {
      const keyv = new Keyv({ store: store(), namespace: 'kv' });
      const errors: unknown[] = [];
      keyv.on('error', (error) => errors.push(error));
      expect(await keyv.set('k', 'v', Number.NaN)).toBe(false);
      expect(await keyv.set('k', 'v', -1_000)).toBe(false);
      expect(await keyv.set('k\uD800', 'v')).toBe(false);
      expect(
        await keyv.setMany([
          { key: 'a', value: 1 },
          { key: 'b', value: 2, ttl: Number.POSITIVE_INFINITY },
        ]),
      ).toEqual([false, false]);
      expect(await keyv.delete('k\uD800')).toBe(false);
      expect(errors).toHaveLength(5);
      expectInvalidArgument(errors[0], 'ttl');
      expectInvalidArgument(errors[1], 'ttl');
      expectInvalidArgument(errors[2], 'key');
      expectInvalidArgument(errors[3], /ttl/);
      expectInvalidArgument(errors[4], 'key');
      // Keyv 5.6's get() swallows a store rejection without an error event: the read is a miss.
      expect(await keyv.get('k\uD800')).toBeUndefined();
      expect(errors).toHaveLength(5);
      // Its has(), hasMany() and getMany() do not catch at all: the rejection reaches the caller.
      expectInvalidArgument(await failure(() => keyv.has('k\uD800')), 'key');
      expectInvalidArgument(await failure(() => keyv.get(['a', 'k\uD800'])), /^keys(\[1\])?$/);
      expectInvalidArgument(await failure(() => keyv.has(['a', 'k\uD800'])), /^keys(\[1\])?$/);
      expect(await redis.dbSize()).toBe(0);

      const strict = new Keyv({ store: store(), namespace: 'kv', throwOnErrors: true });
      strict.on('error', () => {});
      expectInvalidArgument(await failure(() => strict.set('k', 'v', Number.NaN)), 'ttl');
      expectInvalidArgument(await failure(() => strict.get('k\uD800')), 'key');
      expectInvalidArgument(await failure(() => strict.delete('k\uD800')), 'key');
    });

    it('a namespace-less Keyv (namespace undefined or empty): clear() is an error event, not a deletion', async () => {
      for (const namespace of [undefined, '']) {
        await redis.flushAll();
        const s = store({ namespace: 'ignored' });
        const keyv = new Keyv(withNamespace(namespace, { store: s }));
        const errors: unknown[] = [];
        keyv.on('error', (error) => errors.push(error));
        expect(await keyv.set('mine:1', 'v')).toBe(true);
        const foreign = await plantForeign(server.url, redis, ownedBy(undefined));
        await keyv.clear();
        expect(errors).toHaveLength(1);
        expectNamespaceRequired(errors[0]);
        expect(await keyv.get('mine:1')).toBe('v');
        await expectForeignIntact(redis, foreign);
      }
    });
  });
});

// =================================================================================================

describe('foreign keys survive every clear (defects 6 and 7)', () => {
  const namespaces = ['a', 'b', 'ab', 'a::b', '*', 'a*', '?', '[ab]', 'x\\', 'keyv'];

  it.each(namespaces)(
    'clear() of namespace %j deletes its own keys, in Redis and memory, and nothing else',
    async (ns) => {
      const server = await startServer();
      const redis = await adminOf(server.url);
      const foreign = await plantForeign(server.url, redis, ownedBy(ns));
      const store = storeOf({ primary: server.url });
      const keyv = new Keyv(withNamespace(ns, { store }));
      for (const key of ['one', 'two', '*', 'a::b']) expect(await keyv.set(key, `own ${key}`, 60_000)).toBe(true);
      expect(store.fallback.size).toBe(4);
      const calls = await keyCommandCalls(redis);
      await keyv.clear();
      expect((await keyCommandCalls(redis)).scan).toBeGreaterThan(calls.scan as number);
      await expectForeignIntact(redis, foreign);
      for (const key of ['one', 'two', '*', 'a::b'])
        expect([key, await redis.exists(ownKey(ns, key))]).toEqual([key, 0]);
      expect(store.fallback.size).toBe(0);
      expect(await keyv.get('one')).toBeUndefined();
      expect(store.stats().primaryFailures).toBe(0);
    },
  );

  it('a namespace-less store refuses clear(), iterator() and warm(): nothing is read or deleted, in Redis or memory', async () => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const store = storeOf({ primary: server.url });
    const keyv = new Keyv(withNamespace(undefined, { store }));
    for (const key of ['mine:1', 'mine:2']) expect(await keyv.set(key, 'v')).toBe(true);
    const foreign = await plantForeign(server.url, redis, ownedBy(undefined));
    const memory = store.fallback.size;
    const calls = await keyCommandCalls(redis);
    expectNamespaceRequired(await failure(() => store.clear()));
    expectNamespaceRequired(await failure(() => store.iterator(undefined).next()));
    expectNamespaceRequired(await failure(() => store.warm({ match: '*' })));
    expectNamespaceRequired(await failure(() => store.warm()));
    expect(await keyCommandCalls(redis)).toEqual(calls);
    expect(store.fallback.size).toBe(memory);
    expect(await redis.get('mine:1')).not.toBeNull();
    expect(await keyv.get('mine:2')).toBe('v');
    await expectForeignIntact(redis, foreign);
    expect(store.stats().primaryFailures).toBe(0);
  });

  it('a namespace-less clear() during an outage is refused too: nothing is deleted when Redis is back', async () => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const store = storeOf({ primary: server.url, ...quick });
    const keyv = new Keyv(withNamespace(undefined, { store }));
    expect(await keyv.set('mine:1', 'v')).toBe(true);
    const foreign = await plantForeign(server.url, redis, ownedBy(undefined));
    server.hang();
    try {
      expectNamespaceRequired(await failure(() => store.clear()));
      await keyv.set('mine:2', 'during the outage');
    } finally {
      server.resume();
    }
    await waitFor('reconciliation', async () => store.circuitState === 'closed' && (await store.reconcile()));
    await expectForeignIntact(redis, foreign);
    expect(await redis.get('mine:1')).not.toBeNull();
    expect(store.fallback.size).toBeGreaterThan(0);
  });

  it('stores sharing one MemoryTier: clear() of `a` keeps the memory copies of `a::b`, `ab` and `a*`', async () => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const tier = new MemoryTier({ max: 100 });
    const keyvs = new Map<string, Keyv>();
    for (const ns of ['a', 'a::b', 'ab', 'a*']) {
      const store = storeOf({ primary: server.url, fallback: tier, readPolicy: 'memory-first', memoryTtlMs: 60_000 });
      const keyv = new Keyv(withNamespace(ns, { store }));
      expect(await keyv.set('k', `value of ${ns}`)).toBe(true);
      keyvs.set(ns, keyv);
    }
    expect(tier.size).toBe(4);
    await (keyvs.get('a') as Keyv).clear();
    expect(tier.size).toBe(3);
    await redis.flushAll();
    // Redis is empty now: only a memory copy can answer.
    for (const ns of ['a::b', 'ab', 'a*'])
      expect([ns, await (keyvs.get(ns) as Keyv).get('k')]).toEqual([ns, `value of ${ns}`]);
  });

  it('a clear() that missed Redis is reconciled later without deleting a foreign key', async () => {
    for (const ns of ['a', '*', 'a::b']) {
      const server = await startServer();
      const redis = await adminOf(server.url);
      const store = storeOf({ primary: server.url, ...quick });
      const keyv = new Keyv(withNamespace(ns, { store }));
      expect(await keyv.set('k', 'own')).toBe(true);
      const foreign = await plantForeign(server.url, redis, ownedBy(ns));
      server.hang();
      await keyv.clear();
      server.resume();
      await waitFor(
        `namespace ${ns} reconciled`,
        async () => store.circuitState === 'closed' && (await store.reconcile()),
      );
      expect([ns, await redis.exists(ownKey(ns, 'k'))]).toEqual([ns, 0]);
      await expectForeignIntact(redis, foreign);
    }
  });
});

// =================================================================================================

describe('foreign keys survive every reconciliation (defect 8)', () => {
  /** Writes during a hang (SIGSTOP keeps the data), resumes, and waits until nothing is pending. */
  async function outage(server: RedisServer, store: TieredStore, during: () => Promise<void>): Promise<void> {
    server.hang();
    try {
      await during();
    } finally {
      server.resume();
    }
    await waitFor('reconciliation', async () => store.circuitState === 'closed' && (await store.reconcile()));
  }

  it.each(['a', 'a::b', '*', 'a*'])('an outage with writes and deletes in namespace %j', async (ns) => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const store = storeOf({ primary: server.url, ...quick });
    const keyv = new Keyv(withNamespace(ns, { store }));
    expect(await keyv.set('gone', 'v')).toBe(true);
    const foreign = await plantForeign(server.url, redis, ownedBy(ns));
    await outage(server, store, async () => {
      for (let i = 0; i < 8; i++) await keyv.set(`k${i}`, `outage ${i}`);
      await keyv.delete('gone');
    });
    expect(store.stats().reconciled.keys).toBeGreaterThan(0);
    for (let i = 0; i < 8; i++) expect(await redis.exists(ownKey(ns, `k${i}`))).toBe(0);
    await expectForeignIntact(redis, foreign);
  });

  it.each([
    ['a::b', 'a::b'],
    ['*', '*'],
    ['no namespace, keys with ::', undefined],
  ])("journal overflow (journalMaxKeys: 2) in %s invalidates only the store's own keys", async (_, ns) => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const store = storeOf({ primary: server.url, ...quick, journalMaxKeys: 2 });
    const keyv = new Keyv(withNamespace(ns, { store }));
    expect(await keyv.set('b::pre', 'before the outage')).toBe(true);
    const foreign = await plantForeign(server.url, redis, ownedBy(ns));
    await outage(server, store, async () => {
      for (let i = 0; i < 6; i++) await keyv.set(`b::y${i}`, `outage ${i}`);
    });
    expect(store.stats().journal.overflows).toBeGreaterThan(0);
    await expectForeignIntact(redis, foreign);
    // Overflow means the whole namespace is invalidated: the key written before the outage too.
    if (ns !== undefined) expect(await redis.exists(ownKey(ns, 'b::pre'))).toBe(0);
  });

  it.each([
    ['a::b', 'a::b'],
    ['*', '*'],
    ['a', 'a'],
    ['no namespace, keys with ::', undefined],
  ])('restart reconciliation (run_id changes, restored from a snapshot) in %s', async (_, ns) => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-input-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = await startServer(['--dir', dir, '--dbfilename', 'hostile.rdb']);
    const redis = await adminOf(server.url);
    // journalMaxKeys 2: more recent writes than it remembers, so whole namespaces are reconciled.
    const store = storeOf({ primary: server.url, ...quick, journalMaxKeys: 2 });
    const keyv = new Keyv(withNamespace(ns, { store }));
    for (let i = 0; i < 5; i++) expect(await keyv.set(`b::r${i}`, `before ${i}`)).toBe(true);
    const foreign = await plantForeign(server.url, redis, ownedBy(ns));
    await redis.sendCommand(['SAVE']);
    await server.kill();
    await server.restart();
    await waitFor('the restart to be detected', () => store.stats().restarts === 1);
    await waitFor('reconciliation', async () => store.circuitState === 'closed' && (await store.reconcile()));
    await expectForeignIntact(redis, foreign);
    if (ns !== undefined) {
      for (let i = 0; i < 5; i++) expect(await redis.exists(ownKey(ns, `b::r${i}`))).toBe(0);
    }
  });
});

// =================================================================================================

describe('warm never loads a foreign key (defect 7)', () => {
  it.each(['*', 'a*', '?', '[ab]', 'x\\', 'a', 'a::b', 'keyv'])('warm({ match }) in namespace %j', async (ns) => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const foreign = await plantForeign(server.url, redis, ownedBy(ns));
    const writer = new KeyvRedis(server.url);
    const plain = new Keyv(writer, { namespace: ns });
    for (const key of ['one', 'two', 'three']) expect(await plain.set(key, `own ${key}`, 60_000)).toBe(true);
    await writer.disconnect();
    const store = storeOf({ primary: server.url });
    const keyv = new Keyv(withNamespace(ns, { store }));
    const report = await store.warm({ match: '*' });
    expect({ loaded: report.loaded, memory: store.fallback.size, stopped: report.stopped }).toEqual({
      loaded: 3,
      memory: 3,
      stopped: undefined,
    });
    // A glob in the match is the application's own: it selects among the store's keys only.
    const fresh = storeOf({ primary: server.url, namespace: ns });
    new Keyv({ store: fresh, namespace: ns });
    expect((await fresh.warm({ match: 't*' })).loaded).toBe(2);
    await expectForeignIntact(redis, foreign);
    await server.kill();
    expect(await keyv.get('two')).toBe('own two');
  });
});

// =================================================================================================

describe("a KeyvRedis built with keyPrefixSeparator ':' (defect 9)", () => {
  function colonStore(url: string, options: Partial<TieredStoreOptions> = {}): TieredStore {
    const adapter = new KeyvRedis(createClient({ url, socket: { reconnectStrategy: () => 30 } }) as never, {
      keyPrefixSeparator: ':',
    });
    return storeOf({ primary: adapter, ...quick, ...options });
  }
  const colonOwned = ownedBy('app', ':');

  it('clear() removes the memory copies too, and no foreign key', async () => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const foreign = await plantForeign(server.url, redis, colonOwned);
    const store = colonStore(server.url);
    const keyv = new Keyv({ store, namespace: 'app' });
    expect(await keyv.set('k1', 'v1')).toBe(true);
    expect(await keyv.set('k2', 'v2')).toBe(true);
    expect(await redis.get('app:app:k1')).not.toBeNull();
    await keyv.clear();
    await expectForeignIntact(redis, foreign);
    expect(await redis.exists(['app:app:k1', 'app:app:k2'])).toBe(0);
    expect(store.fallback.size).toBe(0);
    await server.kill();
    await waitFor('the breaker to open', () => store.circuitState === 'open');
    expect(await keyv.get('k1')).toBeUndefined();
  });

  it("iteration during an outage yields the store's keys from memory", async () => {
    const server = await startServer();
    const store = colonStore(server.url);
    const keyv = new Keyv({ store, namespace: 'app' });
    expect(await keyv.set('k1', 'v1')).toBe(true);
    expect(await keyv.set('k2', 'v2')).toBe(true);
    expect(await entriesOf(keyv.iterator?.(undefined) as AsyncIterable<[string, unknown]>)).toEqual([
      ['k1', 'v1'],
      ['k2', 'v2'],
    ]);
    await server.kill();
    await waitFor('the breaker to open', () => store.circuitState === 'open');
    expect(await entriesOf(keyv.iterator?.(undefined) as AsyncIterable<[string, unknown]>)).toEqual([
      ['k1', 'v1'],
      ['k2', 'v2'],
    ]);
  });

  it('journal overflow invalidates only its own namespace', async () => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const store = colonStore(server.url, { journalMaxKeys: 2 });
    const keyv = new Keyv({ store, namespace: 'app' });
    expect(await keyv.set('pre', 'before the outage')).toBe(true);
    const foreign = await plantForeign(server.url, redis, colonOwned);
    server.hang();
    try {
      for (let i = 0; i < 6; i++) await keyv.set(`k${i}`, `outage ${i}`);
    } finally {
      server.resume();
    }
    await waitFor('reconciliation', async () => store.circuitState === 'closed' && (await store.reconcile()));
    expect(store.stats().journal.overflows).toBeGreaterThan(0);
    await expectForeignIntact(redis, foreign);
    expect(await redis.exists('app:app:pre')).toBe(0);
  });

  it('restart reconciliation (run_id changes, restored from a snapshot) invalidates only its own namespace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-input-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = await startServer(['--dir', dir, '--dbfilename', 'hostile.rdb']);
    const redis = await adminOf(server.url);
    const store = colonStore(server.url, { journalMaxKeys: 2 });
    const keyv = new Keyv({ store, namespace: 'app' });
    for (let i = 0; i < 5; i++) expect(await keyv.set(`r${i}`, `before ${i}`)).toBe(true);
    const foreign = await plantForeign(server.url, redis, colonOwned);
    await redis.sendCommand(['SAVE']);
    await server.kill();
    await server.restart();
    await waitFor('the restart to be detected', () => store.stats().restarts === 1);
    await waitFor('reconciliation', async () => store.circuitState === 'closed' && (await store.reconcile()));
    await expectForeignIntact(redis, foreign);
    for (let i = 0; i < 5; i++) expect(await redis.exists(`app:app:r${i}`)).toBe(0);
  });

  it("warm({ match }) loads the store's keys and no other", async () => {
    const server = await startServer();
    const redis = await adminOf(server.url);
    const foreign = await plantForeign(server.url, redis, colonOwned);
    await redis.set('app:app:one', JSON.stringify({ value: 'own one' }));
    await redis.set('app:app:two', JSON.stringify({ value: 'own two' }));
    const store = colonStore(server.url);
    new Keyv({ store, namespace: 'app' });
    expect((await store.warm({ match: '*' })).loaded).toBe(2);
    expect(store.fallback.size).toBe(2);
    await expectForeignIntact(redis, foreign);
  });
});

// =================================================================================================

describe('URLs: every construction failure is an InvalidOptionError without the password (defects 10, 11, 13)', () => {
  const badUrls: Array<[string, string]> = [
    ['an out-of-range port', `redis://:${SECRET_ENCODED}@127.0.0.1:99999`],
    ['port 65536, with a user', `redis://admin:${SECRET_ENCODED}@127.0.0.1:65536`],
    ['port 0', `redis://:${SECRET_ENCODED}@127.0.0.1:0`],
    ['a non-numeric port', `redis://:${SECRET_ENCODED}@127.0.0.1:63x9`],
    ['a negative port', `redis://:${SECRET_ENCODED}@127.0.0.1:-1`],
    ['a raw password with @ / : and a bad port', `redis://admin:${SECRET}@127.0.0.1:99999`],
    ['a raw password with @ / :, no user, a bad port', `redis://:${SECRET}@127.0.0.1:99999`],
    ['userinfo without a colon, a bad port', `redis://${BARE_SECRET}@127.0.0.1:99999`],
    ['userinfo without a colon, no host', `redis://${BARE_SECRET}@`],
    ['no host', `redis://:${SECRET_ENCODED}@:6390`],
    ['a non-numeric database', `redis://:${SECRET_ENCODED}@127.0.0.1:6390/cache`],
    ['rediss, a bad port', `rediss://:${SECRET_ENCODED}@127.0.0.1:70000`],
    ['valkey, a bad port', `valkey://:${SECRET_ENCODED}@127.0.0.1:99999`],
    ['valkeys, a bad port', `valkeys://:${SECRET_ENCODED}@127.0.0.1:99999`],
    ['an IPv6 host, a bad port', `redis://:${SECRET_ENCODED}@[::1]:99999`],
    ['a space in the host', `redis://:${SECRET_ENCODED}@exa mple.test:6390`],
    ['an unknown scheme', `memcached://:${SECRET_ENCODED}@127.0.0.1:11211`],
    ['http', `http://admin:${SECRET}@127.0.0.1:6390`],
    ['a leading space', ` redis://:${SECRET_ENCODED}@127.0.0.1:6390`],
    ['no scheme', `:${SECRET_ENCODED}@127.0.0.1:6390`],
  ];

  it.each(badUrls)('primary: %s', (_, url) => {
    const error = constructionFailure({ primary: url });
    expectInvalidOption(error, 'primary');
    expect((error as Error).message).toContain('`primary`');
    expectNoSecret(error);
  });

  it.each(badUrls)('a URL where the options object belongs (the KeyvRedis habit): %s', (_, url) => {
    const error = constructionFailure(url);
    expectInvalidOption(error, 'options');
    expectNoSecret(error);
  });

  it('a good URL where the options object belongs: the message and value hold the redacted URL only', () => {
    for (const url of [
      `redis://:${SECRET_ENCODED}@127.0.0.1:6390`,
      `redis://admin:${SECRET_ENCODED}@127.0.0.1:6390/2`,
      `redis://${BARE_SECRET}@127.0.0.1:6390`,
    ]) {
      const error = constructionFailure(url);
      expectInvalidOption(error, 'options');
      expectNoSecret(error);
      expect((error as InvalidOptionError).value).toEqual(expect.stringContaining('***@127.0.0.1:6390'));
      expect((error as Error).message).toContain('***@127.0.0.1:6390');
    }
  });

  it('careless option shapes that carry a URL or a password never echo it', () => {
    const url = `redis://admin:${SECRET_ENCODED}@127.0.0.1:6390`;
    const shapes: Array<[string, unknown, string | RegExp]> = [
      ['{ url } instead of { primary }', { url }, 'url'],
      ['{ primary: { url } }', { primary: { url } }, 'primary'],
      ['{ primary: new URL(...) }', { primary: new URL(url) }, 'primary'],
      ['{ primary, password }', { primary: 'redis://127.0.0.1:6390', password: SECRET }, 'password'],
      [
        '{ primary, username, password }',
        { primary: 'redis://127.0.0.1:6390', username: 'admin', password: SECRET },
        /^(username|password)$/,
      ],
      [
        '{ primary, socket: { password } }',
        { primary: 'redis://127.0.0.1:6390', socket: { password: SECRET } },
        'socket',
      ],
      ['{ primary, redis: { url } }', { primary: 'redis://127.0.0.1:6390', redis: { url } }, 'redis'],
    ];
    for (const [name, options, option] of shapes) {
      const error = constructionFailure(options);
      expect([name, summary(error).code]).toEqual([name, 'E_INVALID_OPTION']);
      expectInvalidOption(error, option);
      expectNoSecret(error);
    }
  });

  it('valkey:// and valkeys:// construct (Valkey speaks the Redis protocol); valkey:// round-trips', async () => {
    const server = await startServer();
    for (const scheme of ['valkey', 'VALKEY', 'Redis']) {
      const store = storeOf({ primary: `${scheme}://127.0.0.1:${server.port}`, namespace: 'v' });
      expect([scheme, await store.set('v:k', scheme)]).toEqual([scheme, true]);
      expect([scheme, await store.get('v:k')]).toEqual([scheme, scheme]);
    }
    // TLS against a plain server: no connection, but no throw, and memory answers.
    const tls = storeOf({ primary: `valkeys://127.0.0.1:${server.port}`, ...quick });
    const started = Date.now();
    expect(await tls.set('k', 'v')).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await tls.get('k')).toBe('v');
  });
});

describe('runtime events never hold the password (wrong password against --requirepass)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start(['--requirepass', 'the-right-one-4711']);
  });
  afterAll(async () => {
    await server.stop();
  });

  const RAW = 'a raw password with @ / :';
  const forms: Record<string, (port: number) => TieredStoreOptions['primary']> = {
    'an encoded password': (port) => `redis://:${SECRET_ENCODED}@127.0.0.1:${port}`,
    'a user and an encoded password': (port) => `redis://admin:${SECRET_ENCODED}@127.0.0.1:${port}`,
    'userinfo without a colon': (port) => `redis://${BARE_SECRET}@127.0.0.1:${port}`,
    'valkey://, an encoded password': (port) => `valkey://:${SECRET_ENCODED}@127.0.0.1:${port}`,
    [RAW]: (port) => `redis://:${SECRET}@127.0.0.1:${port}`,
    'a KeyvRedis built from { url, password }': (port) =>
      new KeyvRedis({ url: `redis://127.0.0.1:${port}`, password: SECRET }),
    'a KeyvRedis with an encoded password': (port) =>
      new KeyvRedis(`redis://admin:${SECRET_ENCODED}@127.0.0.1:${port}`),
  };

  it.each(Object.keys(forms))('%s', async (name) => {
    const make = forms[name] as (port: number) => TieredStoreOptions['primary'];
    let primary: TieredStoreOptions['primary'];
    try {
      primary = make(server.port);
    } catch (error) {
      // The URL cannot even be parsed by node-redis (a raw `/`): not ours to judge.
      expectNoSecret(error);
      return;
    }
    let store: TieredStore;
    try {
      store = storeOf({ primary, namespace: 'sec', ...quick });
    } catch (error) {
      // Refusing a URL that cannot be parsed is fine, as an InvalidOptionError without the password.
      expectInvalidOption(error, 'primary');
      expectNoSecret(error);
      expect(name).toBe(RAW);
      return;
    }
    const events: unknown[] = [];
    for (const event of [
      'primary:connection',
      'primary:failure',
      'circuit:state',
      'fallback:serve',
      'reconcile:done',
      'primary:restart',
    ] as const) {
      store.on(event, (payload: unknown) => events.push({ event, payload }));
    }
    // Calls made while the first connection attempt is in flight, then after it failed.
    const calls = async () => [
      await failure(() => store.set('sec:k', 'v')),
      await failure(() => store.get('sec:k')),
      await failure(() => store.getMany(['sec:k'])),
      await failure(() => store.delete('sec:k')),
      await failure(() => store.clear()),
      await failure(() => store.warm({ match: '*' })),
    ];
    const results = [...(await calls())];
    await waitFor('a refused login to be reported', () =>
      events.some(
        (e) =>
          (e as { event: string; payload: { error?: { code?: string } } }).event === 'primary:connection' &&
          (e as { payload: { error?: { code?: string } } }).payload.error?.code === 'E_PRIMARY_AUTH',
      ),
    );
    results.push(...(await calls()));
    await sleep(300);
    const auth = events.find(
      (e) => (e as { payload: { error?: { code?: string } } }).payload.error?.code === 'E_PRIMARY_AUTH',
    ) as { payload: { error: Error } };
    expect(auth.payload.error.message).toContain(`127.0.0.1:${server.port}`);
    // The calls made during the first connection attempt failed: their events are checked too.
    expect(events.filter((e) => (e as { event: string }).event === 'primary:failure').length).toBeGreaterThan(0);
    expectNoSecret(events);
    expectNoSecret(results);
    expectNoSecret(store.stats());
    expectNoSecret(inspect(store, { depth: 6, showHidden: true }));
  });
});

// =================================================================================================

describe('constructor options a careless user passes', () => {
  const url = 'redis://127.0.0.1:1';
  const bad: Array<[string, Record<string, unknown>, string | RegExp]> = [
    ['fallback as a string', { fallback: 'lru' }, 'fallback'],
    ['fallback as a Map', { fallback: new Map() }, 'fallback'],
    ['fallback as an array', { fallback: [1] }, 'fallback'],
    ['fallback null', { fallback: null }, 'fallback'],
    ['a misspelt fallback option', { fallback: { maxEntries: 5 } }, 'fallback.maxEntries'],
    ['fallback.max past what can be allocated', { fallback: { max: Number.MAX_SAFE_INTEGER } }, 'fallback.max'],
    ['a namespace with a lone surrogate', { namespace: 'n\uD800' }, 'namespace'],
    ['a non-string namespace', { namespace: 42 }, 'namespace'],
  ];

  it.each(bad)('%s', (_, options, option) => {
    expectInvalidOption(constructionFailure({ primary: url, ...options }), option);
  });

  const huge: Array<[string, (n: number) => Record<string, unknown>, string | RegExp]> = [
    ['a long clientName', (n) => ({ primary: url, clientName: `${'k'.repeat(n)} ` }), 'clientName'],
    [
      'a long namespace with a lone surrogate',
      (n) => ({ primary: url, namespace: `${'k'.repeat(n)}\uD800` }),
      'namespace',
    ],
    ['a long URL with a bad port', (n) => ({ primary: `redis://${'k'.repeat(n)}:99999` }), 'primary'],
    [
      'a long URL with credentials and a bad port',
      (n) => ({ primary: `redis://u:${'p'.repeat(n)}@h:99999` }),
      'primary',
    ],
    ['a long unknown option name', (n) => ({ primary: url, ['k'.repeat(n)]: 1 }), /^k+$/],
    ['a long unknown option value', (n) => ({ primary: url, operationTimeout: 'k'.repeat(n) }), 'operationTimeout'],
  ];

  it.each(huge)('%s: a short error, in linear time (50,000 then 1,048,576 characters)', (_, options, option) => {
    for (const n of [50_000, 1 << 20]) {
      const started = performance.now();
      const error = constructionFailure(options(n));
      const ms = Math.round(performance.now() - started);
      expect(ms, `${n} characters took ${ms} ms`).toBeLessThan(n === 50_000 ? 250 : 2_000);
      expectInvalidOption(error, option);
      expect(
        (error as Error).message.length,
        `a message of ${(error as Error).message.length} characters`,
      ).toBeLessThan(4_096);
    }
  });
});
