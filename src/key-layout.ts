import type { KeyScope, LayoutView } from './primary.js';

/**
 * The one owner of the key layout: how a namespace, the primary's separator and Keyv's own prefix
 * make the physical key Redis stores, and which physical keys a namespace can prove are its own.
 *
 * Keyv 5 with namespace `ns` hands the store `ns:key`; `@keyv/redis` stores it as `ns::ns:key`
 * (its `keyPrefixSeparator`, `::` by default, between). So the keys of namespace `ns` are exactly
 * those starting with `ns::ns:`: namespace `a` never claims `a::b::a::b:key`, the key of namespace
 * `a::b`, although both start with `a::`. Without a namespace, no key can be proven ours: plain
 * Keyv stores and other applications write bare keys too.
 */

/** Escapes the glob characters of Redis `MATCH` (`*`, `?`, `[`, `]`, `\`), so that text matches itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Separators other stores may have used: `@keyv/redis`'s default and the `:` it documents. */
const SEPARATORS = ['::', ':'] as const;

/** Longest other namespace considered when proving a key ours; longer ones are not real namespaces. */
const MAX_OTHER_NAMESPACE = 1_000;

/**
 * True when `key` is also the key of a namespace longer than ours: it starts with `X` + separator +
 * `X` + `:` for some `X` ending past our own prefix (`ownedLength`). Bounded: only `X` of at most
 * {@link MAX_OTHER_NAMESPACE} characters are tried, so a hostile key costs linear time.
 */
function ambiguous(key: string, ownedLength: number): boolean {
  const limit = Math.min(key.length, MAX_OTHER_NAMESPACE);
  for (let i = key.indexOf(':', 1); i !== -1 && i < limit; i = key.indexOf(':', i + 1)) {
    for (const separator of SEPARATORS) {
      const end = i + separator.length;
      // `X` + separator + `X` + `:` must reach past our prefix to be another namespace's layout.
      if (2 * i + separator.length + 1 <= ownedLength || !key.startsWith(separator, i)) continue;
      if (key.startsWith(key.slice(0, i), end) && key[end + i] === ':') return true;
    }
  }
  return false;
}

/**
 * Which Keyv drives the store, and so which keys it hands over and which layout Redis holds:
 * - `keyv5`: Keyv 5 hands `ns:key`; Redis holds `ns::ns:key` (what Keyv 5 + `@keyv/redis` write).
 * - `keyv6`: Keyv 6 hands the bare `key` and sets the namespace; Redis holds `ns::key` (what Keyv 6
 *   + `@keyv/redis` write).
 * - `keyv6-compat`: Keyv 6 hands the bare `key`; Redis holds Keyv 5's `ns::ns:key`, so a fleet can
 *   move from Keyv 5 to 6 one instance at a time on a warm cache.
 */
export type LayoutMode = 'keyv5' | 'keyv6' | 'keyv6-compat';

export class KeyLayout implements LayoutView {
  /** Between the namespace and the key, as the primary writes it. */
  readonly separator: string;
  #mode: LayoutMode;
  #namespace: string | undefined;
  /** `ns` + separator: the start of every physical key of the namespace. */
  #outer = '';
  /** Prepended to a key Keyv hands the store: `ns::`, or `ns::ns:` when Keyv 6 writes Keyv 5's layout. */
  #prefix = '';
  /** The start of every key Keyv writes through this namespace: `ns::ns:` (Keyv 5's layout) or `ns::`. */
  #owned: string | undefined;
  /** `ns:`, what Keyv 5 puts before a key. */
  #keyv5Prefix = '';

  constructor(separator: string, namespace: string | undefined, mode: LayoutMode = 'keyv5') {
    this.separator = separator;
    this.#mode = mode;
    this.namespace = namespace;
  }

  /** The namespace, `undefined` when there is none (`''` counts as none, as Keyv treats it). */
  get namespace(): string | undefined {
    return this.#namespace ?? (this.#mode === 'keyv6-compat' ? 'keyv' : undefined);
  }

  set namespace(value: string | undefined) {
    this.#namespace = value === '' ? undefined : value;
    this.#layout();
  }

  get mode(): LayoutMode {
    return this.#mode;
  }

  set mode(mode: LayoutMode) {
    this.#mode = mode;
    this.#layout();
  }

  #layout(): void {
    // Keyv 5's layout always had a namespace (`keyv` by default): under Keyv 6 with that layout, no
    // namespace means Keyv 5's default, so an upgraded instance shares the fleet's keys.
    const namespace = this.namespace;
    if (namespace === undefined) {
      this.#outer = '';
      this.#prefix = '';
      this.#owned = undefined;
      this.#keyv5Prefix = '';
      return;
    }
    this.#keyv5Prefix = `${namespace}:`;
    this.#outer = `${namespace}${this.separator}`;
    const keyv5Layout = this.#mode !== 'keyv6';
    this.#owned = keyv5Layout ? `${this.#outer}${namespace}:` : this.#outer;
    // Keyv 5 already put `ns:` in the key it hands over; under Keyv 6 the store adds it, if at all.
    this.#prefix = this.#mode === 'keyv6-compat' ? this.#owned : this.#outer;
  }

  /** The physical key of a key as Keyv hands it to the store. */
  physicalKey(storeKey: string): string {
    // Keyv 6 hands the bare key; Keyv 5's layout then needs Keyv 5's own prefixing of it.
    return this.#mode === 'keyv6-compat' ? this.#outer + this.#keyv5Key(storeKey) : this.#prefix + storeKey;
  }

  /**
   * The key as Keyv hands it to the store, from a physical key of this namespace: the key whose
   * {@link physicalKey} it is.
   */
  storeKey(physicalKey: string): string {
    if (this.#mode !== 'keyv6-compat') {
      return physicalKey.startsWith(this.#prefix) ? physicalKey.slice(this.#prefix.length) : physicalKey;
    }
    // Keyv 5's layout, Keyv 6's bare keys: `ns::ns:k` is `k` (and `ns:k`, the same key to Keyv 5);
    // `ns::ns:ns:k` is `ns:ns:k`, as `ns:k` would map back to `ns::ns:k`.
    if (!physicalKey.startsWith(this.#owned as string)) return physicalKey;
    const bare = physicalKey.slice((this.#owned as string).length);
    return bare.startsWith(this.#keyv5Prefix) ? physicalKey.slice(this.#outer.length) : bare;
  }

  /** The application's key (what was given to Keyv), from a key as Keyv handed it to the store. */
  appKey(storeKey: string): string {
    const namespace = this.#namespace;
    if (this.#mode !== 'keyv5' || namespace === undefined) return storeKey;
    return storeKey.startsWith(`${namespace}:`) ? storeKey.slice(namespace.length + 1) : storeKey;
  }

  /** The physical key of an application key: where `keyv.get(appKey)` reads. */
  physicalOfApp(appKey: string): string {
    if (this.#owned === undefined) return appKey;
    return this.#mode === 'keyv6' ? this.#owned + appKey : this.#outer + this.#keyv5Key(appKey);
  }

  /**
   * The key Keyv 5 hands its store for `appKey`: `ns:` before it, unless it starts with `ns:`
   * already (Keyv 5's `_getKeyPrefix`: app keys `k` and `ns:k` are one key).
   */
  #keyv5Key(appKey: string): string {
    const prefix = this.#keyv5Prefix;
    return appKey.startsWith(prefix) ? appKey : prefix + appKey;
  }

  /**
   * The prefix every key of this namespace starts with, in memory and in the primary; `undefined`
   * without a namespace, where no key can be proven ours.
   */
  get ownedPrefix(): string | undefined {
    return this.#owned;
  }

  /**
   * True when `physicalKey` provably belongs to this namespace: it starts with the owned prefix and
   * cannot also be read as the key of another namespace (under Keyv 5's layout namespace `a` owns
   * `a::a:`, which every key of namespace `a::a`, `a::a::a::a:k`, also starts with; under Keyv 6's,
   * `a::b::k` may be namespace `a::b`'s key `k`).
   */
  readonly owns = (physicalKey: string): boolean => {
    const owned = this.#owned;
    return owned !== undefined && physicalKey.startsWith(owned) && !this.#ambiguous(physicalKey, owned.length);
  };

  #ambiguous(physicalKey: string, ownedLength: number): boolean {
    return this.#mode === 'keyv6'
      ? physicalKey.includes(this.separator, ownedLength)
      : ambiguous(physicalKey, ownedLength);
  }

  /** Every key of this namespace, for clear and iteration; `undefined` without a namespace. */
  get scope(): KeyScope | undefined {
    return this.#owned === undefined ? undefined : this.scopeOf(this.#owned);
  }

  /** The keys starting with an owned prefix recorded earlier (a journal overflow, a missed clear). */
  scopeOf(ownedPrefix: string): KeyScope {
    return {
      pattern: `${escapeGlob(ownedPrefix)}*`,
      owns: (key) => key.startsWith(ownedPrefix) && !this.#ambiguous(key, ownedPrefix.length),
    };
  }

  /**
   * A `SCAN MATCH` pattern for the keys of this namespace whose application key matches `appGlob`
   * (itself a glob, `*` by default): the namespace is escaped, so `*` or `[ab]` in it match only
   * themselves. `undefined` without a namespace.
   */
  scanPattern(appGlob = '*'): string | undefined {
    return this.#owned === undefined ? undefined : `${escapeGlob(this.#owned)}${appGlob}`;
  }
}
