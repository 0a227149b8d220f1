import { describe, expect, it } from 'vitest';
import {
  defineTtlCategories,
  InvalidArgumentError,
  NamespaceRequiredError,
  type PrimaryFailureEvent,
  TieredStore,
  type TieredStoreOptions,
  UnknownTtlCategoryError,
} from '../src/index.js';
import { ManualClock } from './helpers/manual-clock.js';
import { ScriptedError, ScriptedPrimary } from './helpers/scripted-primary.js';

// The store's policy (breaker, journal, reconciliation and its ordering, restart detection, the
// read-fill race, batch deadlines, input checks) against a scripted primary on the manual clock:
// deterministic, in milliseconds. What Redis itself does is tested against a real redis-server
// elsewhere (conformance, outage, chaos, multi-instance).

/** Lets promise chains and the deadline's after-I/O turn run. */
const flush = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup(options: Partial<TieredStoreOptions> = {}) {
  const clock = new ManualClock();
  const primary = new ScriptedPrimary();
  const failures: PrimaryFailureEvent[] = [];
  const store = new TieredStore({
    primary,
    clock,
    namespace: 'ns',
    breaker: { cooldownMs: 1_000, maxCooldownMs: 1_000 },
    ...options,
  });
  store.on('primary:failure', (event) => failures.push(event));
  return { clock, primary, store, failures };
}

/** Times out `count` writes against a held primary: the breaker opens at 5 in a row. */
async function timeOutWrites(h: ReturnType<typeof setup>, keys: string[]): Promise<boolean[]> {
  h.primary.hold();
  const writes = keys.map((key) => h.store.set(key, `v:${key}`));
  h.clock.advance(100);
  await flush();
  return Promise.all(writes);
}

describe('a read in flight never undoes a newer local write', () => {
  it('get, then set before the answer: memory keeps the newer value', async () => {
    const h = setup({ readPolicy: 'memory-first' });
    h.primary.data.set('ns::ns:k', { value: 'old', ttlMs: undefined });
    h.primary.hold();
    const read = h.store.get('ns:k');
    const write = h.store.set('ns:k', 'new');
    h.primary.release();
    expect(await read).toBe('old');
    expect(await write).toBe(true);
    expect(h.store.fallback.get('ns::ns:k')?.value).toBe('new');
    expect(await h.store.get('ns:k')).toBe('new');
  });

  it('get, then delete before the answer: the deleted copy is not re-created', async () => {
    const h = setup({ readPolicy: 'memory-first' });
    h.primary.data.set('ns::ns:k', { value: 'old', ttlMs: undefined });
    await h.store.get('ns:k');
    h.clock.advance(5_000);
    h.primary.hold();
    const read = h.store.get('ns:k');
    const deleted = h.store.delete('ns:k');
    h.primary.release();
    await Promise.all([read, deleted]);
    expect(h.store.fallback.get('ns::ns:k')).toBeUndefined();
  });

  it('getMany and warm obey the same rule; a read sent after the write fills as usual', async () => {
    const h = setup();
    h.primary.data.set('ns::ns:a', { value: 'old-a', ttlMs: undefined });
    h.primary.data.set('ns::ns:b', { value: 'old-b', ttlMs: undefined });
    h.primary.hold();
    const batch = h.store.getMany(['ns:a', 'ns:b']);
    const write = h.store.set('ns:a', 'new-a');
    h.primary.release();
    expect(await batch).toEqual(['old-a', 'old-b']);
    await write;
    expect(h.store.fallback.get('ns::ns:a')?.value).toBe('new-a');
    expect(h.store.fallback.get('ns::ns:b')?.value).toBe('old-b');

    h.primary.hold();
    const warming = h.store.warm({ match: '*' });
    await flush();
    const deleted = h.store.delete('ns:b');
    h.primary.release();
    await flush();
    h.primary.release();
    await Promise.all([warming, deleted]);
    expect(h.store.fallback.get('ns::ns:b')).toBeUndefined();
    expect(await h.store.get('ns:a')).toBe('new-a');
  });
});

describe('breaker, journal and reconciliation', () => {
  it('opens after 5 unreachable-primary failures in a row; server refusals do not count', async () => {
    const h = setup();
    h.primary.failWith('command');
    for (let i = 0; i < 10; i++) expect(await h.store.set(`ns:k${i}`, 'v')).toBe(false);
    expect(h.store.circuitState).toBe('closed');
    expect(h.failures.map((f) => f.error.code)).toEqual(new Array(10).fill('E_PRIMARY_COMMAND'));
    h.primary.failWith('unavailable');
    for (let i = 0; i < 5; i++) await h.store.get(`ns:other${i}`);
    expect(h.store.circuitState).toBe('open');
  });

  it('a late answer on a timed-out call probes at once and reconciles before any user call', async () => {
    const h = setup();
    const keys = ['ns:a', 'ns:b', 'ns:c', 'ns:d', 'ns:e'];
    expect(await timeOutWrites(h, keys)).toEqual([false, false, false, false, false]);
    expect(h.store.circuitState).toBe('open');
    expect(h.store.journal.size).toBe(5);
    const before = h.primary.log.length;
    // The partition heals: the held writes land late, on top of whatever was there.
    h.primary.release();
    await flush(10);
    // No cooldown waited for (the clock did not move): the late answers triggered the probe.
    expect(h.store.circuitState).toBe('closed');
    expect(h.primary.log.slice(before)).toEqual(['probe', `deleteMany ${keys.map((k) => `ns::${k}`).join(',')}`]);
    expect([...h.primary.data.keys()]).toEqual([]);
    expect(h.store.journal.pending).toBe(0);
  });

  it('a refused write (OOM) is reconciled as soon as the primary takes a write again, not at the retry', async () => {
    const h = setup();
    const reports: Array<{ pending: number }> = [];
    h.store.on('reconcile:done', (report) => reports.push(report));
    h.primary.failWith('command');
    expect(await h.store.set('ns:refused', 'v')).toBe(false);
    h.clock.advance(20);
    await flush();
    // The reconciliation was refused too: the next try waits for the retry delay (1 s)...
    expect(h.store.journal.pending).toBe(1);
    h.primary.failWith(undefined);
    // ...unless a write succeeds first, which proves the primary takes writes again.
    expect(await h.store.set('ns:accepted', 'v')).toBe(true);
    h.clock.advance(0);
    await flush();
    expect(h.store.journal.pending).toBe(0);
    expect(reports).toEqual([expect.objectContaining({ keys: 1, pending: 0 })]);
  });

  it('delete and deleteMany tell the truth while the breaker is open, and are reconciled', async () => {
    const h = setup();
    h.primary.data.set('ns::ns:k', { value: 'v', ttlMs: undefined });
    await timeOutWrites(h, ['ns:1', 'ns:2', 'ns:3', 'ns:4', 'ns:5']);
    h.primary.dropHeld();
    expect(await h.store.delete('ns:k')).toBe(false);
    expect(await h.store.deleteMany(['ns:k', 'ns:x'])).toBe(false);
    expect(h.primary.data.has('ns::ns:k')).toBe(true);
    h.primary.connection('down');
    h.primary.connection('ready');
    await flush(10);
    expect(h.store.circuitState).toBe('closed');
    expect(h.primary.data.has('ns::ns:k')).toBe(false);
  });

  it("restartRecovery 'own-writes': a restarted primary (new run id) gets the keys this instance wrote recently invalidated", async () => {
    const h = setup({ restartRecovery: 'own-writes' });
    h.primary.connection('ready');
    await flush();
    await h.store.set('ns:mine', 'v2');
    h.primary.data.set('ns::ns:mine', { value: 'snapshot-old', ttlMs: undefined });
    h.primary.data.set('other::other:x', { value: 'foreign', ttlMs: undefined });
    const restarts: unknown[] = [];
    h.store.on('primary:restart', (event) => restarts.push(event));
    h.primary.serverId = 'run-2';
    h.primary.connection('down');
    h.primary.connection('ready');
    await flush(10);
    expect(restarts).toEqual([{ serverId: 'run-2', keys: 1, namespaces: 0 }]);
    expect(h.primary.data.has('ns::ns:mine')).toBe(false);
    expect(h.primary.data.get('other::other:x')?.value).toBe('foreign');
  });

  it("restartRecovery 'namespace' (default): a restarted primary gets the namespace's own keys deleted before the breaker closes", async () => {
    const h = setup();
    h.primary.connection('ready');
    await flush();
    await h.store.set('ns:mine', 'v2');
    h.primary.data.set('ns::ns:mine', { value: 'snapshot-old', ttlMs: undefined });
    h.primary.data.set('ns::ns:theirs', { value: 'snapshot-old', ttlMs: undefined });
    h.primary.data.set('other::other:x', { value: 'foreign', ttlMs: undefined });
    const recovered: unknown[] = [];
    h.store.on('restart:recovered', (event) => recovered.push(event));
    h.primary.serverId = 'run-2';
    h.primary.connection('down');
    h.primary.connection('ready');
    await flush(10);
    expect(recovered).toEqual([{ serverId: 'run-2', namespace: 'ns::ns:' }]);
    // Keys it never wrote too; another namespace's keys stay.
    expect([...h.primary.data.keys()]).toEqual(['other::other:x']);
    expect(h.store.circuitState).toBe('closed');
    expect(await h.store.get('ns:theirs')).toBeUndefined();
  });

  it('namespace recovery that fails midway carries on with its own marker at the next probe (no wait for its TTL)', async () => {
    const h = setup();
    h.primary.markers(true);
    h.primary.connection('ready');
    await flush();
    h.primary.data.set('ns::ns:old', { value: 'snapshot-old', ttlMs: undefined });
    h.primary.serverId = 'run-2';
    // The clear's SCAN fails (the new process is still busy): the probe fails, the breaker stays open.
    const clear = h.primary.clear.bind(h.primary);
    let failures = 1;
    h.primary.clear = (scope, step) =>
      failures-- > 0 ? Promise.reject(new ScriptedError('unavailable')) : clear(scope, step);
    h.primary.connection('down');
    h.primary.connection('ready');
    await flush(10);
    expect(h.store.circuitState).not.toBe('closed');
    expect(h.primary.data.has('ns::ns:old')).toBe(true);
    // The cooldown, with its jitter.
    h.clock.advance(1_300);
    await flush(10);
    expect(h.store.circuitState).toBe('closed');
    expect(h.primary.data.has('ns::ns:old')).toBe(false);
    expect(h.primary.data.get('keyv-failsafe:recovered:run-2:ns::ns:')?.value).toBe('done');
  });

  it('namespace recovery: an instance that finds another one working waits (breaker open) until the marker says done', async () => {
    const h = setup();
    h.primary.markers(true);
    h.primary.connection('ready');
    await flush();
    h.primary.data.set('keyv-failsafe:recovered:run-2:ns::ns:', { value: 'working:someone-else', ttlMs: undefined });
    h.primary.data.set('ns::ns:k', { value: 'snapshot-old', ttlMs: undefined });
    h.primary.serverId = 'run-2';
    h.primary.connection('down');
    h.primary.connection('ready');
    await flush(10);
    expect(h.store.circuitState).not.toBe('closed');
    // Memory answers meanwhile: never the snapshot-old value.
    expect(await h.store.get('ns:k')).toBeUndefined();
    // The other instance finishes.
    h.primary.data.delete('ns::ns:k');
    h.primary.data.set('keyv-failsafe:recovered:run-2:ns::ns:', { value: 'done', ttlMs: undefined });
    // The cooldown, with its jitter.
    h.clock.advance(1_300);
    await flush(10);
    expect(h.store.circuitState).toBe('closed');
    expect(h.primary.log.filter((c) => c.startsWith('clear'))).toEqual([]);
  });

  it('a restart that loaded nothing from disk costs nothing: no namespace recovery', async () => {
    const h = setup();
    h.primary.markers(false);
    h.primary.connection('ready');
    await flush();
    h.primary.serverId = 'run-2';
    h.primary.connection('down');
    h.primary.connection('ready');
    await flush(10);
    expect(h.store.circuitState).toBe('closed');
    expect(h.primary.log.filter((c) => c.startsWith('clear') || c.startsWith('setIfAbsent'))).toEqual([]);
  });

  it('a journal overflow invalidates only keys the namespace owns, with a glob-escaped pattern', async () => {
    const h = setup({ namespace: 'a*', journalMaxKeys: 2 });
    const foreign = ['a*::a*x:1', 'a*x::a*x:1', 'ab::ab:1', 'a*::b::a*::b:1', 'bare', 'b::zzz'];
    for (const key of foreign) h.primary.data.set(key, { value: 'foreign', ttlMs: undefined });
    h.primary.data.set('a*::a*:old', { value: 'ours', ttlMs: undefined });
    await timeOutWrites(h, ['a*:1', 'a*:2', 'a*:3', 'a*:4', 'a*:5']);
    expect(h.store.stats().journal.overflows).toBe(3);
    h.primary.release();
    await flush(10);
    expect(h.store.circuitState).toBe('closed');
    expect(h.primary.log).toContain('clear a\\*::a\\*:*');
    expect([...h.primary.data.keys()].sort()).toEqual([...foreign].sort());
  });
});

describe('the memory tier the store builds', () => {
  it("runs on the store's clock, also from options given as a null-prototype object", async () => {
    const h = setup({ fallback: Object.assign(Object.create(null) as object, { max: 10 }) });
    expect(await h.store.set('ns:k', 'v', 1_000)).toBe(true);
    expect(h.store.fallback.get('ns::ns:k')?.value).toBe('v');
    h.clock.advance(1_000);
    expect(h.store.fallback.get('ns::ns:k')).toBeUndefined();
  });
});

describe('deadlines', () => {
  it('scale with the batch: a 10,000-entry setMany is not a timeout at 100 ms', async () => {
    const h = setup();
    h.primary.hold();
    const entries = Array.from({ length: 10_000 }, (_, i) => ({ key: `ns:k${i}`, value: 'v' }));
    const batch = h.store.setMany(entries);
    h.clock.advance(150);
    await flush();
    h.primary.release();
    expect((await batch).every(Boolean)).toBe(true);
    expect(h.store.stats().timeouts).toBe(0);
  });

  it('a reply received by the time the deadline fires is not reported as a timeout', async () => {
    const h = setup();
    h.primary.hold();
    const write = h.store.set('ns:k', 'v');
    h.clock.advance(100);
    // The timer fired; the reply is processed in the same turn, before the deadline rejects.
    h.primary.release();
    expect(await write).toBe(true);
    expect(h.store.stats().timeouts).toBe(0);
  });
});

describe('reads count the same way on every path', () => {
  it('has counts a memory-first hit; hasMany answers each key from the tier that holds its truth', async () => {
    const h = setup({ readPolicy: 'memory-first' });
    await h.store.set('ns:mem', 'v');
    const hits = h.store.stats().hits.memory;
    expect(await h.store.has('ns:mem')).toBe(true);
    expect(h.store.stats().hits.memory).toBe(hits + 1);
    // One key journaled (a refused write), one only Redis holds: each answered by its own truth.
    h.primary.data.set('ns::ns:redis-only', { value: 'v', ttlMs: undefined });
    h.primary.failWith('command');
    await h.store.set('ns:journaled', 'v');
    h.primary.failWith(undefined);
    h.clock.advance(5_000);
    expect(await h.store.hasMany(['ns:journaled', 'ns:redis-only', 'ns:none'])).toEqual([true, true, false]);
  });
});

describe('bad input is rejected at the boundary and never counts as an outage', () => {
  it.each([
    ['get', (s: TieredStore) => s.get(42 as unknown as string)],
    ['get (lone surrogate)', (s: TieredStore) => s.get('ns:\uD800')],
    ['set (object with serialization keyv)', (s: TieredStore) => s.set('ns:k', { a: 1 })],
    ['set (negative ttl)', (s: TieredStore) => s.set('ns:k', 'v', -1)],
    ['set (ttl Redis cannot keep)', (s: TieredStore) => s.set('ns:k', 'v', 2 ** 60)],
    ['setMany (not an array)', (s: TieredStore) => s.setMany('x' as never)],
    ['getMany (not an array)', (s: TieredStore) => s.getMany({} as never)],
    ['deleteMany (a number in it)', (s: TieredStore) => s.deleteMany(['ns:a', 1 as unknown as string])],
  ])('%s', async (_name, call) => {
    const h = setup();
    for (let i = 0; i < 6; i++) await expect(call(h.store)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(h.primary.log).toEqual([]);
    expect(h.store.stats().primaryFailures).toBe(0);
    expect(h.store.circuitState).toBe('closed');
  });

  it("a category function naming an inherited property ('toString') is an unknown category", async () => {
    const categories = defineTtlCategories({ short: '1s' });
    const h = setup({ ttl: { categories, rules: [{ match: '*', category: () => 'toString' as never }] } });
    await expect(h.store.set('ns:k', 'v')).rejects.toBeInstanceOf(UnknownTtlCategoryError);
    await expect(h.store.get('ns:k')).rejects.toBeInstanceOf(UnknownTtlCategoryError);
    expect(h.primary.log).toEqual([]);
    expect(h.store.fallback.size).toBe(0);
  });

  it('setMany with one bad TTL leaves nothing in either tier', async () => {
    const h = setup();
    await expect(
      h.store.setMany([
        { key: 'ns:a', value: 'v' },
        { key: 'ns:b', value: 'v', ttl: Number.NaN },
      ]),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'entries[1].ttl' });
    expect(h.store.fallback.size).toBe(0);
    expect(h.primary.log).toEqual([]);
  });

  it('clear, iterator and warm refuse without a namespace, touching nothing', async () => {
    const h = setup({ namespace: '' });
    h.primary.data.set('bare', { value: 'foreign', ttlMs: undefined });
    await expect(h.store.clear()).rejects.toBeInstanceOf(NamespaceRequiredError);
    await expect(h.store.iterator().next()).rejects.toMatchObject({ code: 'E_NAMESPACE_REQUIRED' });
    await expect(h.store.warm({ match: '*' })).rejects.toMatchObject({ code: 'E_NAMESPACE_REQUIRED' });
    expect(h.primary.log).toEqual([]);
    expect(h.primary.data.get('bare')?.value).toBe('foreign');
  });
});

describe("a listener that throws does not change a call's outcome", () => {
  it('primary:failure, fallback:serve and circuit:state listeners throwing during an outage: nothing rejects', async () => {
    const h = setup();
    await h.store.set('ns:k', 'v');
    const warnings: string[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'KeyvFailsafeListenerWarning') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      for (const event of ['primary:failure', 'fallback:serve', 'circuit:state'] as const) {
        h.store.on(event, () => {
          throw new Error(`bug in a ${event} listener`);
        });
      }
      h.primary.failWith('unavailable');
      // Enough failures to open the breaker: each one emits primary:failure, then fallback:serve.
      for (let i = 0; i < 6; i++) expect(await h.store.get('ns:k')).toBe('v');
      // Resolves (false: memory only, as without the listeners), never rejects.
      expect(await h.store.set('ns:k2', 'w')).toBe(false);
      expect(h.store.circuitState).toBe('open');
      await flush();
      expect(warnings.some((w) => w.includes("'primary:failure' listener threw"))).toBe(true);
      expect(warnings.some((w) => w.includes("'fallback:serve' listener threw"))).toBe(true);
      expect(warnings.some((w) => w.includes("'circuit:state' listener threw"))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
