import { describe, expect, it } from 'vitest';
import { redactUrl } from '../adapters/redis-url.js';
import { InvalidOptionError, MemoryTier, TieredStore } from '../src/index.js';

const url = 'redis://127.0.0.1:1';

describe('bad options fail at construction, naming the option and quoting the value', () => {
  it.each([
    [{ primary: 'http://example.test' }, 'primary', '"http://example.test"'],
    [{ primary: 42 }, 'primary', '42'],
    [{ primary: { get() {} } }, 'primary', '[object Object]'],
    [{ primary: url, readPolicy: 'cache-first' }, 'readPolicy', '"cache-first"'],
    [{ primary: url, operationTimeoutMs: 0 }, 'operationTimeoutMs', '0'],
    [{ primary: url, operationTimeoutMs: '100' }, 'operationTimeoutMs', '"100"'],
    [{ primary: url, memoryTtlMs: -1 }, 'memoryTtlMs', '-1'],
    [{ primary: url, nearCacheLeaseMs: 2 }, 'nearCacheLeaseMs', '2'],
    [{ primary: url, nearCacheLeaseMs: '300' }, 'nearCacheLeaseMs', '"300"'],
    [{ primary: url, restartRecovery: 'all' }, 'restartRecovery', '"all"'],
    // The near-cache tracks one server's invalidations: refused on a cluster, not half done.
    [{ primary: { cluster: { rootNodes: [{ url }] } }, readPolicy: 'near-cache' }, 'readPolicy', '"near-cache"'],
    [{ primary: url, connectTimeoutMs: Number.POSITIVE_INFINITY }, 'connectTimeoutMs', 'Infinity'],
    [{ primary: url, reconnectMinDelayMs: 100, reconnectMaxDelayMs: 50 }, 'reconnectMaxDelayMs', '50'],
    [{ primary: url, clientName: 'has space' }, 'clientName', '"has space"'],
    [{ primary: url, fallbackWritesSucceed: 'yes' }, 'fallbackWritesSucceed', '"yes"'],
    [{ primary: url, journalMaxKeys: 1.5 }, 'journalMaxKeys', '1.5'],
    [{ primary: url, fallback: { max: 0 } }, 'fallback.max', '0'],
    [{ primary: url, fallback: { maxSize: -1 } }, 'fallback.maxSize', '-1'],
    [{ primary: url, fallback: { maxSize: 100, maxEntrySize: 200 } }, 'fallback.maxEntrySize', '200'],
    [{ primary: url, fallback: { sizeOf: 3 } }, 'fallback.sizeOf', '3'],
    [{ primary: url, clock: {} }, 'clock', '{}'],
    // An unknown option's value is never quoted (it may be `{ password }`): the known names are.
    [{ primary: url, operationTimeout: 100 }, 'operationTimeout', 'operationTimeoutMs'],
  ])('%j', (options, option, quoted) => {
    let error: unknown;
    try {
      new TieredStore(options as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    const e = error as InvalidOptionError;
    expect(e.name).toBe('InvalidOptionError');
    expect(e.code).toBe('E_INVALID_OPTION');
    expect(e.option).toBe(option);
    expect(e.message).toContain(`\`${option}\``);
    expect(e.message).toContain(quoted);
  });

  it('never echoes a password from a bad URL', () => {
    expect(() => new TieredStore({ primary: 'http://admin:s3cret@example.test' })).toThrowError(
      /"http:\/\/\*\*\*@example\.test"/,
    );
    expect(() => new TieredStore({ primary: 'http://admin:s3cret@example.test' })).not.toThrowError(/s3cret/);
  });

  it('rejects a missing options object', () => {
    expect(() => new TieredStore(undefined as never)).toThrowError(/`options`/);
  });

  it('accepts a shared MemoryTier and exposes it', async () => {
    const tier = new MemoryTier({ max: 5 });
    const a = new TieredStore({ primary: url, fallback: tier });
    const b = new TieredStore({ primary: url, fallback: tier });
    expect(a.fallback).toBe(tier);
    expect(b.fallback).toBe(tier);
    await Promise.all([a.disconnect(), b.disconnect()]);
  });
});

describe('redactUrl', () => {
  it.each([
    ['redis://:s3cret@host:6379', 'redis://***@host:6379'],
    ['redis://user:s3cret@host:6379/2', 'redis://***@host:6379/2'],
    ['redis://:wr@ng-pass@host:6379', 'redis://***@host:6379'],
    ['rediss://u:p/a:ss@host', 'rediss://***@host'],
    ['redis://host:6379', 'redis://host:6379'],
    // A userinfo without a colon is a secret too: node-redis sends it as the password of `default`.
    ['redis://SECRET@host', 'redis://***@host'],
    ['SECRET@host:6379', '***@host:6379'],
  ])('%s -> %s', (url, safe) => {
    expect(redactUrl(url)).toBe(safe);
  });
});
