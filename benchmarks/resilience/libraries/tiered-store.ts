import type { EventEmitter } from 'node:events';
import Keyv from 'keyv';
import { pkg } from '../../lib/package.js';
import { encodeKeyvRedis } from './keyv-layout.js';
import { type CacheClient, errorCounter, type LibraryAdapter } from './types.js';

/**
 * The store as its README shows it, under Keyv. The breaker, reconciliation and restart detection
 * are read without relying on their types (`'circuitState' in store`, untyped listeners), so the
 * same file measures a version of the store that has them and one that does not.
 */
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
    const events = store as unknown as EventEmitter;
    events.on('circuit:state', (event: { from?: unknown; to?: unknown }) => {
      transitions.push(`${String(event?.from)}>${String(event?.to)}`);
    });
    events.on('reconcile:done', () => {
      seen.reconciliations++;
    });
    events.on('primary:restart', () => {
      seen.restarts++;
    });
    const hasBreaker = 'circuitState' in store;
    return {
      get: (key) => keyv.get(key),
      set: (key, value) => keyv.set(key, value),
      delete: (key) => keyv.delete(key),
      close: () => keyv.disconnect(),
      errorEvents: errors.count,
      ...(hasBreaker
        ? {
            circuitState: () => String((store as unknown as { circuitState: unknown }).circuitState),
            circuitTransitions: () => transitions,
          }
        : {}),
      stats: () => ({ ...store.stats(), reconcileDoneEvents: seen.reconciliations, restartEvents: seen.restarts }),
    };
  },
  encodeRaw: encodeKeyvRedis,
};
