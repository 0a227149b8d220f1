// The key layout against the real thing: what Keyv 5 hands its store for an application key, and
// what @keyv/redis then writes (`ns` + `::` + that key), for keys Keyv 5 treats specially.
import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { KeyLayout } from '../src/key-layout.js';

/** What a Keyv 5 in namespace `ns` hands its store for `appKey`. */
async function keyv5StoreKey(appKey: string): Promise<string> {
  let seen: string | undefined;
  const store = new Map<string, unknown>();
  const recording = {
    get: (key: string) => {
      seen = key;
      return store.get(key);
    },
    set: (key: string, value: unknown) => store.set(key, value),
    delete: (key: string) => store.delete(key),
    clear: () => store.clear(),
  };
  await new Keyv({ store: recording as unknown as Map<string, unknown>, namespace: 'ns' }).get(appKey);
  if (seen === undefined) throw new Error('Keyv did not call the store');
  return seen;
}

const APP_KEYS = ['k', 'ns:k', 'ns:', 'ns', 'nsk', 'ns::k', 'ns:ns:k', ':k', 'x:ns:k'];

describe('KeyLayout', () => {
  it('keyv5: an application key maps where Keyv 5 + @keyv/redis put it, prefixed or not', async () => {
    const layout = new KeyLayout('::', 'ns', 'keyv5');
    for (const appKey of APP_KEYS) {
      const storeKey = await keyv5StoreKey(appKey);
      const physical = `ns::${storeKey}`;
      expect([appKey, layout.physicalKey(storeKey)]).toEqual([appKey, physical]);
      expect([appKey, layout.physicalOfApp(appKey)]).toEqual([appKey, physical]);
    }
    expect(layout.owns(layout.physicalOfApp('k'))).toBe(true);
    // The two forms are one key in Keyv 5: 'k' and 'ns:k'.
    expect(layout.physicalOfApp('ns:k')).toBe(layout.physicalOfApp('k'));
  });

  it("keyv6-compat: Keyv 6's bare key lands where Keyv 5 would have put the same application key", async () => {
    const compat = new KeyLayout('::', 'ns', 'keyv6-compat');
    for (const appKey of APP_KEYS) {
      const physical = `ns::${await keyv5StoreKey(appKey)}`;
      expect([appKey, compat.physicalKey(appKey)]).toEqual([appKey, physical]);
      expect([appKey, compat.physicalOfApp(appKey)]).toEqual([appKey, physical]);
    }
  });

  it('every mode: storeKey gives back the key a physical key of the namespace was made from', async () => {
    for (const mode of ['keyv5', 'keyv6', 'keyv6-compat'] as const) {
      const layout = new KeyLayout('::', 'ns', mode);
      for (const appKey of APP_KEYS) {
        for (const physical of [layout.physicalOfApp(appKey), `ns::${await keyv5StoreKey(appKey)}`]) {
          if (!physical.startsWith(layout.ownedPrefix as string)) continue;
          expect([mode, physical, layout.physicalKey(layout.storeKey(physical))]).toEqual([mode, physical, physical]);
        }
      }
    }
    // The short form where it maps back, Keyv 5's own where it does not.
    const compat = new KeyLayout('::', 'ns', 'keyv6-compat');
    expect(compat.storeKey('ns::ns:k')).toBe('k');
    expect(compat.storeKey('ns::ns:ns:k')).toBe('ns:ns:k');
  });

  it('keyv6: Keyv 6 and @keyv/redis prefix every key, whatever it starts with', () => {
    const layout = new KeyLayout('::', 'ns', 'keyv6');
    for (const appKey of APP_KEYS) {
      expect(layout.physicalKey(appKey)).toBe(`ns::${appKey}`);
      expect(layout.physicalOfApp(appKey)).toBe(`ns::${appKey}`);
      expect(layout.storeKey(`ns::${appKey}`)).toBe(appKey);
    }
  });

  it('without a namespace, keys are used as they are and none is provably ours', () => {
    const layout = new KeyLayout('::', undefined, 'keyv5');
    expect(layout.physicalKey('k')).toBe('k');
    expect(layout.physicalOfApp('k')).toBe('k');
    expect(layout.owns('k')).toBe(false);
  });
});
