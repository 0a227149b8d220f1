import KeyvRedis, { createClient } from '@keyv/redis';
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyvCodec } from '../src/codec.js';
import { TieredStore } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

// serialization: 'store' reads Keyv's format at JSON.parse speed unless the text holds a marked
// string (Keyv's `::` escape or `:base64:` Buffer); whatever path it takes, it reads exactly what
// Keyv's own deserializer reads, and writes exactly Keyv's bytes.

/** Values that exercise every mark of Keyv's format, and the places a mark may hide. */
const VALUES: Array<[string, unknown]> = [
  ['plain object', { a: 1, b: 'x', c: [1, 'y', null], d: { e: true } }],
  ['a string starting with :', { s: ':colon' }],
  ['a string that is Keyv-escaped already', { s: '::two' }],
  ['a string that looks like a Buffer', { s: ':base64:aGk=' }],
  ['a Buffer', { raw: Buffer.from('hi there') }],
  ['a Buffer in an array', { list: [1, Buffer.from([0, 255]), ':x'] }],
  ['a colon string first in an array', [':first', 'second']],
  ['a key starting with :', { ':key': 'v', k: { ':deep': ':v' } }],
  ['colons inside strings only', { s: 'a:b', t: 'x":y', u: '[":' }],
  ['quotes and escapes', { s: 'he said "hi"', t: '\\":', u: '\u2028\u0000' }],
  ['a date', { at: new Date(1_700_000_000_000) }],
  ['an envelope with expires', { value: { n: 1 }, expires: 1_800_000_000_000 }],
];

describe('keyvCodec', () => {
  it("decodes Keyv's serialized text exactly as Keyv's own deserializer does", () => {
    for (const [name, value] of VALUES) {
      const text = defaultSerialize(value);
      expect([name, keyvCodec.decode(text)]).toEqual([name, defaultDeserialize(text)]);
    }
  });

  it('decodes marked strings in text other writers format (whitespace around the tokens)', () => {
    const texts = ['{ "value" : ":x" }', '[ "::y" , ":base64:aGk=" ]', '  ":top"', '{"a":\n":b"}'];
    for (const text of texts) expect([text, keyvCodec.decode(text)]).toEqual([text, defaultDeserialize(text)]);
    const decoded = keyvCodec.decode('[ "::y" , ":base64:aGk=" ]') as [string, Buffer];
    expect(decoded[0]).toBe(':y');
    expect(Buffer.isBuffer(decoded[1]) && decoded[1].toString()).toBe('hi');
  });

  it("encodes Keyv's bytes, and what it encodes reads back as Keyv reads it", () => {
    for (const [name, value] of VALUES) {
      const text = keyvCodec.encode(value);
      expect([name, text]).toEqual([name, defaultSerialize(value)]);
      expect([name, keyvCodec.decode(text)]).toEqual([name, defaultDeserialize(text)]);
    }
  });

  it('hands out frozen copies, and text that is not JSON as it is', () => {
    const decoded = keyvCodec.decode('{"value":{"n":[1]}}') as { value: { n: number[] } };
    expect(Object.isFrozen(decoded) && Object.isFrozen(decoded.value) && Object.isFrozen(decoded.value.n)).toBe(true);
    expect(keyvCodec.decode('not json')).toBe('not json');
  });
});

describe("serialization: 'store' next to plain Keyv + @keyv/redis, byte for byte", () => {
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

  function fast(): Keyv {
    const store = new TieredStore({ primary: server.url, serialization: 'store' });
    open.push(store);
    return new Keyv({ store, namespace: 'codec', ...off });
  }
  function plain(): Keyv {
    const store = new KeyvRedis(server.url);
    open.push(store);
    return new Keyv({ store, namespace: 'codec' });
  }

  it('writes the bytes plain Keyv writes, and each reads what the other wrote', async () => {
    const raw = createClient({ url: server.url });
    await raw.connect();
    try {
      const [ours, theirs] = [fast(), plain()];
      for (const [i, [name, value]] of VALUES.entries()) {
        expect(await ours.set(`ours:${i}`, value)).toBe(true);
        expect(await theirs.set(`theirs:${i}`, value)).toBe(true);
        const [a, b] = await Promise.all([raw.get(`codec::codec:ours:${i}`), raw.get(`codec::codec:theirs:${i}`)]);
        expect([name, a]).toEqual([name, b]);
        const expected = await theirs.get(`theirs:${i}`);
        // A fresh store reads from Redis, not from its memory copy.
        expect([name, await fast().get(`theirs:${i}`)]).toEqual([name, expected]);
        expect([name, await theirs.get(`ours:${i}`)]).toEqual([name, expected]);
      }
    } finally {
      await raw.close();
    }
  });
});
