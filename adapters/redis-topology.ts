import { createClient, createCluster, createSentinel } from '@redis/client';
import type { ClusterConfig, SentinelConfig } from './redis-url.js';
import { redactUrl } from './redis-url.js';

/**
 * What differs between one Redis, a Redis Cluster and a primary under Sentinel, for the Redis
 * adapter: how a client is told to fail fast, which nodes hold keys (every master), how the
 * topology is refreshed after a failover, and what identifies the servers for restart detection.
 * Everything else (commands, deadlines, the breaker) is the same for all three.
 */

/** How a client the store builds connects. Every value bounds a wait; none can be infinite. */
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

export type RedisTopologyKind = 'standalone' | 'cluster' | 'sentinel';

/** A node with the commands namespace-wide operations and the probe use. */
export interface RedisNode {
  scan(
    cursor: string,
    options: { MATCH: string; COUNT: number; TYPE: string },
  ): Promise<{ cursor: unknown; keys: string[] }>;
  unlink(keys: string | string[]): Promise<number>;
  info(section: string): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
}

/** The parts of node-redis's cluster client the adapter reads (`_options`, `_slots` are its own). */
interface ClusterShape {
  readonly masters: ReadonlyArray<{ readonly address: string }>;
  readonly nodeByAddress: Map<string, { client?: { options?: { disableOfflineQueue?: boolean } } }>;
  nodeClient(node: unknown): Promise<RedisNode>;
  readonly _options?: {
    rootNodes?: Array<{ url?: string; socket?: { host?: string; port?: number } }>;
    defaults?: object;
  };
  readonly _slots?: { rediscover(startWith: unknown): Promise<void> };
}

/** Which kind of client this is, by shape (the same test `@keyv/redis` makes). */
export function kindOf(client: object): RedisTopologyKind {
  const candidate = client as Record<string, unknown>;
  if (candidate.slots !== undefined && Array.isArray(candidate.masters)) return 'cluster';
  if (typeof candidate.getSentinelNode === 'function') return 'sentinel';
  return 'standalone';
}

/** Socket settings of every connection the store makes: a bounded connect, a backoff that never gives up. */
function failFastSocket(options: RedisConnectOptions) {
  const { reconnectMinDelayMs: min, reconnectMaxDelayMs: max } = options;
  return {
    connectTimeout: options.connectTimeoutMs,
    reconnectStrategy: (retries: number) =>
      Math.round(Math.min(max, min * 2 ** retries) * (0.75 + Math.random() * 0.5)),
  };
}

/**
 * Client options that fail fast: no offline queue (a command sent while disconnected rejects at
 * once instead of waiting, and is never replayed late), a bounded connection attempt, and an
 * exponential reconnect backoff.
 */
function failFastClientOptions(options: RedisConnectOptions) {
  return {
    disableOfflineQueue: true,
    ...(options.clientName === undefined ? {} : { name: options.clientName }),
    socket: failFastSocket(options),
  };
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

/**
 * The replies that mean "this server does not speak RESP3", to `HELLO 3`: it does not know `HELLO`
 * (Redis before 6, a proxy or a managed service that renamed or blocked it: `ERR unknown command
 * 'HELLO'`, quoted with ' or ` by version, its arguments after; Envoy's `unsupported command
 * 'HELLO'`) or not protocol 3 (`NOPROTO`). Nothing else does: a refused, reset or timed-out
 * connection, `LOADING`, `NOAUTH`/`WRONGPASS`/`NOPERM` (credentials, even when the message names
 * HELLO) are outages or refusals of the credentials, and never make the store give up RESP3.
 */
const helloRefused = /^(?:(NOPROTO)\b|(?:ERR\s+)?(unknown|unsupported)\s+command\s+[`'"]?HELLO\b)/i;

/**
 * What the server's refusal of `HELLO 3` said (`NOPROTO`, `unknown command 'HELLO'`), or
 * `undefined` when `error` is not one (see {@link helloRefused}). Never the reply's text: Redis
 * quotes the refused command's arguments, and `HELLO 3 AUTH <user> <password>` carries the password.
 */
export function resp3Refusal(error: unknown): string | undefined {
  if (!isServerReply(error)) return undefined;
  const match = helloRefused.exec((error as Error).message);
  if (match === null) return undefined;
  return match[1] !== undefined ? 'NOPROTO' : `${(match[2] as string).toLowerCase()} command 'HELLO'`;
}

/**
 * `NOPERM` for a command that only invalidations need, as Redis 7 words it (7.0: `this user has no
 * permissions to run the 'client|tracking' command`; 7.2 and later: `User <name> has no ...`):
 * `CLIENT TRACKING` (node-redis's `emitInvalidate` turns it on in the handshake) or `HELLO` (RESP3;
 * Redis itself exempts it from ACLs, as it does `AUTH`, but a server or a proxy in front may not).
 * Nothing else: a `NOPERM` for any other command (`SELECT`, `CLIENT SETNAME`, a key) is the user's
 * whatever the protocol, and Redis 6's `'client' command or its subcommand` cannot tell
 * `CLIENT TRACKING` from another subcommand.
 */
const aclDenied = /^NOPERM (?:this user|User \S+) has no permissions to run the '(hello|client\|tracking)' command\b/i;

/**
 * The command invalidations need that the server's reply says this ACL user may not run
 * (`hello` or `client|tracking`, see {@link aclDenied}), or `undefined` when `error` is not such a
 * reply (a connection problem never is, whatever its text).
 */
export function aclRefusal(error: unknown): 'hello' | 'client|tracking' | undefined {
  if (!isServerReply(error)) return undefined;
  const match = aclDenied.exec((error as Error).message);
  return match === null ? undefined : ((match[1] as string).toLowerCase() as 'hello' | 'client|tracking');
}

/**
 * Why a RESP3 handshake with invalidations can never succeed here, whatever the attempt: the
 * server does not speak RESP3 (`protocol`, see {@link resp3Refusal}), or the ACL user may not run
 * a command it needs (`acl`, see {@link aclRefusal}). `undefined` for anything else (an outage,
 * credentials, another NOPERM): those keep their meaning, and the client keeps trying.
 */
export type HandshakeRefusal =
  | { readonly kind: 'protocol'; readonly what: string }
  | { readonly kind: 'acl'; readonly command: 'hello' | 'client|tracking' };

export function handshakeRefusal(error: unknown): HandshakeRefusal | undefined {
  const what = resp3Refusal(error);
  if (what !== undefined) return { kind: 'protocol', what };
  const command = aclRefusal(error);
  return command === undefined ? undefined : { kind: 'acl', command };
}

/**
 * A client in RESP3 stopped: the server refused `HELLO 3`, or the ACL user may not run what its
 * handshake for invalidations sends (see {@link handshakeRefusal}). Its message is the store's own, never
 * the server's reply (which quotes the password).
 */
export class Resp3RefusedError extends Error {
  override readonly name = 'Resp3RefusedError';
}

/** For each RESP3 client the store built from a URL: how to build the same client in RESP2. */
const resp2Fallbacks = new WeakMap<object, () => object>();

/**
 * The RESP2 twin of a RESP3 client {@link createFailFastClient} built (same URL, credentials, name
 * and socket settings, without `HELLO 3`, `CLIENT TRACKING` and push messages: `AUTH` and
 * `CLIENT SETNAME` instead, as for every other read policy), or `undefined` for any other client
 * (an application's client is the application's to configure).
 */
export function resp2FallbackOf(client: object): (() => object) | undefined {
  return resp2Fallbacks.get(client);
}

/**
 * A standalone node-redis client that fails fast. With `tracking`, in RESP3 with push messages; if
 * its handshake is refused for good (the server refuses `HELLO 3`, or the ACL user may not run
 * `HELLO` or `CLIENT TRACKING`: see {@link handshakeRefusal}), the client stops at once instead of
 * retrying the handshake forever (its `connect()` rejects, its `error` event carries the refusal),
 * and {@link resp2FallbackOf} builds its RESP2 twin.
 */
export function createFailFastClient(url: string, options: RedisConnectOptions) {
  const fastOptions = failFastClientOptions(options);
  if (options.tracking !== true) return createClient({ url, ...fastOptions });
  const backoff = fastOptions.socket.reconnectStrategy;
  const client = createClient({
    url,
    ...fastOptions,
    socket: {
      ...fastOptions.socket,
      reconnectStrategy: (retries: number, cause: unknown) =>
        handshakeRefusal(cause) === undefined
          ? backoff(retries)
          : new Resp3RefusedError('the RESP3 handshake for invalidations was refused'),
    },
    RESP: 3 as const,
    emitInvalidate: true,
  });
  resp2Fallbacks.set(client, (): object => createFailFastClient(url, { ...options, tracking: false }));
  return client;
}

/** A cluster client whose every node connection fails fast; credentials apply to every node. */
export function createFailFastCluster(config: ClusterConfig, options: RedisConnectOptions) {
  const { socket, ...rest } = failFastClientOptions(options);
  return createCluster({
    rootNodes: config.rootNodes.map((node) => ({
      url: node.url,
      ...credentials(node),
      socket: { connectTimeout: socket.connectTimeout },
    })),
    defaults: { ...rest, socket, ...credentials(config) },
    // A command may follow a MOVED or an ASK a few times during a resharding, not 16: the deadline
    // is 100 ms, and an outage is the fallback's to carry.
    maxCommandRedirections: 3,
  });
}

/**
 * A Sentinel client: the sentinels are asked where the primary is, and the connection to the
 * primary (and to the sentinels) fails fast. The client learns of a failover from the sentinels'
 * `+switch-master`, and asks them again when its primary connection is lost (no periodic scan:
 * each one is a new connection to a sentinel).
 */
export function createFailFastSentinel(config: SentinelConfig, options: RedisConnectOptions) {
  const node = failFastClientOptions(options);
  return createSentinel({
    name: config.name,
    sentinelRootNodes: config.sentinelRootNodes.map((n) => ({ host: n.host, port: n.port })),
    nodeClientOptions: { ...node, ...credentials(config) },
    sentinelClientOptions: {
      socket: { connectTimeout: options.connectTimeoutMs },
      ...credentials({ username: config.sentinelUsername, password: config.sentinelPassword }),
    },
    maxCommandRediscovers: 3,
  });
}

function credentials(config: { username?: string | undefined; password?: string | undefined }) {
  return {
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password }),
  };
}

/**
 * Turns the offline queue off on a client the application built (a `KeyvRedis`'s): without it,
 * commands sent during an outage wait and replay late, after newer writes. On a cluster this is
 * done for every node connection, now and to come (`defaults` is read when a node is discovered);
 * a connect timeout and a backoff are added only where the application set none. A Sentinel
 * client keeps its node options private: it cannot be changed, and it holds commands through a
 * failover itself (see {@link RedisTopology}).
 */
export function applyFailFast(client: object, kind: RedisTopologyKind, options: RedisConnectOptions | undefined): void {
  if (kind === 'standalone') {
    const clientOptions = (client as { options?: { disableOfflineQueue?: boolean } }).options;
    if (clientOptions) clientOptions.disableOfflineQueue = true;
    return;
  }
  if (kind !== 'cluster') return;
  const cluster = client as ClusterShape;
  const clusterOptions = cluster._options as { defaults?: { socket?: object; disableOfflineQueue?: boolean } };
  if (clusterOptions !== undefined) {
    const defaults = clusterOptions.defaults ?? {};
    const socket = (defaults.socket ?? {}) as { connectTimeout?: number; reconnectStrategy?: unknown };
    const ours = options === undefined ? {} : failFastSocket(options);
    clusterOptions.defaults = {
      ...defaults,
      disableOfflineQueue: true,
      socket: { ...ours, ...socket },
    };
  }
  for (const node of cluster.nodeByAddress?.values() ?? []) {
    if (node.client?.options) node.client.options.disableOfflineQueue = true;
  }
}

/** The client's servers, without credentials, for messages. */
export function safeNameOf(client: object, kind: RedisTopologyKind): string {
  if (kind === 'cluster') {
    const roots = (client as ClusterShape)._options?.rootNodes ?? [];
    const first = roots[0];
    const name = first?.url ?? `redis://${first?.socket?.host ?? '127.0.0.1'}:${first?.socket?.port ?? 6379}`;
    return `${redactUrl(String(name))} (cluster of ${roots.length} root nodes)`;
  }
  if (kind === 'sentinel') return 'redis sentinel';
  return redactUrl(String((client as { options?: { url?: string } }).options?.url ?? 'redis'));
}

/** `cluster_state` is not `ok` on a master: a slot has no master yet, nothing can be served. */
export class ClusterDownError extends Error {
  override readonly name = 'ClusterDownError';
}

/**
 * The masters of one Redis, a cluster or a Sentinel primary, and what identifies them.
 *
 * Restart detection on a cluster: each master has its own `run_id`, and the identity reported is
 * the set of them, sorted and joined (`id1,id2,id3`). A change of any one (a master restarted, a
 * replica promoted by a failover, a master added) changes the identity, so the store reports one
 * `primary:restart` and reconciles every recently written key, not only those of the changed
 * master's slots: the core does not know slots, and after a failover the promoted replica may lack
 * the last writes its master acknowledged (replication is asynchronous), which is exactly what
 * that reconciliation repairs. Over-reconciling costs a miss per key; under-reconciling would
 * cost a stale read. The same holds for Sentinel: the promoted replica has its own `run_id`.
 */
export class RedisTopology {
  readonly kind: RedisTopologyKind;
  readonly #client: RedisNode & object;
  /** The master addresses last seen, to tell when a refresh found a new topology. */
  #masterAddresses = '';
  #refreshing: Promise<boolean> | undefined;
  #lastRefresh = 0;

  constructor(client: object, kind: RedisTopologyKind) {
    this.#client = client as RedisNode & object;
    this.kind = kind;
  }

  /** True once a cluster client knows its masters (always for one Redis or Sentinel). */
  hasMasters(): boolean {
    return this.kind !== 'cluster' || (this.#client as unknown as ClusterShape).masters.length > 0;
  }

  /** Every node holding keys: the cluster's masters, or the one server (a Sentinel's primary). */
  async masters(): Promise<RedisNode[]> {
    if (this.kind !== 'cluster') return [this.#client];
    const cluster = this.#client as unknown as ClusterShape;
    return Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)));
  }

  /**
   * Asks the cluster for its slots again (node-redis does so only on a `MOVED`: after a master
   * dies, it would keep sending that master's slots to the dead node). One at a time, and not
   * more often than every `minIntervalMs`. Resolves whether the set of masters changed.
   */
  refresh(minIntervalMs = 0): Promise<boolean> {
    if (this.kind !== 'cluster') return Promise.resolve(false);
    if (this.#refreshing !== undefined) return this.#refreshing;
    if (Date.now() - this.#lastRefresh < minIntervalMs) return Promise.resolve(false);
    this.#lastRefresh = Date.now();
    const cluster = this.#client as unknown as ClusterShape;
    const slots = cluster._slots;
    const first = cluster.masters[0];
    if (slots === undefined || first === undefined) return Promise.resolve(false);
    const startWith = cluster.nodeByAddress.get(first.address)?.client ?? { options: cluster._options?.rootNodes?.[0] };
    this.#refreshing = slots
      .rediscover(startWith)
      .then(
        () => this.#mastersChanged(),
        () => false,
      )
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  #mastersChanged(): boolean {
    const addresses = (this.#client as unknown as ClusterShape).masters
      .map((master) => master.address)
      .sort()
      .join(',');
    const changed = this.#masterAddresses !== '' && addresses !== this.#masterAddresses;
    this.#masterAddresses = addresses;
    return changed;
  }

  /**
   * One round trip to every master; resolves their identity (see the class comment). On a
   * cluster, a master whose `cluster_state` is not `ok` fails the probe: the store would only
   * meet `CLUSTERDOWN` replies.
   */
  async serverId(): Promise<string | undefined> {
    if (this.kind !== 'cluster') return runId(await this.#client.info('server'));
    await this.refresh();
    this.#mastersChanged();
    const masters = await this.masters();
    const ids = await Promise.all(
      masters.map(async (node) => {
        const [info, state] = await Promise.all([node.info('server'), node.sendCommand(['CLUSTER', 'INFO'])]);
        if (!/cluster_state:ok/.test(String(state))) throw new ClusterDownError('cluster_state is not ok');
        return runId(info);
      }),
    );
    return ids.sort().join(',');
  }
}

function runId(info: unknown): string | undefined {
  return /run_id:(\w+)/.exec(String(info))?.[1];
}
