import type { KeyvStoreAdapter } from 'keyv';
import type {
  KeyScope,
  LayoutView,
  Primary,
  PrimaryConnectionState,
  PrimaryEntry,
  PrimaryErrorKind,
  PrimaryRead,
  Step,
} from '../src/primary.js';
import { envelopeTtl } from './envelope.js';

/** The store answered, and said no (a `set` resolving `false`): the primary is there. */
class StoreRefusedError extends Error {
  override readonly name = 'StoreRefusedError';
}

/**
 * Any Keyv storage adapter as the primary (SQLite, Postgres, Mongo, another TieredStore...). The
 * store namespaces keys itself: physical keys are mapped back to its keys with the core's layout,
 * and the store is kept on the same namespace. Failures are whatever the store throws; a `set` that
 * resolves `false` is a refusal.
 */
export class KeyvStorePrimary implements Primary {
  readonly separator = '::';
  readonly safeName: string;
  readonly initialNamespace: string | undefined;
  readonly #store: KeyvStoreAdapter;
  #layout: LayoutView | undefined;
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;

  constructor(store: KeyvStoreAdapter) {
    this.#store = store;
    this.initialNamespace = store.namespace;
    this.safeName = `a ${store.constructor?.name ?? 'Keyv'} store`;
    // A store's 'error' event with no listener would crash the process.
    store.on?.('error', () => {});
  }

  get dialect(): string | undefined {
    return (this.#store.opts as { dialect?: string } | undefined)?.dialect;
  }

  useLayout(layout: LayoutView): void {
    this.#layout = layout;
    this.#store.namespace = layout.namespace;
  }

  classify(error: unknown): PrimaryErrorKind {
    return error instanceof StoreRefusedError ? 'command' : 'unavailable';
  }

  #key(physicalKey: string): string {
    return this.#layout === undefined ? physicalKey : this.#layout.storeKey(physicalKey);
  }

  async get(key: string): Promise<PrimaryRead | undefined> {
    const value = await this.#store.get(this.#key(key));
    return value === undefined || value === null ? undefined : { value, ttlMs: envelopeTtl(value) };
  }

  async getMany(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    const own = keys.map((key) => this.#key(key));
    const values = this.#store.getMany
      ? await this.#store.getMany(own)
      : await Promise.all(own.map((key) => this.#store.get(key)));
    return values.map((value) =>
      value === undefined || value === null ? undefined : { value, ttlMs: envelopeTtl(value) },
    );
  }

  async set(key: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    if ((await this.#store.set(this.#key(key), value, ttlMs)) === false) throw new StoreRefusedError('set refused');
  }

  async setMany(entries: readonly PrimaryEntry[]): Promise<void> {
    if (this.#store.setMany) {
      const results: unknown = await this.#store.setMany(
        entries.map(({ key, value, ttlMs }) =>
          ttlMs === undefined ? { key: this.#key(key), value } : { key: this.#key(key), value, ttl: ttlMs },
        ),
      );
      if (Array.isArray(results) && results.includes(false)) throw new StoreRefusedError('setMany refused');
      return;
    }
    await Promise.all(entries.map(({ key, value, ttlMs }) => this.set(key, value, ttlMs)));
  }

  async delete(key: string): Promise<boolean> {
    return this.#store.delete(this.#key(key));
  }

  async deleteMany(keys: readonly string[]): Promise<boolean[]> {
    const own = keys.map((key) => this.#key(key));
    if (!this.#store.deleteMany) return Promise.all(own.map((key) => this.#store.delete(key)));
    // A Keyv 6 store answers per key; a Keyv 5 store only whether any key existed, which is then
    // all that can be said of each.
    const results: unknown = await this.#store.deleteMany(own);
    if (Array.isArray(results) && results.length === own.length) return results.map((r) => r === true);
    return own.map(() => results === true);
  }

  async has(key: string): Promise<boolean> {
    if (this.#store.has) return this.#store.has(this.#key(key));
    return (await this.#store.get(this.#key(key))) !== undefined;
  }

  async hasMany(keys: readonly string[]): Promise<boolean[]> {
    if (this.#store.hasMany) return this.#store.hasMany(keys.map((key) => this.#key(key)));
    return Promise.all(keys.map((key) => this.has(key)));
  }

  /** A Keyv store clears the namespace it is set to, which is the store's own (see `useLayout`). */
  async clear(_scope: KeyScope, step: Step): Promise<void> {
    await step('clear', this.#store.clear());
  }

  async probe(): Promise<string | undefined> {
    await this.#store.has?.('keyv-failsafe:probe');
    return undefined;
  }

  async *iterator(scope: KeyScope, step: Step): AsyncGenerator<[string, unknown], void> {
    if (typeof this.#store.iterator !== 'function') throw new StoreRefusedError('the store cannot iterate');
    const source = this.#store.iterator(this.#layout?.namespace) as AsyncGenerator<[string, unknown], void>;
    try {
      while (true) {
        const next = await step('iterator', source.next());
        if (next.done) return;
        // Stores yield their own keys: back to physical ones, and only those the scope owns.
        const physical = this.#layout === undefined ? next.value[0] : this.#layout.physicalKey(next.value[0]);
        if (scope.owns(physical)) yield [physical, next.value[1]];
      }
    } finally {
      source.return(undefined).catch(() => {});
    }
  }

  async disconnect(): Promise<void> {
    await this.#store.disconnect?.();
  }
}
