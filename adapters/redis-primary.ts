import type KeyvRedis from '@keyv/redis';
import { createClient } from '@keyv/redis';
import { envelopeTtl, isKeyvEnvelope } from '../src/envelope.js';
import { PrimaryAuthError, PrimaryCommandError, PrimaryUnavailableError } from '../src/errors.js';
import type {
  PhysicalEntry,
  Primary,
  PrimaryConnectionState,
  PrimaryEntry,
  PrimaryRead,
  Step,
} from '../src/primary.js';
import { redactUrl } from './redis-url.js';

/** How a primary built from a URL connects. Every value bounds a wait; none can be infinite. */
export interface RedisConnectOptions {
  /** Give up one connection attempt after this long. */
  readonly connectTimeoutMs: number;
  /** Reconnect backoff: the first retry after about this long, doubling... */
  readonly reconnectMinDelayMs: number;
  /** ...up to this, with ±25 % jitter so a fleet does not reconnect in step. */
  readonly reconnectMaxDelayMs: number;
  /** `CLIENT SETNAME`, so an operator can find the store's connection in `CLIENT LIST`. */
  readonly clientName: string | undefined;
}

type RedisClient = ReturnType<typeof createClient>;
/** Cluster and sentinel clients answer the same single-key commands we send. */
type AnyRedisClient = KeyvRedis<unknown>['client'];

/** True for an error the server sent (`ErrorReply` and its subclasses), false for a connection problem. */
export function isServerReply(error: unknown): boolean {
  for (
    let proto = error === null || typeof error !== 'object' ? null : Object.getPrototypeOf(error);
    proto;
    proto = Object.getPrototypeOf(proto)
  ) {
    if (proto.constructor?.name === 'ErrorReply') return true;
  }
  return false;
}

/**
 * A server reply (OOM, NOAUTH, READONLY, WRONGTYPE) is a command error; anything else (offline
 * client, reset or refused socket, connect timeout) means the primary could not be reached.
 */
function classify(operation: string, error: unknown): Error {
  return isServerReply(error)
    ? new PrimaryCommandError(operation, error)
    : new PrimaryUnavailableError(operation, error);
}

const authFailure = /^(WRONGPASS|NOAUTH|NOPERM)\b/;

/**
 * The error a connection problem is reported with: a `PrimaryAuthError` when the server refused
 * the credentials, so that the cause is named (never the password); otherwise the client's error.
 */
function connectionError(error: unknown, safeUrl: string): unknown {
  const message = error instanceof Error ? error.message : String(error);
  return isServerReply(error) && authFailure.test(message) ? new PrimaryAuthError(safeUrl, error) : error;
}

/** A Redis `PTTL` reply as a remaining TTL: -1 means no expiry; -2 (gone) is handled by the caller. */
function remainingTtl(pttl: number): number | undefined {
  return pttl >= 0 ? pttl : undefined;
}

/**
 * Builds a node-redis client that fails fast: no offline queue (a command sent while disconnected
 * rejects at once instead of waiting, and is never replayed late), a bounded connection attempt,
 * and an exponential reconnect backoff that never gives up.
 */
export function createFailFastClient(url: string, options: RedisConnectOptions): RedisClient {
  const { reconnectMinDelayMs: min, reconnectMaxDelayMs: max } = options;
  return createClient({
    url,
    disableOfflineQueue: true,
    ...(options.clientName === undefined ? {} : { name: options.clientName }),
    socket: {
      connectTimeout: options.connectTimeoutMs,
      reconnectStrategy: (retries: number) =>
        Math.round(Math.min(max, min * 2 ** retries) * (0.75 + Math.random() * 0.5)),
    },
  });
}

/**
 * The Redis primary, built on `@keyv/redis` so that keys keep exactly the layout it writes
 * (`namespace::key`) and cluster batches keep its slot handling.
 *
 * Single-key commands go straight to the client: `@keyv/redis` turns errors into misses unless
 * `throwOnErrors` is set, and its `getClient()` reconnects (and on failure destroys the client)
 * inside the call path. Reads pipeline `GET` with `PTTL` in one round trip, because the memory copy
 * must die no later than the Redis copy and only Redis knows the remaining TTL.
 */
export class RedisPrimary implements Primary {
  readonly dialect = 'redis';
  readonly #adapter: KeyvRedis<unknown>;
  readonly #client: AnyRedisClient;
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;
  readonly #safeUrl: string;
  #prefix = '';
  /** Undefined until the first connection attempt settles, so that its failure is reported too. */
  #state: PrimaryConnectionState | undefined;
  #closed = false;
  /**
   * Calls made while the first connection attempt is in flight wait for it (within their
   * deadline) rather than failing: a store used right after construction should reach Redis.
   * Once an attempt has failed, calls fail fast until the connection is back.
   */
  #firstConnection: { promise: Promise<void>; settle: (error?: unknown) => void } | undefined;

  /**
   * @param adapter an existing `KeyvRedis`. Its `throwOnErrors` is turned on and its client's
   * offline queue off: without both, failures are reported as misses and queued writes replay late.
   */
  constructor(adapter: KeyvRedis<unknown>) {
    this.#adapter = adapter;
    this.namespace = adapter.namespace;
    this.#safeUrl = redactUrl(String((adapter.client as { options?: { url?: string } }).options?.url ?? 'redis'));
    this.#client = adapter.client;
    adapter.throwOnErrors = true;
    const clientOptions = (this.#client as { options?: { disableOfflineQueue?: boolean } }).options;
    if (clientOptions) clientOptions.disableOfflineQueue = true;
    // @keyv/redis re-emits client errors (one listener more per reconnect); an 'error' event with
    // no listener would crash the process. Failures are counted per call, never from these events.
    adapter.on('error', () => {});
    const client = this.#client as unknown as NodeJS.EventEmitter;
    client.on('ready', () => this.#transition('ready'));
    client.on('error', (error: unknown) => this.#transition('down', error));
    client.on('end', () => this.#transition('down'));
    if (this.#isReady()) this.#state = 'ready';
  }

  /** Starts connecting in the background; never blocks and never throws. */
  connect(): void {
    if (this.#client.isOpen) return;
    let settle!: (error?: unknown) => void;
    const promise = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    promise.catch(() => {});
    this.#firstConnection = { promise, settle };
    this.#client.connect().catch((error: unknown) => this.#transition('down', error));
  }

  reconnect(): void {
    if (this.#closed) return;
    if (this.#client.isOpen) this.#client.destroy();
    this.#transition('down');
    this.#client.connect().catch((error: unknown) => this.#transition('down', error));
  }

  get namespace(): string | undefined {
    return this.#adapter.namespace;
  }

  set namespace(value: string | undefined) {
    this.#adapter.namespace = value;
    this.#prefix = value ? `${value}${this.#adapter.keyPrefixSeparator}` : '';
  }

  /** The underlying `KeyvRedis`. */
  get adapter(): KeyvRedis<unknown> {
    return this.#adapter;
  }

  /** The `@keyv/redis` layout, `namespace::key`, with the prefix computed once per namespace. */
  physicalKey(key: string): string {
    return this.#prefix + key;
  }

  #transition(state: PrimaryConnectionState, rawError?: unknown): void {
    const error = rawError === undefined ? undefined : connectionError(rawError, this.#safeUrl);
    const first = this.#firstConnection;
    if (first !== undefined) {
      this.#firstConnection = undefined;
      first.settle(state === 'ready' ? undefined : new PrimaryUnavailableError('connect', error));
    }
    if (state === this.#state || this.#closed) return;
    this.#state = state;
    this.onConnectionChange?.(state, error);
  }

  #isReady(): boolean {
    const client = this.#client as { isReady?: boolean; isOpen: boolean };
    return client.isReady ?? client.isOpen;
  }

  /**
   * The client, if a command can be sent now; while the first connection attempt is in flight,
   * once it succeeds; otherwise fail without touching the network.
   */
  async #ready(operation: string): Promise<AnyRedisClient> {
    if (this.#isReady()) return this.#client;
    if (this.#firstConnection === undefined) throw new PrimaryUnavailableError(operation);
    await this.#firstConnection.promise;
    return this.#client;
  }

  async get(key: string): Promise<PrimaryRead | undefined> {
    const client = this.#isReady() ? this.#client : await this.#ready('get');
    const physical = this.#prefix + key;
    let value: string | null;
    try {
      value = (await client.get(physical)) as string | null;
    } catch (error) {
      throw classify('get', error);
    }
    if (value === null) return undefined;
    return this.#read(client, physical, value);
  }

  async getMany(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    const client = this.#isReady() ? this.#client : await this.#ready('getMany');
    let values: unknown[];
    try {
      // @keyv/redis batches MGET per cluster slot.
      values = await this.#adapter.getMany([...keys]);
    } catch (error) {
      throw classify('getMany', error);
    }
    return values.map((value, i) =>
      value === undefined || value === null ? undefined : this.#read(client, this.#prefix + keys[i], value),
    );
  }

  /**
   * The TTL comes from Keyv's envelope when it has one (Keyv enforces the same timestamp on every
   * read); otherwise the store may ask for a `PTTL`, sent after the value so the read pays no extra
   * round trip.
   */
  #read(client: AnyRedisClient, physical: string, value: unknown): PrimaryRead {
    const ttlMs = envelopeTtl(value, Date.now());
    if (ttlMs !== undefined) return { value, ttlMs };
    const fetchTtl = () => client.pTTL(physical).then((pttl: number) => (pttl === -2 ? 0 : remainingTtl(pttl)));
    return { value, ttlMs: undefined, fetchTtl, untimedEnvelope: isKeyvEnvelope(value) };
  }

  async set(key: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    const client = this.#isReady() ? this.#client : await this.#ready('set');
    try {
      await (ttlMs === undefined
        ? client.set(this.physicalKey(key), value as string)
        : client.set(this.physicalKey(key), value as string, { PX: ttlMs }));
    } catch (error) {
      throw classify('set', error);
    }
  }

  async setMany(entries: readonly PrimaryEntry[]): Promise<void> {
    await this.#ready('setMany');
    try {
      await this.#adapter.setMany(
        entries.map(({ key, value, ttlMs }) => (ttlMs === undefined ? { key, value } : { key, value, ttl: ttlMs })),
      );
    } catch (error) {
      throw classify('setMany', error);
    }
  }

  async delete(key: string): Promise<boolean> {
    const client = this.#isReady() ? this.#client : await this.#ready('delete');
    try {
      return (await client.unlink(this.physicalKey(key))) > 0;
    } catch (error) {
      throw classify('delete', error);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<boolean> {
    await this.#ready('deleteMany');
    try {
      return await this.#adapter.deleteMany([...keys]);
    } catch (error) {
      throw classify('deleteMany', error);
    }
  }

  async has(key: string): Promise<boolean> {
    const client = this.#isReady() ? this.#client : await this.#ready('has');
    try {
      return (await client.exists(this.physicalKey(key))) === 1;
    } catch (error) {
      throw classify('has', error);
    }
  }

  async hasMany(keys: readonly string[]): Promise<boolean[]> {
    await this.#ready('hasMany');
    try {
      return await this.#adapter.hasMany([...keys]);
    } catch (error) {
      throw classify('hasMany', error);
    }
  }

  /**
   * Deletes the namespace with `SCAN` + `UNLINK`, as `@keyv/redis` does, but reports failures:
   * `KeyvRedis.clear()` swallows them. `step` bounds each round trip.
   */
  async clear(namespace: string | undefined, step: Step): Promise<void> {
    await this.#ready('clear');
    const separator = this.#adapter.keyPrefixSeparator;
    const match = namespace ? `${namespace}${separator}*` : '*';
    try {
      for (const node of await step('clear', this.#adapter.getMasterNodes())) {
        let cursor = '0';
        do {
          const reply = await step('clear', node.scan(cursor, { MATCH: match, COUNT: 1000, TYPE: 'string' }));
          cursor = String(reply.cursor);
          // Without a namespace, only keys that have none are ours to delete.
          const keys = namespace ? reply.keys : reply.keys.filter((key) => !key.includes(separator));
          if (keys.length > 0) await step('clear', this.#unlink(node, keys));
        } while (cursor !== '0');
      }
    } catch (error) {
      throw (error as { code?: string }).code?.startsWith('E_PRIMARY_') ? error : classify('clear', error);
    }
  }

  /** `UNLINK` on one node; a cluster refuses multi-key commands across slots, even on one node. */
  #unlink(node: { unlink(keys: string | string[]): Promise<number> }, keys: string[]): Promise<unknown> {
    return this.#adapter.isCluster() ? Promise.all(keys.map((key) => node.unlink(key))) : node.unlink(keys);
  }

  async probe(): Promise<string | undefined> {
    const client = await this.#ready('probe');
    try {
      // INFO server proves a round trip and names the process: run_id changes when Redis restarts.
      const info = String(await client.info('server'));
      return /run_id:(\w+)/.exec(info)?.[1];
    } catch (error) {
      throw classify('probe', error);
    }
  }

  async invalidate(physicalKeys: readonly string[]): Promise<void> {
    const client = await this.#ready('invalidate');
    if (physicalKeys.length === 0) return;
    try {
      await this.#unlink(client as unknown as { unlink(keys: string | string[]): Promise<number> }, [...physicalKeys]);
    } catch (error) {
      throw classify('invalidate', error);
    }
  }

  async restore(entries: readonly PhysicalEntry[]): Promise<void> {
    const client = await this.#ready('restore');
    try {
      // Pipelined: issued in one tick, written in one round trip.
      await Promise.all(
        entries.map(({ physicalKey, value, ttlMs }) =>
          ttlMs === undefined
            ? client.set(physicalKey, value as string)
            : client.set(physicalKey, value as string, { PX: ttlMs }),
        ),
      );
    } catch (error) {
      throw classify('restore', error);
    }
  }

  async *scan(pattern: string, count: number): AsyncGenerator<string[], void> {
    await this.#ready('scan');
    try {
      for (const node of await this.#adapter.getMasterNodes()) {
        let cursor = '0';
        do {
          const reply = await node.scan(cursor, { MATCH: pattern, COUNT: count, TYPE: 'string' });
          cursor = String(reply.cursor);
          if (reply.keys.length > 0) yield reply.keys;
        } while (cursor !== '0');
      }
    } catch (error) {
      throw classify('scan', error);
    }
  }

  async readPhysical(physicalKeys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    const client = this.#isReady() ? this.#client : await this.#ready('readPhysical');
    try {
      // GETs and PTTLs issued in one tick: one round trip, and per key, so a cluster routes each.
      const [values, pttls] = await Promise.all([
        Promise.all(physicalKeys.map((key) => client.get(key) as Promise<string | null>)),
        Promise.all(physicalKeys.map((key) => client.pTTL(key))),
      ]);
      return values.map((value, i) => {
        const pttl = pttls[i] ?? -2;
        return value === null || pttl === -2 ? undefined : { value, ttlMs: remainingTtl(pttl) };
      });
    } catch (error) {
      throw classify('readPhysical', error);
    }
  }

  async *iterator(namespace: string | undefined): AsyncGenerator<[string, unknown], void> {
    await this.#ready('iterator');
    try {
      yield* this.#adapter.iterator(namespace) as AsyncGenerator<[string, unknown], void>;
    } catch (error) {
      throw classify('iterator', error);
    }
  }

  async disconnect(): Promise<void> {
    this.#closed = true;
    if (!this.#client.isOpen) return;
    // destroy(), not close(): close() waits for replies, forever on a hung server.
    this.#client.destroy();
  }
}
