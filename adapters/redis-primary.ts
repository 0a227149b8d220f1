import { createClient } from '@redis/client';
import type {
  InvalidationListener,
  KeyScope,
  Primary,
  PrimaryConnectionState,
  PrimaryEntry,
  PrimaryErrorKind,
  PrimaryRead,
  Step,
  TrackingSupport,
} from '../src/primary.js';
import { envelopeTtl, isKeyvEnvelope } from './envelope.js';
import { RedisTracking } from './redis-tracking.js';
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
  /** RESP3 with push messages, for the near-cache's invalidations (needs Redis 6 or later). */
  readonly tracking?: boolean;
}

type RedisClient = ReturnType<typeof createClient>;
/**
 * The commands the adapter sends; a standalone client answers them, and so do the cluster and
 * sentinel clients a `KeyvRedis` may hold.
 */
type AnyRedisClient = RedisClient;

/**
 * What the adapter uses of a `KeyvRedis` handed to the store, by shape: `@keyv/redis` is the
 * application's dependency, not ours (its peer range names one Keyv major). Its batches keep its
 * cluster slot handling.
 */
export interface KeyvRedisLike {
  readonly client: unknown;
  namespace: string | undefined;
  readonly keyPrefixSeparator: string;
  throwOnErrors: boolean;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  getMany(keys: string[]): Promise<unknown[]>;
  setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<unknown>;
  hasMany(keys: string[]): Promise<boolean[]>;
  getMasterNodes(): Promise<unknown[]>;
  isCluster(): boolean;
}

/** True for an object shaped like a `KeyvRedis` (duck-typed: no import of `@keyv/redis`). */
export function isKeyvRedisLike(value: object): value is KeyvRedisLike {
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.client === 'object' &&
    candidate.client !== null &&
    typeof candidate.keyPrefixSeparator === 'string' &&
    ['getMany', 'setMany', 'hasMany', 'getMasterNodes', 'isCluster'].every((m) => typeof candidate[m] === 'function')
  );
}

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

const authFailure = /^(WRONGPASS|NOAUTH|NOPERM)\b/;

/** Deletes KEYS[1] only if it holds ARGV[1]: releasing a lock never deletes another holder's. */
const DELETE_IF_EQUAL =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** A call made while the client cannot send: the primary is unavailable, nothing was sent. */
class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError';
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
    ...(options.tracking === true ? { RESP: 3, emitInvalidate: true } : {}),
    ...(options.clientName === undefined ? {} : { name: options.clientName }),
    socket: {
      connectTimeout: options.connectTimeoutMs,
      reconnectStrategy: (retries: number) =>
        Math.round(Math.min(max, min * 2 ** retries) * (0.75 + Math.random() * 0.5)),
    },
  });
}

/** A node with the commands namespace-wide operations use (a standalone client, or a cluster master). */
interface ScanNode {
  scan(
    cursor: string,
    options: { MATCH: string; COUNT: number; TYPE: string },
  ): Promise<{ cursor: unknown; keys: string[] }>;
  unlink(keys: string | string[]): Promise<number>;
}

/**
 * The Redis primary, on a node-redis client: one the store built from a URL, or the one inside a
 * `KeyvRedis` the application handed over (whose batches keep `@keyv/redis`'s cluster slot
 * handling). Keys arrive physical (the core's `KeyLayout` applies namespace and separator), so a
 * `KeyvRedis`'s own namespace is cleared: it would prefix them twice.
 *
 * Single-key commands go straight to the client: `@keyv/redis` turns errors into misses unless
 * `throwOnErrors` is set, and its `getClient()` reconnects (and on failure destroys the client)
 * inside the call path. Errors are rejected as the client raised them; `classify` sorts them.
 */
export class RedisPrimary implements Primary {
  readonly dialect = 'redis';
  readonly separator: string;
  readonly initialNamespace: string | undefined;
  readonly safeName: string;
  /** The application's `KeyvRedis`, if it handed one over; batches then go through it. */
  readonly #adapter: KeyvRedisLike | undefined;
  readonly #client: AnyRedisClient;
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;
  readonly #tracking: RedisTracking;
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
   * @param source a client the store built (fail-fast already), or an existing `KeyvRedis`: its
   * `throwOnErrors` is turned on, its client's offline queue off (without both, failures are
   * reported as misses and queued writes replay late) and its namespace handed to the store.
   */
  constructor(source: RedisClient | KeyvRedisLike) {
    const adapter = isKeyvRedisLike(source) ? source : undefined;
    this.#adapter = adapter;
    this.#client = (adapter === undefined ? source : adapter.client) as AnyRedisClient;
    this.#tracking = new RedisTracking(this.#client);
    this.separator = adapter?.keyPrefixSeparator ?? '::';
    this.initialNamespace = adapter?.namespace;
    this.safeName = redactUrl(String((this.#client as { options?: { url?: string } }).options?.url ?? 'redis'));
    const clientOptions = (this.#client as { options?: { disableOfflineQueue?: boolean } }).options;
    if (clientOptions) clientOptions.disableOfflineQueue = true;
    if (adapter !== undefined) {
      adapter.namespace = undefined;
      adapter.throwOnErrors = true;
      // @keyv/redis re-emits client errors (one listener more per reconnect); an 'error' event with
      // no listener would crash the process. Failures are counted per call, never from these events.
      adapter.on('error', () => {});
    }
    const client = this.#client as unknown as NodeJS.EventEmitter;
    client.on('ready', () => this.#transition('ready'));
    client.on('error', (error: unknown) => this.#transition('down', error));
    client.on('end', () => this.#transition('down'));
    if (this.#isReady()) this.#state = 'ready';
  }

  classify(error: unknown): PrimaryErrorKind {
    if (!isServerReply(error)) return 'unavailable';
    return authFailure.test(error instanceof Error ? error.message : String(error)) ? 'auth' : 'command';
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

  #transition(state: PrimaryConnectionState, error?: unknown): void {
    const first = this.#firstConnection;
    if (first !== undefined) {
      this.#firstConnection = undefined;
      first.settle(state === 'ready' ? undefined : (error ?? new NotConnectedError('connection attempt failed')));
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
  async #ready(): Promise<AnyRedisClient> {
    if (this.#isReady()) return this.#client;
    if (this.#firstConnection === undefined) throw new NotConnectedError('not connected');
    await this.#firstConnection.promise;
    return this.#client;
  }

  async get(key: string): Promise<PrimaryRead | undefined> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    const value = (await client.get(key)) as string | null;
    return value === null ? undefined : this.#read(client, key, value);
  }

  async getMany(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    // @keyv/redis batches MGET per cluster slot; a standalone client takes one MGET.
    const values: unknown[] =
      this.#adapter === undefined ? await client.mGet([...keys]) : await this.#adapter.getMany([...keys]);
    return values.map((value, i) =>
      value === undefined || value === null ? undefined : this.#read(client, keys[i] as string, value),
    );
  }

  /**
   * The TTL comes from Keyv's envelope when it has one (Keyv enforces the same timestamp on every
   * read); otherwise the store may ask for a `PTTL`, sent after the value so the read pays no extra
   * round trip.
   */
  #read(client: AnyRedisClient, key: string, value: unknown): PrimaryRead {
    const ttlMs = envelopeTtl(value, Date.now());
    if (ttlMs !== undefined) return { value, ttlMs };
    const fetchTtl = () => client.pTTL(key).then((pttl: number) => (pttl === -2 ? 0 : remainingTtl(pttl)));
    return { value, ttlMs: undefined, fetchTtl, untimedEnvelope: isKeyvEnvelope(value) };
  }

  async set(key: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    await (ttlMs === undefined ? client.set(key, value as string) : client.set(key, value as string, { PX: ttlMs }));
  }

  async setMany(entries: readonly PrimaryEntry[]): Promise<void> {
    const client = await this.#ready();
    if (this.#adapter !== undefined) {
      await this.#adapter.setMany(
        entries.map(({ key, value, ttlMs }) => (ttlMs === undefined ? { key, value } : { key, value, ttl: ttlMs })),
      );
      return;
    }
    // One MULTI, as @keyv/redis sends it: one round trip, all or nothing.
    const multi = client.multi();
    for (const { key, value, ttlMs } of entries) {
      if (ttlMs === undefined) multi.set(key, value as string);
      else multi.set(key, value as string, { PX: ttlMs });
    }
    await multi.exec();
  }

  async delete(key: string): Promise<boolean> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    return (await client.unlink(key)) > 0;
  }

  async deleteMany(keys: readonly string[]): Promise<boolean[]> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    // One UNLINK per key, issued in one tick: one round trip, a result per key, and a cluster
    // routes each to its slot.
    const counts = await Promise.all(keys.map((key) => client.unlink(key)));
    return counts.map((count) => count > 0);
  }

  async has(key: string): Promise<boolean> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    return (await client.exists(key)) === 1;
  }

  async hasMany(keys: readonly string[]): Promise<boolean[]> {
    const client = await this.#ready();
    if (this.#adapter !== undefined) return this.#adapter.hasMany([...keys]);
    // Issued in one tick: one round trip.
    return (await Promise.all(keys.map((key) => client.exists(key)))).map((count) => count === 1);
  }

  /** Every master to scan: the cluster's, or the one server. */
  #masters(): Promise<ScanNode[]> {
    return this.#adapter === undefined
      ? Promise.resolve([this.#client as unknown as ScanNode])
      : (this.#adapter.getMasterNodes() as Promise<ScanNode[]>);
  }

  /** `SCAN` batches of `scope`'s keys on every master, only those it owns; `step` bounds each round trip. */
  async *#scope(scope: KeyScope, step: Step, operation: string): AsyncGenerator<[ScanNode, string[]], void> {
    await this.#ready();
    for (const node of await step(operation, this.#masters())) {
      let cursor = '0';
      do {
        const reply = await step(operation, node.scan(cursor, { MATCH: scope.pattern, COUNT: 1000, TYPE: 'string' }));
        cursor = String(reply.cursor);
        const keys = reply.keys.filter(scope.owns);
        if (keys.length > 0) yield [node, keys];
      } while (cursor !== '0');
    }
  }

  /** Deletes the keys of `scope` with `SCAN` + `UNLINK`; `KeyvRedis.clear()` would swallow failures. */
  async clear(scope: KeyScope, step: Step): Promise<void> {
    for await (const [node, keys] of this.#scope(scope, step, 'clear')) await step('clear', this.#unlink(node, keys));
  }

  /** `UNLINK` on one node; a cluster refuses multi-key commands across slots, even on one node. */
  #unlink(node: ScanNode, keys: string[]): Promise<unknown> {
    return this.#adapter?.isCluster() ? Promise.all(keys.map((key) => node.unlink(key))) : node.unlink(keys);
  }

  async *iterator(scope: KeyScope, step: Step): AsyncGenerator<[string, unknown], void> {
    const client = await this.#ready();
    for await (const [, keys] of this.#scope(scope, step, 'iterator')) {
      // Per key, issued in one tick: one round trip, and a cluster routes each.
      const values = await step('iterator', Promise.all(keys.map((key) => client.get(key) as Promise<string | null>)));
      for (const [i, value] of values.entries()) if (value !== null) yield [keys[i] as string, value];
    }
  }

  async probe(): Promise<string | undefined> {
    const client = await this.#ready();
    // INFO server proves a round trip and names the process: run_id changes when Redis restarts.
    const info = String(await client.info('server'));
    return /run_id:(\w+)/.exec(info)?.[1];
  }

  async *scan(pattern: string, count: number): AsyncGenerator<string[], void> {
    await this.#ready();
    for (const node of await this.#masters()) {
      let cursor = '0';
      do {
        const reply = await node.scan(cursor, { MATCH: pattern, COUNT: count, TYPE: 'string' });
        cursor = String(reply.cursor);
        if (reply.keys.length > 0) yield reply.keys;
      } while (cursor !== '0');
    }
  }

  async readPhysical(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    // GETs and PTTLs issued in one tick: one round trip, and per key, so a cluster routes each.
    const [values, pttls] = await Promise.all([
      Promise.all(keys.map((key) => client.get(key) as Promise<string | null>)),
      Promise.all(keys.map((key) => client.pTTL(key))),
    ]);
    return values.map((value, i) => {
      const pttl = pttls[i] ?? -2;
      return value === null || pttl === -2 ? undefined : { value, ttlMs: remainingTtl(pttl) };
    });
  }

  trackingSupport(): TrackingSupport {
    return this.#tracking.support();
  }

  track(prefix: string, listener: InvalidationListener): void {
    this.#tracking.track(prefix, listener);
  }

  async heartbeat(): Promise<void> {
    await this.#ready();
    await this.#tracking.heartbeat();
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    return (await client.set(key, value, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } })) === 'OK';
  }

  async deleteIfEqual(key: string, value: string): Promise<boolean> {
    const client = this.#isReady() ? this.#client : await this.#ready();
    return Number(await client.eval(DELETE_IF_EQUAL, { keys: [key], arguments: [value] })) === 1;
  }

  async loadedFromDisk(): Promise<boolean | undefined> {
    const client = await this.#ready();
    const info = String(await client.info('persistence'));
    const loaded = /rdb_last_load_keys_loaded:(\d+)/.exec(info)?.[1];
    // An AOF replays writes too; Redis before 7.0 does not say what it loaded: assume it did.
    if (loaded === undefined || /aof_enabled:1/.test(info)) return undefined;
    return Number(loaded) > 0;
  }

  async disconnect(): Promise<void> {
    this.#closed = true;
    if (!this.#client.isOpen) return;
    // destroy(), not close(): close() waits for replies, forever on a hung server.
    this.#client.destroy();
  }
}
