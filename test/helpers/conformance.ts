import { keyvIteratorTests, default as keyvTestSuite } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as test from 'vitest';
import { MemoryTier, TieredStore, type TieredStoreOptions, type TieredStoreStats } from '../../src/index.js';

/**
 * Keyv's conformance suites against a store whose primary is unreachable from the start, so that
 * the memory tier alone must satisfy the contract; then one probe: a write and a read answered by
 * memory, nothing from the primary, the failures counted (`check` adds what a topology knows more
 * exactly). Port 1 in a primary's address: nothing listens there, and unlike a port that was free a
 * moment ago, no other test file's redis-server can start on it meanwhile.
 */
export function unreachableConformance(
  title: string,
  primary: TieredStoreOptions['primary'],
  track: (store: TieredStore) => TieredStore,
  check?: (stats: TieredStoreStats, expect: test.ExpectStatic) => void,
): void {
  test.describe(title, () => {
    // One memory tier shared by every store the suite makes, as one process would share it.
    const shared = new MemoryTier({ max: 10_000 });
    const factory = () =>
      track(new TieredStore({ primary, fallback: shared, fallbackWritesSucceed: true, connectTimeoutMs: 200 }));
    keyvTestSuite(test, Keyv, factory);
    keyvIteratorTests(test, Keyv, factory);

    test.it('answered from memory only, and counted the primary failures', async ({ expect }) => {
      const store = factory();
      const keyv = new Keyv({ store });
      expect(await keyv.set('unreachable-probe', 'y')).toBe(true);
      expect(await keyv.get('unreachable-probe')).toBe('y');
      const stats = store.stats();
      expect(stats.hits.primary).toBe(0);
      expect(stats.fallbackServes).toBe(1);
      expect(stats.primaryFailures).toBeGreaterThanOrEqual(1);
      check?.(stats, expect);
    });
  });
}
