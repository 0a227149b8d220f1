import type { KeyvStoreAdapter } from 'keyv';
import { envelopeTtl } from '../src/envelope.js';
import { PrimaryCommandError, PrimaryUnavailableError } from '../src/errors.js';
import type {
  PhysicalEntry,
  Primary,
  PrimaryConnectionState,
  PrimaryEntry,
  PrimaryRead,
  Step,
} from '../src/primary.js';
import { NAMESPACE_SEPARATOR } from './memory-tier.js';

/**
 * Any Keyv storage adapter as the primary (SQLite, Postgres, Mongo, another TieredStore...).
 * Failures are whatever the store throws; a `set` that resolves `false` counts as a failure too.
 */
export class KeyvStorePrimary implements Primary {
  readonly #store: KeyvStoreAdapter;
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;

  constructor(store: KeyvStoreAdapter) {
    this.#store = store;
    // A store's 'error' event with no listener would crash the process.
    store.on?.('error', () => {});
  }

  get dialect(): string | undefined {
    return (this.#store.opts as { dialect?: string } | undefined)?.dialect;
  }

  get namespace(): string | undefined {
    return this.#store.namespace;
  }

  set namespace(value: string | undefined) {
    this.#store.namespace = value;
  }

  physicalKey(key: string): string {
    const namespace = this.#store.namespace;
    return namespace ? `${namespace}${NAMESPACE_SEPARATOR}${key}` : key;
  }

  async get(key: string): Promise<PrimaryRead | undefined> {
    const value = await this.#store.get(key);
    return value === undefined || value === null ? undefined : { value, ttlMs: envelopeTtl(value, Date.now()) };
  }

  async getMany(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    const values = this.#store.getMany
      ? await this.#store.getMany([...keys])
      : await Promise.all(keys.map((key) => this.#store.get(key)));
    return values.map((value) =>
      value === undefined || value === null ? undefined : { value, ttlMs: envelopeTtl(value, Date.now()) },
    );
  }

  async set(key: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    if ((await this.#store.set(key, value, ttlMs)) === false)
      throw new PrimaryCommandError('set', 'store returned false');
  }

  async setMany(entries: readonly PrimaryEntry[]): Promise<void> {
    if (this.#store.setMany) {
      const results: unknown = await this.#store.setMany(
        entries.map(({ key, value, ttlMs }) => (ttlMs === undefined ? { key, value } : { key, value, ttl: ttlMs })),
      );
      if (Array.isArray(results) && results.includes(false))
        throw new PrimaryCommandError('setMany', 'store returned false');
      return;
    }
    await Promise.all(entries.map(({ key, value, ttlMs }) => this.set(key, value, ttlMs)));
  }

  async delete(key: string): Promise<boolean> {
    return this.#store.delete(key);
  }

  async deleteMany(keys: readonly string[]): Promise<boolean> {
    if (this.#store.deleteMany) return this.#store.deleteMany([...keys]);
    const results = await Promise.all(keys.map((key) => this.#store.delete(key)));
    return results.includes(true);
  }

  async has(key: string): Promise<boolean> {
    if (this.#store.has) return this.#store.has(key);
    return (await this.#store.get(key)) !== undefined;
  }

  async hasMany(keys: readonly string[]): Promise<boolean[]> {
    if (this.#store.hasMany) return this.#store.hasMany([...keys]);
    return Promise.all(keys.map((key) => this.has(key)));
  }

  /** Keyv stores clear the namespace they are set to; another one cannot be addressed. */
  async clear(namespace: string | undefined, step: Step): Promise<void> {
    if (namespace !== this.#store.namespace)
      throw new PrimaryCommandError('clear', `cannot address namespace ${namespace}`);
    await step('clear', this.#store.clear());
  }

  async probe(): Promise<string | undefined> {
    await this.#store.has?.('keyv-failsafe:probe');
    return undefined;
  }

  /**
   * Maps physical keys (`namespace::key`) back to the store's keys. Only keys of the store's current
   * namespace can be addressed through the Keyv adapter API.
   */
  #ownKeys(physicalKeys: readonly string[]): string[] {
    const namespace = this.#store.namespace;
    const prefix = namespace ? `${namespace}${NAMESPACE_SEPARATOR}` : '';
    const keys: string[] = [];
    for (const physical of physicalKeys) {
      if (prefix === '' ? !physical.includes(NAMESPACE_SEPARATOR) : physical.startsWith(prefix)) {
        keys.push(physical.slice(prefix.length));
      } else {
        throw new PrimaryCommandError('invalidate', `key ${physical} is outside the store's namespace`);
      }
    }
    return keys;
  }

  async invalidate(physicalKeys: readonly string[]): Promise<void> {
    await this.deleteMany(this.#ownKeys(physicalKeys));
  }

  async restore(entries: readonly PhysicalEntry[]): Promise<void> {
    const keys = this.#ownKeys(entries.map((entry) => entry.physicalKey));
    await this.setMany(entries.map((entry, i) => ({ key: keys[i] as string, value: entry.value, ttlMs: entry.ttlMs })));
  }

  async *iterator(namespace: string | undefined): AsyncGenerator<[string, unknown], void> {
    if (typeof this.#store.iterator !== 'function') throw new PrimaryUnavailableError('iterator');
    yield* this.#store.iterator(namespace) as AsyncGenerator<[string, unknown], void>;
  }

  async disconnect(): Promise<void> {
    await this.#store.disconnect?.();
  }
}
