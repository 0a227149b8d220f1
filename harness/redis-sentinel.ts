import { RedisServer } from './redis-server.js';

/** How a Sentinel deployment is started. */
export interface RedisSentinelOptions {
  /** The name the sentinels monitor the primary under. @default 'keyv-failsafe' */
  readonly name?: string;
  /** @default 3 */
  readonly sentinels?: number;
  /**
   * `down-after-milliseconds`: silence before a sentinel calls the primary down. Small so that a
   * failover takes a second or two, not the default 30 s; not smaller, or a busy 2-core machine
   * sees failovers nobody asked for.
   * @default 500
   */
  readonly downAfterMs?: number;
  /** `failover-timeout`. @default 2000 */
  readonly failoverTimeoutMs?: number;
  /** The data nodes require it (`requirepass`, `masterauth`, and the sentinels' `auth-pass`). */
  readonly password?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fields of a flat `SENTINEL MASTER` reply. */
function fields(reply: unknown): Map<string, string> {
  const list = Array.isArray(reply) ? reply.map(String) : [];
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) map.set(list[i] as string, list[i + 1] as string);
  return map;
}

/**
 * A Sentinel deployment of our own on loopback: one primary, one replica and `sentinels` sentinels
 * (quorum: a majority), every process a {@link RedisServer} (free port, never 6379, killed by pid
 * only). The data nodes persist nothing; each sentinel rewrites only its own config file, in its
 * own directory.
 *
 * One failover per deployment: a killed primary started again comes back as a primary of its own
 * (empty), and on this machine the sentinels then failed over back and forth for seconds before
 * settling; a test that needs several failovers starts a deployment for each.
 */
export class RedisSentinelDeployment {
  readonly name: string;
  /** The two data nodes: which one is the primary changes with every failover. */
  readonly dataNodes: readonly RedisServer[];
  readonly sentinels: readonly RedisServer[];
  readonly #password: string | undefined;

  private constructor(name: string, dataNodes: RedisServer[], sentinels: RedisServer[], password?: string) {
    this.name = name;
    this.dataNodes = dataNodes;
    this.sentinels = sentinels;
    this.#password = password;
  }

  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinelDeployment> {
    const name = options.name ?? 'keyv-failsafe';
    const password = options.password;
    const auth = password === undefined ? {} : { password };
    const started: RedisServer[] = [];
    try {
      const authArgs = password === undefined ? [] : ['--masterauth', password];
      const primary = await RedisServer.start({ args: authArgs, ...auth });
      started.push(primary);
      const replica = await RedisServer.start({
        args: [...authArgs, '--replicaof', '127.0.0.1', String(primary.port)],
        ...auth,
      });
      started.push(replica);
      const count = options.sentinels ?? 3;
      const quorum = Math.floor(count / 2) + 1;
      const config = [
        `sentinel monitor ${name} 127.0.0.1 ${primary.port} ${quorum}`,
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 500}`,
        `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 2_000}`,
        `sentinel parallel-syncs ${name} 1`,
        ...(password === undefined ? [] : [`sentinel auth-pass ${name} ${password}`]),
        '',
      ].join('\n');
      const sentinels: RedisServer[] = [];
      for (let i = 0; i < count; i++) {
        const sentinel = await RedisServer.start({ config, args: ['--sentinel'] });
        sentinels.push(sentinel);
        started.push(sentinel);
      }
      const deployment = new RedisSentinelDeployment(name, [primary, replica], sentinels, password);
      await deployment.waitUntilHealthy();
      return deployment;
    } catch (error) {
      await Promise.all(started.map((server) => server.stop()));
      throw error;
    }
  }

  /** `[{ host, port }]` of every sentinel, for `createSentinel({ sentinelRootNodes })`. */
  get sentinelRootNodes(): Array<{ host: string; port: number }> {
    return this.sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port }));
  }

  get password(): string | undefined {
    return this.#password;
  }

  /** The port the sentinels name as the primary (the first sentinel that answers). */
  async primaryPort(): Promise<number> {
    for (const sentinel of this.sentinels) {
      if (!sentinel.running) continue;
      try {
        const reply = await sentinel.command(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name], 1_000);
        if (Array.isArray(reply)) return Number(reply[1]);
      } catch {
        // Ask the next one.
      }
    }
    throw new Error('no sentinel answers');
  }

  /** The data node that is the primary now. */
  async primary(): Promise<RedisServer> {
    const port = await this.primaryPort();
    const node = this.dataNodes.find((server) => server.port === port);
    if (node === undefined) throw new Error(`the sentinels name port ${port}, not one of ours`);
    return node;
  }

  /** SIGKILL of the primary: no goodbye to the sentinels or the replica. */
  async killPrimary(): Promise<RedisServer> {
    const primary = await this.primary();
    await primary.kill();
    return primary;
  }

  /**
   * Waits until the sentinels name another node than `killed` and that node says `role:master`.
   * Resolves the promoted node.
   */
  async waitForPromotion(killed: RedisServer, timeoutMs = 15_000): Promise<RedisServer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const port = await this.primaryPort().catch(() => killed.port);
      const promoted = this.dataNodes.find((server) => server.port === port && server !== killed);
      if (promoted?.running) {
        const info = String(await promoted.command(['INFO', 'replication'], 1_000).catch(() => ''));
        if (/role:master/.test(info)) return promoted;
      }
      if (Date.now() > deadline) throw new Error(`no failover away from port ${killed.port} within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /**
   * The sentinels agree on a running primary, each knows the others and the replica, and the
   * replica is in sync: a failover can happen.
   */
  async waitUntilHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const others = String(this.sentinels.length - 1);
    for (;;) {
      const views = await Promise.all(
        this.sentinels.map((sentinel) =>
          sentinel.command(['SENTINEL', 'MASTER', this.name], 1_000).then(fields, () => new Map<string, string>()),
        ),
      );
      const ports = new Set(views.map((view) => view.get('port')));
      const agreed =
        ports.size === 1 &&
        views.every(
          (view) =>
            view.get('flags') === 'master' &&
            view.get('num-slaves') === String(this.dataNodes.length - 1) &&
            view.get('num-other-sentinels') === others,
        );
      if (agreed) {
        const primary = this.dataNodes.find((server) => String(server.port) === [...ports][0]);
        const replicas = this.dataNodes.filter((server) => server !== primary);
        const infos = await Promise.all(
          replicas.map((server) => server.command(['INFO', 'replication'], 1_000).then(String, () => '')),
        );
        if (primary?.running && infos.every((info) => /master_link_status:up/.test(info))) return;
      }
      if (Date.now() > deadline) {
        const seen = views.map((view) => JSON.stringify(Object.fromEntries(view))).join('\n');
        throw new Error(`the sentinel deployment was not healthy within ${timeoutMs} ms:\n${seen}`);
      }
      await sleep(50);
    }
  }

  /** Kills every process and removes their directories. */
  async stop(): Promise<void> {
    await Promise.all([...this.dataNodes, ...this.sentinels].map((server) => server.stop()));
  }
}
