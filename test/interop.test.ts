import KeyvRedis, { createClient } from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Cacheable } from 'cacheable';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, MemoryTier, TieredStore } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

// TieredStore next to what users already run: plain @keyv/redis on the same keys, cache-manager 7
// and cacheable on top of it, and one pooled connection under load.

describe('interop with plain @keyv/redis, cache-manager and cacheable', () => {
  let server: RedisServer;
  const open: Array<{ disconnect(): Promise<void> }> = [];

  function tiered(options: Partial<ConstructorParameters<typeof TieredStore>[0]> = {}): TieredStore {
    const store = new TieredStore({ primary: server.url, ...options });
    open.push(store);
    return store;
  }
  function plain(): KeyvRedis<unknown> {
    const store = new KeyvRedis(server.url);
    open.push(store);
    return store;
  }

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.disconnect().catch(() => {})));
    await server.stop();
  });

  it('reads what plain Keyv + @keyv/redis wrote, with the same key layout', async () => {
    const writer = new Keyv({ store: plain() });
    await writer.set('interop:a', { n: 1 }, 60_000);
    await writer.set('interop:forever', 'no ttl');
    const reader = new Keyv({ store: tiered() });
    expect(await reader.get('interop:a')).toEqual({ n: 1 });
    expect(await reader.get('interop:forever')).toBe('no ttl');
    expect(await reader.get(['interop:a', 'interop:missing'])).toEqual([{ n: 1 }, undefined]);
  });

  it('writes what plain Keyv + @keyv/redis reads, in namespaces too', async () => {
    const writer = new Keyv({ store: tiered(), namespace: 'app' });
    await writer.set('interop:b', [1, 2, 3], 60_000);
    await writer.setMany([{ key: 'interop:c', value: 'c' }]);
    const reader = new Keyv({ store: plain(), namespace: 'app' });
    expect(await reader.get('interop:b')).toEqual([1, 2, 3]);
    expect(await reader.get('interop:c')).toBe('c');
    await writer.delete('interop:b');
    expect(await reader.get('interop:b')).toBeUndefined();
  });

  it('takes an existing KeyvRedis and makes its failures honest', async () => {
    const adapter = new KeyvRedis(server.url);
    const store = tiered({ primary: adapter });
    expect(adapter.throwOnErrors).toBe(true);
    expect((adapter.client as { options?: { disableOfflineQueue?: boolean } }).options?.disableOfflineQueue).toBe(true);
    const keyv = new Keyv({ store });
    expect(await keyv.set('interop:given', 'yes')).toBe(true);
    expect(await new Keyv({ store: plain() }).get('interop:given')).toBe('yes');
  });

  it('works as the Keyv store inside cache-manager 7', async () => {
    const store = tiered();
    const cache = createCache({ stores: [new Keyv({ store })] });
    await cache.set('interop:cm', { price: 42 }, 60_000);
    expect(await cache.get('interop:cm')).toEqual({ price: 42 });
    expect(await new Keyv({ store: plain() }).get('interop:cm')).toEqual({ price: 42 });
    expect(await cache.mget(['interop:cm', 'interop:none'])).toEqual([{ price: 42 }, undefined]);
    expect(await cache.del('interop:cm')).toBe(true);
    expect(await cache.get('interop:cm')).toBeUndefined();
    expect(store.stats().primaryFailures).toBe(0);
  });

  it("works as cacheable's secondary", async () => {
    const store = tiered();
    const writer = new Cacheable({ secondary: new Keyv({ store }) });
    await writer.set('interop:cacheable', 'L2 value', '1m');
    // A second instance with an empty L1 must go to the secondary, i.e. through TieredStore to Redis.
    const reader = new Cacheable({ secondary: new Keyv({ store: tiered() }) });
    expect(await reader.get('interop:cacheable')).toBe('L2 value');
    expect(await new Keyv({ store: plain() }).get('interop:cacheable')).toBe('L2 value');
  });

  it('uses one connection for 1,000 concurrent operations', async () => {
    const store = tiered({ clientName: 'pool-probe' });
    const keyv = new Keyv({ store });
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        i % 2 === 0 ? keyv.set(`pool:${i % 100}`, i, 60_000) : keyv.get(`pool:${i % 100}`),
      ),
    );
    expect(store.stats().primaryFailures).toBe(0);
    const admin = createClient({ url: server.url });
    await admin.connect();
    const list = await admin.clientList();
    await admin.close();
    expect(list.filter((client) => client.name === 'pool-probe')).toHaveLength(1);
  });
});

describe("serialization: 'store' (objects in memory, Keyv's format in Redis)", () => {
  let server: RedisServer;
  const open: Array<{ disconnect(): Promise<void> }> = [];
  const off = { serialize: undefined, deserialize: undefined } as unknown as ConstructorParameters<typeof Keyv>[0];

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.disconnect().catch(() => {})));
    await server.stop();
  });

  function fast(): { store: TieredStore; keyv: Keyv } {
    const store = new TieredStore({ primary: server.url, serialization: 'store', readPolicy: 'memory-first' });
    open.push(store);
    return { store, keyv: new Keyv({ store, ...off }) };
  }
  function plain(): Keyv {
    const store = new KeyvRedis(server.url);
    open.push(store);
    return new Keyv({ store });
  }

  it('writes what plain Keyv + @keyv/redis reads, and reads what it writes', async () => {
    const { keyv } = fast();
    await keyv.set('obj:a', { price: 42, tags: ['x'], raw: Buffer.from('hi') }, 60_000);
    const read = (await plain().get('obj:a')) as { price: number; tags: string[]; raw: Buffer };
    expect(read.price).toBe(42);
    expect(read.tags).toEqual(['x']);
    expect(Buffer.isBuffer(read.raw) && read.raw.toString()).toBe('hi');
    await plain().set('obj:b', { from: 'plain' }, 60_000);
    expect(await fast().keyv.get('obj:b')).toEqual({ from: 'plain' });
  });

  it('hands out the same frozen object on every memory hit: no parsing, no shared mutation', async () => {
    const { store, keyv } = fast();
    const original = { nested: { n: 1 }, list: [1, 2] };
    await keyv.set('obj:frozen', original, 60_000);
    // The caller's own object is left alone; the cached copy is a separate, frozen one.
    expect(Object.isFrozen(original)).toBe(false);
    const first = (await keyv.get('obj:frozen')) as typeof original;
    const second = await keyv.get('obj:frozen');
    expect(second).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.nested) && Object.isFrozen(first.list)).toBe(true);
    expect(() => {
      first.nested.n = 2;
    }).toThrow(TypeError);
    expect(store.stats().hits.memory).toBe(2);
  });

  it('reuses the frozen copy when Redis returns the text it came from, and decodes a changed one', async () => {
    const memory = new MemoryTier({ maxSize: 1 << 20 });
    const store = new TieredStore({ primary: server.url, serialization: 'store', fallback: memory });
    open.push(store);
    const keyv = new Keyv({ store, ...off });
    const other = plain();
    await other.set('obj:reuse', { n: 1, list: [{ a: 1 }] }, 60_000);
    // Primary-first: every get reads Redis; the same text gives back the object decoded the first time.
    const first = (await keyv.get('obj:reuse')) as { n: number; list: Array<{ a: number }> };
    const second = await keyv.get('obj:reuse');
    expect(second).toBe(first);
    expect(Object.isFrozen(first.list[0])).toBe(true);
    // The text is kept beside the object, and counted: once for the object, once for itself.
    const key = 'keyv::keyv:obj:reuse';
    const text = String(await server.command(['GET', key]));
    expect(memory.calculatedSize).toBe(2 * text.length + key.length + ENTRY_OVERHEAD_BYTES);
    // Another writer changes the value (same length, so nothing but the bytes tell them apart).
    await other.set('obj:reuse', { n: 2, list: [{ a: 1 }] }, 60_000);
    const third = (await keyv.get('obj:reuse')) as typeof first;
    expect(third).not.toBe(first);
    expect(third).toEqual({ n: 2, list: [{ a: 1 }] });
    expect(first.n).toBe(1);
    expect(store.stats().timeouts).toBe(0);
  });

  it('a value holding a Buffer (which cannot be frozen) is decoded afresh by every primary read', async () => {
    const store = new TieredStore({ primary: server.url, serialization: 'store' });
    open.push(store);
    const keyv = new Keyv({ store, ...off });
    await keyv.set('obj:buffer', { buf: Buffer.from('hello') }, 60_000);
    const first = (await keyv.get('obj:buffer')) as { buf: Buffer };
    first.buf[0] = 0x4a; // A caller changes what it was handed.
    const second = (await keyv.get('obj:buffer')) as { buf: Buffer };
    expect(second).not.toBe(first);
    expect(second.buf.toString()).toBe('hello');
    expect(store.stats().hits.primary).toBe(2);
  });

  it('a value too big for maxEntrySize with its text, not without, is kept without it', async () => {
    const memory = new MemoryTier({ maxEntrySize: 8_000 });
    const store = new TieredStore({ primary: server.url, serialization: 'store', fallback: memory });
    open.push(store);
    const keyv = new Keyv({ store, ...off });
    await keyv.set('obj:big', { text: 'x'.repeat(5_000) }, 60_000);
    expect([memory.size, memory.oversize]).toEqual([1, 0]);
    expect(await keyv.get('obj:big')).toEqual({ text: 'x'.repeat(5_000) });
    expect([memory.size, memory.oversize]).toEqual([1, 0]);
  });

  it('an enumerable property on Object.prototype (a sloppy polyfill) changes nothing', async () => {
    const store = new TieredStore({ primary: server.url, serialization: 'store' });
    open.push(store);
    const keyv = new Keyv({ store, ...off });
    const proto = Object.prototype as Record<string, unknown>;
    proto.pollutedDefaults = { locale: 'en' };
    try {
      expect(await keyv.set('obj:polluted', { a: { b: 1 } }, 60_000)).toBe(true);
      const read = (await keyv.get('obj:polluted')) as { a: { b: number } };
      expect(read).toEqual({ a: { b: 1 } });
      expect(Object.isFrozen(read.a)).toBe(true);
    } finally {
      delete proto.pollutedDefaults;
    }
  });

  it('keeps Redis in Keyv format through reconciliation by replay', async () => {
    const store = new TieredStore({
      primary: server.url,
      serialization: 'store',
      reconcile: 'replay',
      reconnectMaxDelayMs: 50,
    });
    open.push(store);
    const keyv = new Keyv({ store, ...off });
    await keyv.set('obj:warm', 1);
    await server.kill();
    await keyv.set('obj:replayed', { during: 'outage' }, 60_000);
    const closed = new Promise<void>((resolve) => store.on('circuit:state', (e) => e.to === 'closed' && resolve()));
    await server.restart();
    await closed;
    expect(await plain().get('obj:replayed')).toEqual({ during: 'outage' });
  });
});
