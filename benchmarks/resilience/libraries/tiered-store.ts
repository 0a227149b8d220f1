import Keyv from 'keyv';
import { pkg } from '../../lib/package.js';
import { encodeKeyvRedis } from './keyv-layout.js';
import { type CacheClient, errorCounter, type LibraryAdapter } from './types.js';

/** The store as its README shows it, under Keyv, with its breaker, reconciliation and restart events. */
export const tieredStore: LibraryAdapter = {
  name: 'tiered-store',
  create(url: string): CacheClient {
    // The built package, as users run it (see benchmarks/lib/package.ts).
    const store = new pkg.TieredStore({ primary: url });
    const keyv = new Keyv({ store });
    const errors = errorCounter();
    keyv.on('error', errors.listener);
    const transitions: string[] = [];
    const seen = { reconciliations: 0, restarts: 0 };
    store.on('circuit:state', (event) => {
      transitions.push(`${event.from}>${event.to}`);
    });
    store.on('reconcile:done', () => {
      seen.reconciliations++;
    });
    store.on('primary:restart', () => {
      seen.restarts++;
    });
    return {
      get: (key) => keyv.get(key),
      set: (key, value) => keyv.set(key, value),
      delete: (key) => keyv.delete(key),
      close: () => keyv.disconnect(),
      errorEvents: errors.count,
      circuitState: () => store.circuitState,
      circuitTransitions: () => transitions,
      stats: () => ({ ...store.stats(), reconcileDoneEvents: seen.reconciliations, restartEvents: seen.restarts }),
    };
  },
  encodeRaw: encodeKeyvRedis,
};
