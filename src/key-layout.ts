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

/** The keys of the namespace whose owned prefix is `ownedPrefix`, as a scope for namespace-wide operations. */
export function scopeOfPrefix(ownedPrefix: string): KeyScope {
  return {
    pattern: `${escapeGlob(ownedPrefix)}*`,
    owns: (key) => key.startsWith(ownedPrefix) && !ambiguous(key, ownedPrefix.length),
  };
}

export class KeyLayout implements LayoutView {
  /** Between the namespace and the key, as the primary writes it. */
  readonly separator: string;
  #namespace: string | undefined;
  /** `ns` + separator: prepended to every key the store is handed. */
  #prefix = '';
  /** `ns` + separator + `ns:`: the start of every key Keyv writes through this namespace. */
  #owned: string | undefined;

  constructor(separator: string, namespace: string | undefined) {
    this.separator = separator;
    this.namespace = namespace;
  }

  /** The namespace, `undefined` when there is none (`''` counts as none, as Keyv treats it). */
  get namespace(): string | undefined {
    return this.#namespace;
  }

  set namespace(value: string | undefined) {
    this.#namespace = value === '' ? undefined : value;
    this.#prefix = this.#namespace === undefined ? '' : `${this.#namespace}${this.separator}`;
    this.#owned = this.#namespace === undefined ? undefined : `${this.#prefix}${this.#namespace}:`;
  }

  /** The physical key of a key as Keyv hands it to the store (`ns:key` under a namespace). */
  physicalKey(storeKey: string): string {
    return this.#prefix + storeKey;
  }

  /** The key as Keyv handed it to the store, from a physical key of this namespace. */
  storeKey(physicalKey: string): string {
    return physicalKey.startsWith(this.#prefix) ? physicalKey.slice(this.#prefix.length) : physicalKey;
  }

  /** The application's key (what was given to Keyv), from a key as Keyv handed it to the store. */
  appKey(storeKey: string): string {
    const namespace = this.#namespace;
    return namespace !== undefined && storeKey.startsWith(`${namespace}:`)
      ? storeKey.slice(namespace.length + 1)
      : storeKey;
  }

  /** The physical key of an application key, with Keyv's own `ns:` prefix. */
  physicalOfApp(appKey: string): string {
    return this.#owned === undefined ? appKey : this.#owned + appKey;
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
   * cannot also be read as the key of another namespace (namespace `a` owns `a::a:`, which every key
   * of namespace `a::a`, `a::a::a::a:k`, also starts with).
   */
  readonly owns = (physicalKey: string): boolean =>
    this.#owned !== undefined && physicalKey.startsWith(this.#owned) && !ambiguous(physicalKey, this.#owned.length);

  /** Every key of this namespace, for clear and iteration; `undefined` without a namespace. */
  get scope(): KeyScope | undefined {
    return this.#owned === undefined ? undefined : { pattern: `${escapeGlob(this.#owned)}*`, owns: this.owns };
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
