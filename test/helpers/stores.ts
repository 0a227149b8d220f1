import { afterEach } from 'vitest';
import type { TieredStore } from '../../src/index.js';

/**
 * Stores made by a suite's tests, closed after each test, so that a deployment carries the
 * connections of one test at a time (a cluster or Sentinel store holds several). Returns `track`.
 */
export function closedAfterEach(): (store: TieredStore) => TieredStore {
  const stores: TieredStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.disconnect()));
  });
  return (store) => {
    stores.push(store);
    return store;
  };
}
