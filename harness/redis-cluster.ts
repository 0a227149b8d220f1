import { spawn } from 'node:child_process';
import { freePort } from './free-port.js';
import { RedisServer } from './redis-server.js';
import type { RespReply } from './resp.js';

/** How a cluster is started. */
export interface RedisClusterOptions {
  /** @default 3 */
  readonly masters?: number;
  /** @default 1 */
  readonly replicasPerMaster?: number;
  /**
   * `cluster-node-timeout`: how long a master may be silent before its replica takes over. Small
   * so that a failover takes about a second, not the default 15.
   * @default 500
   */
  readonly nodeTimeoutMs?: number;
  /** Every node requires it (`requirepass` and `masterauth`). */
  readonly password?: string;
}

/** One node as `CLUSTER NODES` lists it. */
export interface ClusterNodeView {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** `fail` or `fail?` in its flags. */
  readonly failing: boolean;
  /** Slot ranges it serves (masters). */
  readonly slots: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Parses `CLUSTER NODES`. */
function parseNodes(reply: RespReply): ClusterNodeView[] {
  return String(reply)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', , , , , , ...slots] = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(address)?.[1]);
      const slotCount = slots
        .filter((range) => !range.startsWith('['))
        .reduce((sum, range) => {
          const [from, to = from] = range.split('-').map(Number) as [number, number?];
          return sum + ((to ?? from) - from + 1);
        }, 0);
      return {
        id,
        port,
        role: flags.includes('master') ? 'master' : 'replica',
        failing: /\bfail\??\b/.test(flags),
        slots: slotCount,
      } as const;
    });
}

/**
 * A Redis Cluster of our own on loopback: `masters` masters with `replicasPerMaster` replicas each,
 * every node a {@link RedisServer} (free port, never 6379, its own directory, killed by pid only),
 * created with `redis-cli --cluster create`. Nothing is persisted but each node's `nodes.conf`, so
 * a killed node restarted on its directory rejoins the cluster (as a replica of whoever replaced it).
 *
 * Sized for a 2-core machine: `save ""`, `appendonly no`, a short node timeout, no other work.
 */
export class RedisCluster {
  readonly nodes: readonly RedisServer[];
  readonly #password: string | undefined;
  /** Ports of the masters when `killMaster` last ran, to name the replica that replaced one. */
  #mastersBeforeKill = new Set<number>();

  private constructor(nodes: RedisServer[], password: string | undefined) {
    this.nodes = nodes;
    this.#password = password;
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicasPerMaster ?? 1;
    const password = options.password;
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        // The cluster bus port is given explicitly (`cluster-port`): the default, port + 10000,
        // may be taken, or past 65535.
        const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'];
        args.push('--cluster-node-timeout', String(options.nodeTimeoutMs ?? 500));
        args.push('--cluster-port', String(await freePort()));
        // A replica takes over however long it was cut off: a test kills a master at any moment.
        args.push('--cluster-replica-validity-factor', '0');
        if (password !== undefined) args.push('--masterauth', password);
        nodes.push(await RedisServer.start({ args, ...(password === undefined ? {} : { password }) }));
      }
      const cluster = new RedisCluster(nodes, password);
      await cluster.#create(replicas);
      await cluster.waitUntilHealthy();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      throw error;
    }
  }

  /** `redis-cli --cluster create`, which assigns the slots and the replicas. */
  async #create(replicas: number): Promise<void> {
    const args = ['--cluster', 'create', ...this.nodes.map((node) => `127.0.0.1:${node.port}`)];
    args.push('--cluster-replicas', String(replicas), '--cluster-yes');
    // The password goes in the environment, not on a command line anyone can read in `ps`.
    const env = this.#password === undefined ? process.env : { ...process.env, REDISCLI_AUTH: this.#password };
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}:\n${output.slice(-2_000)}`);
  }

  /** `{ url }` of every node, for `createCluster({ rootNodes })`; without a password. */
  get rootNodes(): Array<{ url: string }> {
    return this.nodes.map((node) => ({ url: node.url }));
  }

  get password(): string | undefined {
    return this.#password;
  }

  /** The topology as a running node sees it. */
  async view(): Promise<ClusterNodeView[]> {
    for (const node of this.nodes) {
      if (!node.running) continue;
      try {
        return parseNodes(await node.command(['CLUSTER', 'NODES'], 1_000));
      } catch {
        // This node is not answering: ask another one.
      }
    }
    throw new Error('no cluster node answers');
  }

  /** The running masters that serve slots. */
  async masters(): Promise<RedisServer[]> {
    const view = await this.view();
    const ports = new Set(view.filter((n) => n.role === 'master' && !n.failing && n.slots > 0).map((n) => n.port));
    return this.nodes.filter((node) => node.running && ports.has(node.port));
  }

  /** Kills a master (the `index`th serving slots) with SIGKILL: no goodbye to the cluster. */
  async killMaster(index = 0): Promise<RedisServer> {
    const masters = await this.masters();
    const master = masters[index];
    if (master === undefined) throw new Error(`no master #${index}`);
    this.#mastersBeforeKill = new Set(masters.map((node) => node.port));
    await master.kill();
    return master;
  }

  /**
   * Waits until a replica has taken over `killed`'s slots: every running node reports
   * `cluster_state:ok` and `killed` serves no slot. Resolves the promoted node.
   */
  async waitForPromotion(killed: RedisServer, timeoutMs = 15_000): Promise<RedisServer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.view().catch(() => undefined);
      const old = view?.find((n) => n.port === killed.port);
      if (view !== undefined && old !== undefined && old.slots === 0 && (await this.#allOk())) {
        const promoted = (await this.masters()).find((node) => !this.#mastersBeforeKill.has(node.port));
        if (promoted !== undefined) return promoted;
      }
      if (Date.now() > deadline) throw new Error(`no replica took over port ${killed.port} within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Starts a killed node again on its directory: it rejoins as a replica of its replacement. */
  async restart(node: RedisServer): Promise<void> {
    await node.restart();
    await this.waitUntilHealthy();
  }

  /**
   * Every running node says `cluster_state:ok`, knows every other node, every slot is served, and
   * every running replica is in sync with its master (so that a failover has someone to promote).
   */
  async waitUntilHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.#allOk()) && (await this.#replicasInSync())) return;
      if (Date.now() > deadline) throw new Error(`the cluster was not healthy within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  async #allOk(): Promise<boolean> {
    const running = this.nodes.filter((node) => node.running);
    const infos = await Promise.all(
      running.map((node) => node.command(['CLUSTER', 'INFO'], 1_000).then(String, () => '')),
    );
    return infos.every(
      (info) =>
        /cluster_state:ok/.test(info) &&
        /cluster_slots_ok:16384/.test(info) &&
        Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1]) === this.nodes.length,
    );
  }

  async #replicasInSync(): Promise<boolean> {
    const running = this.nodes.filter((node) => node.running);
    const infos = await Promise.all(
      running.map((node) => node.command(['INFO', 'replication'], 1_000).then(String, () => '')),
    );
    return infos.every((info) => info !== '' && (!/role:slave/.test(info) || /master_link_status:up/.test(info)));
  }

  /** Kills every node and removes their directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}
