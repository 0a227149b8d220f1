import { type Duration, toMilliseconds } from './duration.js';
import { InvalidOptionError, UnknownTtlCategoryError } from './errors.js';

/**
 * A frozen, typed table of named TTLs in milliseconds, e.g. `ttl.priceCrypto === 30_000`.
 * Made by {@link defineTtlCategories}; the one place that says how long each kind of data lives.
 */
export type TtlCategories<C extends string = string> = { readonly [K in C]: number };

/**
 * A category's definition: a duration, or a duration plus how much longer an expired memory copy
 * may still be served while the primary is unavailable (stale-if-error).
 */
export type TtlCategoryDefinition = Duration | { readonly ttl: Duration; readonly staleIfError?: Duration };

/** Stale-if-error grace per category, kept beside the table so the table stays `name: ms`. */
const staleGrace = new WeakMap<object, Readonly<Record<string, number>>>();

/**
 * Defines the TTL categories once, validating every duration.
 *
 * @example
 * const ttl = defineTtlCategories({ priceCrypto: '30s', priceMacro: '5m', predictionHot: '1s' });
 * ttl.priceMacro; // 300000
 * @throws {InvalidOptionError} naming the category whose duration is invalid.
 */
export function defineTtlCategories<const C extends string>(
  definitions: Record<C, TtlCategoryDefinition>,
): TtlCategories<C> {
  if (definitions === null || typeof definitions !== 'object' || Array.isArray(definitions)) {
    throw new InvalidOptionError('defineTtlCategories(definitions)', definitions, 'an object of name: duration');
  }
  const table: Record<string, number> = {};
  const grace: Record<string, number> = {};
  for (const [name, definition] of Object.entries<unknown>(definitions)) {
    if (definition !== null && typeof definition === 'object') {
      const { ttl, staleIfError, ...rest } = definition as { ttl?: unknown; staleIfError?: unknown };
      const unknown = Object.keys(rest);
      if (unknown.length > 0) {
        throw new InvalidOptionError(
          `ttlCategories.${name}.${unknown[0]}`,
          (rest as Record<string, unknown>)[unknown[0] as string],
          'no such field (ttl, staleIfError)',
        );
      }
      table[name] = toMilliseconds(ttl, `ttlCategories.${name}.ttl`);
      if (staleIfError !== undefined) grace[name] = toMilliseconds(staleIfError, `ttlCategories.${name}.staleIfError`);
    } else {
      table[name] = toMilliseconds(definition, `ttlCategories.${name}`);
    }
  }
  if (Object.keys(table).length === 0) {
    throw new InvalidOptionError('defineTtlCategories(definitions)', definitions, 'at least one category');
  }
  const frozen = Object.freeze(table);
  staleGrace.set(frozen, Object.freeze(grace));
  return frozen as TtlCategories<C>;
}

/** The stale-if-error grace of each category of a table made by {@link defineTtlCategories}. */
export function staleIfErrorOf<C extends string>(categories: TtlCategories<C>): Readonly<Partial<Record<C, number>>> {
  return (staleGrace.get(categories) ?? {}) as Partial<Record<C, number>>;
}

/** Chooses a category for a key: its name, or `undefined` for no category. */
export type CategoryResolver<C extends string> = (key: string) => C | undefined;

/**
 * One rule mapping keys to a category. `match` is a glob over the key as the application wrote it
 * (without Keyv's namespace): `*` matches any run of characters, `?` exactly one. `prefix` matches
 * keys that start with the given string. `category` is a name, or a function of the key for
 * cases such as the seed's hot symbols.
 */
export type TtlRule<C extends string> =
  | { readonly match: string; readonly category: C | CategoryResolver<C> }
  | { readonly prefix: string; readonly category: C | CategoryResolver<C> };

/** The category option of a `TieredStore`: the table and the rules that route keys to it. */
export interface TtlCategoryOptions<C extends string> {
  /** The table made by {@link defineTtlCategories}. */
  readonly categories: TtlCategories<C>;
  /** Tried in order; the first rule that matches decides. */
  readonly rules: ReadonlyArray<TtlRule<NoInfer<C>>>;
}

/** How long a key lives, and how much longer its memory copy may serve while the primary is down. */
export interface KeyTtl {
  readonly ttlMs: number;
  readonly staleMs: number;
}

interface CompiledRule {
  readonly test: (key: string) => boolean;
  readonly category: string | CategoryResolver<string>;
}

/**
 * A matcher for a glob of `*` (any run) and `?` (one character), without a regular expression:
 * the classic two-pointer match, which backtracks only to the last `*`, so a hostile key costs at
 * most (key length × glob length) steps, never the exponential blow-up of a backtracking regex.
 */
function globMatcher(glob: string): (key: string) => boolean {
  const g = glob.replace(/\*+/g, '*');
  return (key) => {
    let k = 0;
    let p = 0;
    let star = -1;
    let resume = 0;
    while (k < key.length) {
      const c = g[p];
      if (c === '*') {
        star = p++;
        resume = k;
      } else if (c !== undefined && (c === '?' || c === key[k])) {
        p++;
        k++;
      } else if (star !== -1) {
        p = star + 1;
        k = ++resume;
      } else {
        return false;
      }
    }
    while (g[p] === '*') p++;
    return p === g.length;
  };
}

/**
 * Resolves the TTL a key gets when the caller gave none. Rules are compiled once, at construction.
 * @internal
 */
export class TtlRouter {
  readonly #categories: Readonly<Record<string, number>>;
  readonly #grace: Readonly<Partial<Record<string, number>>>;
  readonly #rules: readonly CompiledRule[];
  readonly #names: readonly string[];

  constructor(options: unknown, optionName: string) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(optionName, options, 'an object { categories, rules }');
    }
    const { categories, rules } = options as { categories?: unknown; rules?: unknown };
    if (categories === null || typeof categories !== 'object' || Object.keys(categories).length === 0) {
      throw new InvalidOptionError(
        `${optionName}.categories`,
        categories,
        'the table returned by defineTtlCategories()',
      );
    }
    for (const [name, ms] of Object.entries(categories)) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 1) {
        throw new InvalidOptionError(
          `${optionName}.categories.${name}`,
          ms,
          'milliseconds >= 1 (use defineTtlCategories())',
        );
      }
    }
    this.#categories = categories as Record<string, number>;
    this.#grace = staleIfErrorOf(categories as TtlCategories);
    this.#names = Object.keys(categories);
    if (!Array.isArray(rules)) {
      throw new InvalidOptionError(`${optionName}.rules`, rules, 'an array of { match | prefix, category }');
    }
    this.#rules = rules.map((rule: unknown, index) => this.#compile(rule, `${optionName}.rules[${index}]`));
  }

  #compile(rule: unknown, where: string): CompiledRule {
    if (rule === null || typeof rule !== 'object') {
      throw new InvalidOptionError(where, rule, 'an object { match | prefix, category }');
    }
    const { match, prefix, category } = rule as { match?: unknown; prefix?: unknown; category?: unknown };
    if (typeof category === 'string') {
      if (!Object.hasOwn(this.#categories, category)) {
        throw new UnknownTtlCategoryError(category, this.#names, `${where}.category`);
      }
    } else if (typeof category !== 'function') {
      throw new InvalidOptionError(`${where}.category`, category, 'a category name or a function (key) => name');
    }
    const resolved = category as string | CategoryResolver<string>;
    if (typeof match === 'string' && match !== '' && prefix === undefined) {
      return { test: globMatcher(match), category: resolved };
    }
    if (typeof prefix === 'string' && prefix !== '' && match === undefined) {
      return { test: (key) => key.startsWith(prefix), category: resolved };
    }
    throw new InvalidOptionError(where, rule, 'exactly one of a non-empty `match` glob or `prefix` string');
  }

  /** True when some category allows stale-if-error, so reads must look up a key's grace. */
  get hasGrace(): boolean {
    return Object.keys(this.#grace).length > 0;
  }

  /**
   * The category TTL and stale-if-error grace for `key`, or `undefined` when no rule applies.
   * @throws {UnknownTtlCategoryError} when a rule's function returns a name that was never defined.
   */
  resolve(key: string): KeyTtl | undefined {
    for (const rule of this.#rules) {
      if (!rule.test(key)) continue;
      const name = typeof rule.category === 'function' ? rule.category(key) : rule.category;
      if (name === undefined) return undefined;
      // Own names only: a function answering 'toString' must not find Object.prototype's.
      if (typeof name !== 'string' || !Object.hasOwn(this.#categories, name))
        throw new UnknownTtlCategoryError(name, this.#names, `the category function for key ${JSON.stringify(key)}`);
      return { ttlMs: this.#categories[name] as number, staleMs: this.#grace[name] ?? 0 };
    }
    return undefined;
  }
}
