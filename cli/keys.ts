// Key layout and classification: from a namespace and an application-level glob to a SCAN
// pattern, from a Redis key back to the application's key, and from that key to its category.
import { UnknownTtlCategoryError } from '../src/errors.js';
import { TtlRouter } from '../src/ttl-categories.js';

/**
 * The prefix `@keyv/redis` under Keyv puts before every application key: the store's namespace,
 * `::`, then Keyv's own `namespace:` (both are Keyv's `namespace`, `keyv` by default), e.g.
 * `keyv::keyv:`. An empty namespace means keys without any prefix.
 */
export function keyPrefix(namespace: string): string {
  return namespace === '' ? '' : `${namespace}::${namespace}:`;
}

/** Escapes Redis glob metacharacters so that a literal string matches only itself in SCAN MATCH. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The SCAN MATCH pattern for application keys matching `match` (a Redis glob: `*`, `?`, `[abc]`)
 * under `namespace`. The prefix is escaped, the operator's glob is not.
 * @example scanPattern('keyv', 'price:*') // 'keyv::keyv:price:*'
 */
export function scanPattern(namespace: string, match: string | undefined): string {
  return escapeGlob(keyPrefix(namespace)) + (match ?? '*');
}

/** The key as the application wrote it, given the Redis key SCAN returned for the same namespace. */
export function applicationKey(redisKey: Buffer, prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  return redisKey.subarray(0, bytes.length).equals(bytes) ? redisKey.subarray(bytes.length) : redisKey;
}

/** Label of the group of keys without a `:`, when keys are grouped by first segment. */
export const NO_SEGMENT = '(no prefix)';
/** Label of the group of keys that no rule of the `--config` covers. */
export const NO_CATEGORY = '(none)';

/**
 * The first segment of a key with its separator, the grouping used without `--config`:
 * `price:crypto:BTC` → `price:`; `undefined` for a key without `:` (the {@link NO_SEGMENT} group).
 * Bytes in, bytes out: a segment that is not UTF-8 is shown as it is.
 */
export function firstSegment(key: Buffer): Buffer | undefined {
  const end = key.indexOf(0x3a);
  return end < 0 ? undefined : key.subarray(0, end + 1);
}

/**
 * A value a category function returned, as a label: any value at all, so nothing here may throw
 * (`JSON.stringify` does on a BigInt or a cycle, `String` on an object whose `toString` throws).
 */
function describeCategory(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  return typeof value === 'function' ? 'a function' : 'an object';
}

/** What the `--config` says about a key. */
export interface KeyCategory {
  /** The category's name, or a label saying why there is none that the app would accept. */
  readonly name: string;
  /** The category's TTL in milliseconds; undefined when the name is not a defined category. */
  readonly ttlMs: number | undefined;
}

/** Classifies an application key; `undefined` when no rule covers it. */
export type Categorizer = (key: string) => KeyCategory | undefined;

/**
 * Builds a categorizer from the `{ categories, rules }` object an application passes to
 * `TieredStore({ ttl })`, with exactly the store's matching semantics.
 *
 * `TtlRouter.resolve` answers a TTL, not a name, and two categories may share a TTL. So a second
 * router runs the same rules over a table where each category's "TTL" is its position (1, 2, 3...):
 * what it resolves is the index of the name. Rule order, globs, prefixes and category functions
 * then behave exactly as in the store, without a copy of the matching code here.
 *
 * @throws whatever `TtlRouter` throws for an invalid object (`InvalidOptionError`, `UnknownTtlCategoryError`).
 */
export function createCategorizer(ttl: unknown): Categorizer {
  // The real table validates the object just as the store's constructor would.
  new TtlRouter(ttl, 'ttl');
  const { categories, rules } = ttl as { categories: Readonly<Record<string, number>>; rules: unknown };
  const names = Object.keys(categories);
  const positions = Object.fromEntries(names.map((name, index) => [name, index + 1]));
  const indexRouter = new TtlRouter({ categories: positions, rules }, 'ttl');

  return (key) => {
    let resolved: ReturnType<TtlRouter['resolve']>;
    try {
      resolved = indexRouter.resolve(key);
    } catch (error) {
      // A category function returned a name that was never defined, or threw: the store would
      // reject a `set` of this key, so the key was written some other way. Say so, per key.
      if (error instanceof UnknownTtlCategoryError) {
        return { name: `(unknown category ${describeCategory(error.category)})`, ttlMs: undefined };
      }
      return { name: '(category function threw)', ttlMs: undefined };
    }
    if (resolved === undefined) return undefined;
    const name = names[resolved.ttlMs - 1];
    if (name === undefined) return undefined;
    return { name, ttlMs: categories[name] };
  };
}
