import { describe, expectTypeOf, it } from 'vitest';
import {
  type CircuitState,
  type Duration,
  defineTtlCategories,
  type PrimaryFailure,
  type PrimaryFailureEvent,
  type ReconcileReport,
  TieredStore,
  type TieredStoreErrorCode,
  type TieredStoreOptions,
  type TieredStoreStats,
  type TtlCategories,
} from '../src/index.js';

// Type-level tests of the public generics: the assertions are checked by `tsc` (`npm run check`,
// part of `npm test`), so a change that breaks inference fails the build. Every `@ts-expect-error`
// is itself checked: if the line stops being an error, tsc reports the directive as unused.
// The bodies never run a store: they only need to compile.

const ttl = defineTtlCategories({ priceCrypto: '30s', priceMacro: '5m', hot: { ttl: '1s', staleIfError: '10s' } });
type Category = 'priceCrypto' | 'priceMacro' | 'hot';

describe('public types', () => {
  it('defineTtlCategories keeps the category names as a literal union, values in ms', () => {
    expectTypeOf(ttl).toEqualTypeOf<TtlCategories<Category>>();
    expectTypeOf(ttl.priceCrypto).toEqualTypeOf<number>();
    // @ts-expect-error: no such category
    void ttl.priceStock;
    // @ts-expect-error: not a duration
    const invalid = () => defineTtlCategories({ x: '30 seconds' });
    void invalid;
    expectTypeOf<'1.5s'>().toExtend<Duration>();
    expectTypeOf<'5y'>().not.toExtend<Duration>();
  });

  it('TieredStore<C> infers C from its TTL categories, and rules may only name those', () => {
    const make = () =>
      new TieredStore({
        primary: 'redis://127.0.0.1:6379',
        ttl: { categories: ttl, rules: [{ prefix: 'price:crypto:', category: 'priceCrypto' }] },
      });
    const wrong = () =>
      new TieredStore({
        primary: 'redis://127.0.0.1:6379',
        // @ts-expect-error: inferred from `categories`, C does not include 'chartData'
        ttl: { categories: ttl, rules: [{ prefix: 'chart:', category: 'chartData' }] },
      });
    void [make, wrong];
    const options: TieredStoreOptions<Category> = {
      primary: 'redis://127.0.0.1:6379',
      ttl: {
        categories: ttl,
        rules: [
          { match: 'price:*', category: (key) => (key.endsWith(':BTC') ? 'hot' : 'priceMacro') },
          // @ts-expect-error: a category the table does not define
          { prefix: 'chart:', category: 'chartData' },
        ],
      },
    };
    void options;
  });

  it('options are checked: unknown names and values are type errors as well as runtime errors', () => {
    // @ts-expect-error: not a read policy
    const policy: TieredStoreOptions = { primary: 'redis://h', readPolicy: 'memory-only' };
    // @ts-expect-error: no such option
    const misspelt: TieredStoreOptions = { primary: 'redis://h', operationTimeout: 100 };
    void [policy, misspelt];
  });

  it('events carry typed payloads; unknown event names do not compile', () => {
    const listen = (store: TieredStore) => {
      store.on('circuit:state', (event) => {
        expectTypeOf(event.to).toEqualTypeOf<CircuitState>();
      });
      store.on('primary:failure', (event) => {
        expectTypeOf(event).toEqualTypeOf<PrimaryFailureEvent>();
        expectTypeOf(event.error).toEqualTypeOf<PrimaryFailure>();
        expectTypeOf(event.error.code).toEqualTypeOf<TieredStoreErrorCode>();
      });
      store.on('reconcile:done', (report) => {
        expectTypeOf(report).toEqualTypeOf<ReconcileReport>();
      });
      // @ts-expect-error: no such event
      store.on('circuit:opened', () => {});
      expectTypeOf(store.stats()).toEqualTypeOf<TieredStoreStats>();
    };
    void listen;
  });
  it('getOrSet returns what the loader returns; its options are checked', () => {
    const use = (store: TieredStore) => {
      expectTypeOf(store.getOrSet('k', () => 1)).toEqualTypeOf<Promise<number>>();
      expectTypeOf(store.getOrSet('k', async () => ({ a: 'x' }), { ttl: 5_000, lock: true })).toEqualTypeOf<
        Promise<{ a: string }>
      >();
      // @ts-expect-error: lock takes true/false or { ttlMs, waitMs }
      void store.getOrSet('k', () => 1, { lock: 'yes' });
      expectTypeOf(store.nearCacheState).toEqualTypeOf<'live' | 'lost' | 'unsupported' | undefined>();
    };
    void use;
  });
});
