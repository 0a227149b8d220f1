import type { createClient } from '@redis/client';
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
import {
  applyFailFast,
  type HandshakeRefusal,
  handshakeRefusal,
  isServerReply,
  kindOf,
  type RedisConnectOptions,
  type RedisNode,
  RedisTopology,
  Resp3RefusedError,
  resp2FallbackOf,
  safeNameOf,
} from './redis-topology.js';
import { RedisTracking } from './redis-tracking.js';

export { createFailFastClient, isServerReply, type RedisConnectOptions } from './redis-topology.js';

type RedisClient = ReturnType<typeof createClient>;
/**
 * The commands the adapter sends; a standalone client answers them, and so do the cluster and
 * sentinel clients (each routes a key to its master).
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

const authFailure = /^(WRONGPASS|NOAUTH|NOPERM)\b/;

/** Deletes KEYS[1] only if it holds ARGV[1]: releasing a lock never deletes another holder's. */
const DELETE_IF_EQUAL =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Replies a server sends while a topology changes (a failover, a resharding, a replica loading):
 * the data is still there, on another node or in a moment. Transient, like a lost connection,
 * never bad input: `MOVED`/`ASK` past the client's redirections, `TRYAGAIN` during a migration,
 * `CLUSTERDOWN` while a slot has no master, `READONLY` from a demoted primary, `LOADING` while a
 * restarted node loads its data, `MASTERDOWN` from a replica that lost its master.
 */
const transientReply = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|READONLY|LOADING|MASTERDOWN)\b/;

/** Delay before a cluster or Sentinel client whose connection attempt failed tries again. */
const TOPOLOGY_RETRY_MS = 1_000;

/** How often the dead node's reconnect attempts may trigger a new look at the cluster's slots. */
const TOPOLOGY_REFRESH_MS = 100;

/** A call made while the client cannot send: the primary is unavailable, nothing was sent. */
class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError';
}

/** A Redis `PTTL` reply as a remaining TTL: -1 means no expiry; -2 (gone) is handled by the caller. */
function remainingTtl(pttl: number): number | undefined {
  return pttl >= 0 ? pttl : undefined;
}

/**
 * The Redis primary, on a node-redis client (one Redis, a cluster or a Sentinel client; see
 * `redis-topology.ts` for what differs): one the store built, or the one inside a `KeyvRedis` the
 * application handed over (whose batches keep `@keyv/redis`'s cluster slot handling). Keys arrive physical (the core's `KeyLayout` applies namespace and separator), so a
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
  /** Replaced once, by its RESP2 twin, if its RESP3 handshake is refused (see {@link #handshakeRefused}). */
  #client: AnyRedisClient;
  #topology: RedisTopology;
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;
  readonly #tracking: RedisTracking;
  /** Undefined until the first connection attempt settles, so that its failure is reported too. */
  #state: PrimaryConnectionState | undefined;
  #closed = false;
  /**
   * Clients whose TCP connect is in flight (from `connect()` or node-redis's `reconnecting` to its
   * `connect` or `error`): node-redis's `destroy()` cannot reach that socket (see {@link #destroy}).
   */
  readonly #dialing = new WeakSet<object>();
  /** The next attempt at a first connection of a cluster or a Sentinel client, if one is due. */
  #retry: ReturnType<typeof setTimeout> | undefined;
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
  constructor(source: object, connectOptions?: RedisConnectOptions) {
    const adapter = isKeyvRedisLike(source) ? source : undefined;
    this.#adapter = adapter;
    this.#client = (adapter === undefined ? source : adapter.client) as AnyRedisClient;
    this.#tracking = new RedisTracking(this.#client);
    const kind = kindOf(this.#client);
    this.#topology = new RedisTopology(this.#client, kind);
    this.separator = adapter?.keyPrefixSeparator ?? '::';
    this.initialNamespace = adapter?.namespace;
    this.safeName = safeNameOf(this.#client, kind);
    applyFailFast(this.#client, kind, connectOptions);
    if (adapter !== undefined) {
      adapter.namespace = undefined;
      adapter.throwOnErrors = true;
      // @keyv/redis re-emits client errors (one listener more per reconnect); an 'error' event with
      // no listener would crash the process. Failures are counted per call, never from these events.
      adapter.on('error', () => {});
    }
    this.#listen(this.#client as unknown as NodeJS.EventEmitter, kind);
    // A cluster handed over connected already knows its slots.
    const connectedCluster = kind === 'cluster' && this.#client.isOpen && this.#topology.hasMasters();
    if (connectedCluster || this.#isReady()) this.#state = 'ready';
  }

  /**
   * Connection events. One Redis: its own. A cluster: up once the slots are known, down when
   * closed; a node's errors (a dead master's reconnect attempts) only make it look at the slots
   * again, and a new set of masters (a failover done) asks the store to probe now. A Sentinel
   * client: up once it found the primary; a new primary asks the store to probe now. Neither
   * cluster nor Sentinel errors mean the whole primary is down (they report one node, or a
   * sentinel): calls that fail count towards the breaker instead.
   */
  #listen(client: NodeJS.EventEmitter, kind: RedisTopology['kind']): void {
    if (kind === 'standalone') {
      // A client replaced by its RESP2 twin is not heard from again.
      const current = () => client === (this.#client as unknown);
      client.on('reconnecting', () => this.#dialing.add(client));
      client.on('connect', () => this.#dialing.delete(client));
      client.on('ready', () => {
        // Not expected (a client closed while connecting is destroyed as it connects); made sure of.
        if (this.#closed) this.#destroy(client as unknown as AnyRedisClient);
        else if (current()) this.#transition('ready');
      });
      client.on('error', (error: unknown) => {
        this.#dialing.delete(client);
        if (!current()) return;
        const refusal = handshakeRefusal(error);
        if (refusal === undefined) this.#transition('down', error);
        else this.#handshakeRefused(refusal);
      });
      client.on('end', () => current() && this.#transition('down'));
      return;
    }
    // Listened to even when ignored: an 'error' event without a listener would crash the process.
    client.on('error', () => {});
    if (kind === 'cluster') {
      client.on('connect', () => this.#transition('ready'));
      client.on('disconnect', () => this.#transition('down'));
      client.on('node-error', () => void this.#refreshTopology());
    } else {
      client.on('topology-change', (event: { type?: string }) => {
        if (event?.type === 'MASTER_CHANGE') this.#newPrimary();
      });
    }
  }

  async #refreshTopology(): Promise<void> {
    if (await this.#topology.refresh(TOPOLOGY_REFRESH_MS)) this.#newPrimary();
  }

  /** The topology has a new primary (or master): let the store probe it now, not at its cooldown. */
  #newPrimary(): void {
    if (this.#closed || this.#state !== 'ready') return;
    this.onConnectionChange?.('ready');
  }

  classify(error: unknown): PrimaryErrorKind {
    if (!isServerReply(error)) return 'unavailable';
    const message = error instanceof Error ? error.message : String(error);
    if (transientReply.test(message)) {
      // The client follows MOVED itself, but only a few times; a CLUSTERDOWN says the slots are changing.
      void this.#refreshTopology();
      return 'unavailable';
    }
    return authFailure.test(message) ? 'auth' : 'command';
  }

  /** Starts connecting in the background; never blocks and never throws. */
  connect(): void {
    if (this.#closed || this.#client.isOpen) return;
    let settle!: (error?: unknown) => void;
    const promise = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    promise.catch(() => {});
    this.#firstConnection = { promise, settle };
    this.#open();
  }

  /**
   * A cluster or a Sentinel client says it is up by resolving (a standalone one emits 'ready').
   * Neither tries again when its first connection fails (a standalone client does): the store
   * does, every {@link TOPOLOGY_RETRY_MS}, so that a store started while the primary is down
   * finds it when it comes back.
   */
  #open(): void {
    if (this.#closed) return;
    const client = this.#client;
    // Only a standalone client reports its TCP connect ('connect' per socket, see #listen).
    if (this.#topology.kind === 'standalone') this.#dialing.add(client);
    client.connect().then(
      () => {
        if (this.#closed) this.#destroy(client);
        else if (client === this.#client) this.#transition('ready');
      },
      (error: unknown) => {
        // A client replaced after the server refused RESP3: its rejection quotes the refusal.
        if (client !== this.#client) return;
        this.#transition('down', error);
        if (this.#topology.kind !== 'standalone') this.#retryOpen();
      },
    );
  }

  #retryOpen(): void {
    if (this.#closed) return;
    const timer = setTimeout(async () => {
      this.#retry = undefined;
      if (this.#closed) return;
      // A Sentinel client stays "open" after a failed connect; destroy() resets it.
      if (this.#topology.kind === 'sentinel') await (this.#client.destroy() as unknown as Promise<void>);
      if (!this.#closed) this.#open();
    }, TOPOLOGY_RETRY_MS);
    timer.unref();
    this.#retry = timer;
  }

  /**
   * One Redis: a new connection. A cluster: a new look at its slots (its node connections
   * reconnect on their own). A Sentinel client asks its sentinels on its own.
   */
  reconnect(): void {
    if (this.#closed || this.#topology.kind === 'sentinel') return;
    if (this.#topology.kind === 'cluster') {
      void this.#refreshTopology();
      return;
    }
    const client = this.#client;
    // A connect in flight is the new connection already (bounded by its connect timeout); a
    // destroy() now would not reach its socket, and a second connect() would race it.
    if (this.#dialing.has(client)) return;
    if (client.isOpen) client.destroy();
    this.#transition('down');
    this.#dialing.add(client);
    client.connect().catch((error: unknown) => client === this.#client && this.#transition('down', error));
  }

  /**
   * The RESP3 handshake with invalidations was refused for good (see `handshakeRefusal`; only
   * those replies, never an outage, a credentials error or another NOPERM): the server refused
   * `HELLO 3`, or the ACL user may not run `HELLO` or `CLIENT TRACKING`. No connection can carry
   * invalidations. The near-cache is told (`unsupported`: reads go `memory-first`; the reason names
   * what was refused), and a client the store built is replaced, for the store's lifetime, by its
   * RESP2 twin, which connects as any primary does (calls waiting for the first connection wait for
   * it; deadlines, breaker and reconnects as before). RESP2, not RESP3 without tracking, for an ACL
   * refusal too: it is the connection the store makes for every other read policy, so the user
   * needs no more than it would without the near-cache (and `HELLO` may be the very refusal). Not
   * retried in RESP3 on a later reconnect: what a server speaks, or a user may run, changes with a
   * deployment, not between connections, and a near-cache that could come back at any reconnect
   * would flip reads between two policies; a new store (a restart of the application) asks again.
   * An application's client is left as it is (its options are its own): reported down with this
   * error. The server's reply is never reported: a refused HELLO quotes its arguments, the password
   * among them.
   */
  #handshakeRefused(refusal: HandshakeRefusal): void {
    const { reason, cannotConnect } = this.#describe(refusal);
    this.#tracking.refused(reason);
    const fallback = resp2FallbackOf(this.#client);
    if (fallback === undefined) {
      this.#transition('down', new Resp3RefusedError(`Redis at ${this.safeName} ${cannotConnect}`));
      return;
    }
    const old = this.#client;
    // Stopped by its reconnect strategy already; made sure of, so that it never tries HELLO again.
    if (old.isOpen) old.destroy();
    if (this.#closed) return;
    const client = fallback() as AnyRedisClient;
    this.#client = client;
    this.#topology = new RedisTopology(client, 'standalone');
    this.#listen(client as unknown as NodeJS.EventEmitter, 'standalone');
    this.#open();
  }

  /**
   * The near-cache's reason (worded for it: `the server refused HELLO 3` and `CLIENT TRACKING
   * refused` open what it reads as `unsupported`), and what an application's client is told.
   * The store's words only, never the server's reply.
   */
  #describe(refusal: HandshakeRefusal): { reason: string; cannotConnect: string } {
    if (refusal.kind === 'protocol') {
      return {
        reason: `the server refused HELLO 3 (RESP3), needed for invalidations: reading memory-first (${refusal.what})`,
        cannotConnect: `refused HELLO 3 (${refusal.what}): this client asks for RESP3 and cannot connect to it (build it without RESP: 3)`,
      };
    }
    const hello = refusal.command === 'hello';
    const command = hello ? 'HELLO' : 'CLIENT TRACKING';
    return {
      reason: hello
        ? 'the server refused HELLO 3: the ACL user may not run HELLO (NOPERM), needed for RESP3 and invalidations: reading memory-first'
        : 'CLIENT TRACKING refused: the ACL user may not run CLIENT TRACKING (NOPERM), needed for invalidations: reading memory-first',
      cannotConnect: `says the ACL user may not run ${command} (NOPERM), which this client's handshake sends (RESP: 3 with emitInvalidate): it cannot connect (build it without ${hello ? 'RESP: 3' : 'emitInvalidate'}, or allow the user +${refusal.command})`,
    };
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
    // A cluster client is open from the moment it starts discovering its slots, before it can
    // route a key: it is ready once its connect() resolved, until it is closed.
    if (this.#topology.kind === 'cluster') return this.#state === 'ready';
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
    // @keyv/redis batches MGET per cluster slot; a standalone client takes one MGET; a cluster
    // client of the store's own, a GET per key issued in one tick (one round trip per master).
    const values: unknown[] =
      this.#adapter !== undefined
        ? await this.#adapter.getMany([...keys])
        : this.#topology.kind === 'cluster'
          ? await Promise.all(keys.map((key) => client.get(key)))
          : await client.mGet([...keys]);
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
    const ttlMs = envelopeTtl(value);
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
    if (this.#topology.kind === 'cluster') {
      // A MULTI cannot span slots: a SET per key, issued in one tick (one round trip per master).
      await Promise.all(
        entries.map(({ key, value, ttlMs }) =>
          ttlMs === undefined ? client.set(key, value as string) : client.set(key, value as string, { PX: ttlMs }),
        ),
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
  #masters(): Promise<RedisNode[]> {
    return this.#topology.masters();
  }

  /** `SCAN` batches of `scope`'s keys on every master, only those it owns; `step` bounds each round trip. */
  async *#scope(scope: KeyScope, step: Step, operation: string): AsyncGenerator<[RedisNode, string[]], void> {
    // Bounded too: a first connection can take seconds to fail (a Sentinel client's does).
    await step(operation, this.#ready());
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
  #unlink(node: RedisNode, keys: string[]): Promise<unknown> {
    return this.#topology.kind === 'cluster' ? Promise.all(keys.map((key) => node.unlink(key))) : node.unlink(keys);
  }

  async *iterator(scope: KeyScope, step: Step): AsyncGenerator<[string, unknown], void> {
    const client = await step('iterator', this.#ready());
    for await (const [, keys] of this.#scope(scope, step, 'iterator')) {
      // Per key, issued in one tick: one round trip, and a cluster routes each.
      const values = await step('iterator', Promise.all(keys.map((key) => client.get(key) as Promise<string | null>)));
      for (const [i, value] of values.entries()) if (value !== null) yield [keys[i] as string, value];
    }
  }

  /**
   * `INFO server` on every master proves a round trip and names the processes: a `run_id` changes
   * when Redis restarts or a replica takes over. On a cluster the identity is the set of the
   * masters' run ids (see `RedisTopology`): a change of any one is reported as a restart.
   */
  async probe(): Promise<string | undefined> {
    await this.#ready();
    return this.#topology.serverId();
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

  /** One Redis, a cluster or a Sentinel deployment. */
  get topologyKind(): RedisTopology['kind'] {
    return this.#topology.kind;
  }

  trackingSupport(): TrackingSupport {
    // The store builds its Sentinel client in RESP2, and tracking would have to be armed again on
    // every promoted master: not done (yet), so say so instead of blaming the client's options.
    if (this.#topology.kind === 'sentinel') {
      return { supported: false, reason: 'invalidations are not tracked through Sentinel: reading memory-first' };
    }
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
    clearTimeout(this.#retry);
    this.#destroy(this.#client);
  }

  /**
   * Closes `client` for good: destroy(), not close() (close() waits for replies, forever on a
   * hung server). While its TCP connect is in flight, node-redis's destroy() cannot reach the
   * socket (the client holds it only once connected): the connection would complete after, closed
   * for the client and open on the wire, keeping the process alive. Such a client is destroyed as
   * soon as it connects, or fails to (then it would retry): a process exits within the connect
   * timeout at worst, and the server keeps no connection of a closed store.
   */
  #destroy(client: AnyRedisClient): void {
    if (!this.#dialing.has(client)) {
      if (client.isOpen) client.destroy();
      return;
    }
    const destroy = () => {
      if (client.isOpen) client.destroy();
    };
    const emitter = client as unknown as NodeJS.EventEmitter;
    emitter.once('connect', destroy);
    emitter.once('error', destroy);
  }
}
