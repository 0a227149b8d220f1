// The operator CLI against a Redis Cluster: a real one (3 masters, 1 replica each, a password),
// written through a real TieredStore under Keyv, and fake cluster nodes for what no real one does.
// The CLI runs as a child process, bundled once, as in test/cli.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../harness/redis-cluster.js';
import { sendCommands } from '../harness/resp.js';
import { TieredStore } from '../src/index.js';
import { bundleCli, type CliRun, spawnCli } from './helpers/cli-process.js';
import { type FakeAnswer, type FakeRedis, fakeRedis, withFakes as withFakeServers } from './helpers/fake-redis.js';

const PASSWORD = 'Clu5ter-s3cret-pw';
const ITEMS = 600;
/** Far below the runs' own bounds, with room for a loaded 2-core machine. */
const PROMPT_MS = 10_000;

let bundle: string;
let dir: string;
let cluster: RedisCluster;
/** Ports of the masters. */
let masterPorts: number[];
let replicaPort: number;

/** `keyv-failsafe ...args`, without any REDIS_URL around; killed (code null) if it hangs. */
const cli = (...args: string[]): Promise<CliRun> => spawnCli(bundle, args);

const url = (port: number) => `redis://:${PASSWORD}@127.0.0.1:${port}`;
const shown = (port: number) => `redis://***@127.0.0.1:${port}`;

/** Nothing of the password, anywhere. */
function expectNoSecret(run: CliRun): void {
  for (const part of [PASSWORD, 'Clu5ter', 's3cret']) expect(run.stdout + run.stderr).not.toContain(part);
}

/** A failed run: exit `code`, one line on stderr, no stack trace. */
function expectOneLineError(run: CliRun, code: number, pattern: RegExp): void {
  expect(run.stderr).toMatch(/^keyv-failsafe: [^\n]+\n$/);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.code).toBe(code);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyv-failsafe-cli-cluster-'));
  bundle = join(dir, 'cli.mjs');
  const bundling = bundleCli(bundle);
  // A node timeout far longer than this file: a master killed below stays announced (no failover),
  // so that what the CLI says about it does not depend on how fast a replica takes over.
  cluster = await RedisCluster.start({ password: PASSWORD, nodeTimeoutMs: 60_000 });
  await bundling;
  const masters = await cluster.masters();
  masterPorts = masters.map((node) => node.port);
  replicaPort = cluster.nodes.find((node) => !masterPorts.includes(node.port))?.port ?? 0;

  const store = new TieredStore({ primary: { cluster: { rootNodes: cluster.rootNodes, password: PASSWORD } } });
  const keyv = new Keyv({ store });
  await keyv.setMany(Array.from({ length: ITEMS }, (_, i) => ({ key: `item:${i}`, value: { i }, ttl: 600_000 })));
  await store.disconnect();
  // Only what the CLI sends from now on is counted.
  await Promise.all(masters.map((node) => node.command(['CONFIG', 'RESETSTAT'])));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The masters' ports in the order the CLI reports them (by first slot). */
function portsOf(nodes: ReadonlyArray<{ url: string }>): number[] {
  return nodes.map((node) => Number(/:(\d+)$/.exec(node.url)?.[1]));
}

describe.concurrent('keyv-failsafe against a real Redis Cluster', () => {
  it('stats --json counts every key once, per master and in all, and sums the memory', async () => {
    const run = await cli('stats', '--url', url(masterPorts[0] as number), '--json', '--quiet');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expectNoSecret(run);
    const report = JSON.parse(run.stdout);
    expect(report.url).toBe(shown(masterPorts[0] as number));
    expect(report).toMatchObject({ scanned: ITEMS, truncated: false, sizeSource: 'memory-usage' });
    expect(report.total.keys).toBe(ITEMS);
    expect(report.groups).toMatchObject([{ name: 'item:', keys: ITEMS, withoutTtl: 0 }]);
    expect(report.cluster).toEqual({ state: 'ok', slotsCovered: 16_384, masters: 3 });
    expect(report.nodes).toHaveLength(3);
    expect(new Set(portsOf(report.nodes))).toEqual(new Set(masterPorts));
    const dbsizes = await Promise.all(
      portsOf(report.nodes).map(async (port) =>
        Number(await cluster.nodes.find((n) => n.port === port)?.command(['DBSIZE'])),
      ),
    );
    let bytes = 0;
    for (const [i, node] of report.nodes.entries()) {
      expect(node.url).toMatch(/^redis:\/\/\*\*\*@127\.0\.0\.1:\d+$/);
      expect(node.scanned).toBeGreaterThan(0);
      expect(node.scanned).toBe(dbsizes[i]);
      expect(node.server.dbsize).toBe(dbsizes[i]);
      expect(node.server.usedMemory).toBeGreaterThan(0);
      expect(node.moved).toBe(0);
      bytes += node.bytes;
    }
    expect(report.nodes.reduce((sum: number, node: { scanned: number }) => sum + node.scanned, 0)).toBe(ITEMS);
    expect(report.nodes.reduce((sum: number, node: { slots: number }) => sum + node.slots, 0)).toBe(16_384);
    expect(bytes).toBe(report.total.bytes);
    expect(report.server.dbsize).toBe(ITEMS);
    expect(report.server.usedMemory).toBe(
      report.nodes.reduce((sum: number, node: { server: { usedMemory: number } }) => sum + node.server.usedMemory, 0),
    );
  });

  it('stats (text) from a replica: the table over all, one line per master, the memory summed', async () => {
    const run = await cli('stats', '--url', url(replicaPort), '--quiet');
    expect(run.code).toBe(0);
    expectNoSecret(run);
    expect(run.stdout).toMatch(new RegExp(`^total\\s+${ITEMS}\\s`, 'm'));
    expect(run.stdout).toContain(`${ITEMS} keys under keyv::keyv:* on 3 masters; sizes from MEMORY USAGE.`);
    expect(run.stdout).toContain('Cluster: cluster_state ok, 16384 of 16384 slots covered, 3 masters.');
    for (const port of masterPorts) {
      expect(run.stdout).toMatch(
        new RegExp(
          `^Node redis://\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(slots [\\d, -]+\\): \\d+ keys, .*keys in this database\\.$`,
          'm',
        ),
      );
    }
    expect(run.stdout).toMatch(
      /^All masters: used_memory [\d.]+ MiB, maxmemory none, policy noeviction, 600 keys in their databases\.$/m,
    );
  });

  it('inspect --match finds the keys of every master, each looked up on the master that holds it', async () => {
    const run = await cli('inspect', '--url', url(replicaPort), '--match', 'item:*', '--limit', '5000', '--json');
    expect(run.code).toBe(0);
    expectNoSecret(run);
    const report = JSON.parse(run.stdout);
    expect(report.keys).toHaveLength(ITEMS);
    expect(new Set(report.keys.map((k: { key: string }) => k.key)).size).toBe(ITEMS);
    for (const node of report.nodes) {
      expect(node.found).toBeGreaterThan(0);
      expect(node.moved).toBe(0);
    }
    // A TTL and a size for every key: read where it lives (another master would have answered MOVED).
    expect(report.keys.every((k: { ttlMs: number; bytes: number }) => k.ttlMs > 0 && k.bytes > 0)).toBe(true);
    const byNode = new Map<string, string[]>();
    for (const k of report.keys as Array<{ redisKey: string; node: string }>) {
      byNode.set(k.node, [...(byNode.get(k.node) ?? []), k.redisKey]);
    }
    expect(byNode.size).toBe(3);
    for (const [node, keys] of byNode) {
      const port = Number(/:(\d+)$/.exec(node)?.[1]);
      const replies = await sendCommands(
        port,
        keys.map((key) => ['EXISTS', key]),
        { password: PASSWORD, timeoutMs: 5_000 },
      );
      expect(replies.every((reply) => reply === 1)).toBe(true);
    }
  });

  it('inspect --limit takes keys from every master alike, and shows which master holds each', async () => {
    const run = await cli('inspect', '--url', url(masterPorts[1] as number), '--limit', '9', '--quiet');
    expect(run.code).toBe(0);
    expectNoSecret(run);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^KEY\s+TTL\s+SIZE\s+NODE\s+CATEGORY$/);
    expect(lines.slice(1, 10).every((line) => /^item:\d+\s+[\dms ]+\s\d+ B\s+127\.0\.0\.1:\d+$/.test(line))).toBe(true);
    expect(run.stdout).toContain('9 keys matching keyv::keyv:* on 3 masters, sizes from MEMORY USAGE');
    for (const port of masterPorts)
      expect(run.stdout).toMatch(new RegExp(`:${port} \\(slots [^)]+\\): 3 keys, 1 SCAN calls$`, 'm'));
    expect(run.stdout).toContain('Stopped at --limit 9: more keys may match, on every master alike.');
  });

  it('ping names every master, its slots, latency and the cluster state', async () => {
    const [text, json, valkey] = await Promise.all([
      cli('ping', '--url', url(masterPorts[2] as number), '--count', '2'),
      cli('ping', '--url', url(replicaPort), '--count', '2', '--json'),
      // Every master is reached with the scheme (and credentials) of the URL given.
      cli('ping', '--url', `valkey://:${PASSWORD}@127.0.0.1:${masterPorts[0]}`, '--count', '1'),
    ]);
    for (const run of [text, json, valkey]) {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expectNoSecret(run);
    }
    expect(text.stdout).toMatch(
      new RegExp(
        `^Cluster via ${shown(masterPorts[2] as number).replace(/[.*]/g, '\\$&')}: cluster_state ok, 16384 of 16384 slots covered, 3 masters \\(3 answering\\)$`,
        'm',
      ),
    );
    for (const port of masterPorts) {
      expect(text.stdout).toMatch(
        new RegExp(
          `^PONG from redis://\\*\\*\\*@127\\.0\\.0\\.1:${port}: redis \\d+\\.\\d+\\.\\d+, role master \\(1 replica\\), slots [\\d-]+, cluster_state ok$`,
          'm',
        ),
      );
    }
    expect(text.stdout.match(/^ {2}2 pings: min [\d.]+ ms, p50 [\d.]+ ms, max [\d.]+ ms$/gm)).toHaveLength(3);
    for (const port of masterPorts) expect(valkey.stdout).toContain(`PONG from valkey://***@127.0.0.1:${port}: `);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ role: 'cluster (3 masters)', problems: [], cluster: { state: 'ok', reachable: 3 } });
    expect(portsOf(report.nodes).sort()).toEqual([...masterPorts].sort());
    expect(report.nodes.every((node: { ok: boolean; p50Ms: number }) => node.ok && node.p50Ms > 0)).toBe(true);
  });

  it('--max-scan-calls is for the whole run: too few for 3 masters is a one-line error', async () => {
    const run = await cli('stats', '--url', url(masterPorts[0] as number), '--max-scan-calls', '2', '--quiet');
    expectOneLineError(run, 1, /the SCAN pass was not over when the 3 masters had used up --max-scan-calls 2 together/);
    expectNoSecret(run);
  });
});

describe('keyv-failsafe on a cluster is read-only', () => {
  it('sent SCAN to every master, and no KEYS nor any write command', async () => {
    for (const port of masterPorts) {
      const stats = String(await cluster.nodes.find((node) => node.port === port)?.command(['INFO', 'commandstats']));
      expect(stats).toMatch(/^cmdstat_scan:calls=\d+/m);
      expect(stats).not.toMatch(/^cmdstat_keys:/m);
      for (const write of ['set', 'del', 'unlink', 'expire', 'pexpire', 'flushdb', 'flushall']) {
        expect(stats).not.toMatch(new RegExp(`^cmdstat_${write}:`, 'm'));
      }
    }
  });
});

describe('a master killed (one this file started)', () => {
  it('ping reports the others and exits 1 naming it; stats and inspect refuse a partial report', async () => {
    const killed = await cluster.killMaster(1);
    const seed = masterPorts.find((port) => port !== killed.port) as number;
    const [ping, stats, inspect] = await Promise.all([
      cli('ping', '--url', url(seed), '--count', '1'),
      cli('stats', '--url', url(seed), '--quiet'),
      cli('inspect', '--url', url(replicaPort), '--json'),
    ]);
    const named = new RegExp(
      `^keyv-failsafe: 1 of 3 cluster masters unreachable: Cannot connect to redis://\\*\\*\\*@127\\.0\\.0\\.1:${killed.port}: connection refused \\(slots [\\d-]+\\)\\n$`,
    );
    for (const run of [ping, stats, inspect]) {
      expectOneLineError(run, 1, named);
      expectNoSecret(run);
      expect(run.ms).toBeLessThan(PROMPT_MS);
    }
    expect(ping.stdout).toMatch(
      new RegExp(`^NO ANSWER from redis://\\*\\*\\*@127\\.0\\.0\\.1:${killed.port} \\(slots`, 'm'),
    );
    expect(ping.stdout.match(/^PONG from /gm)).toHaveLength(2);
    expect(ping.stdout).toContain('3 masters (2 answering)');
    expect(stats.stdout).toBe('');
    expect(inspect.stdout).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------
// FakeRedis cluster nodes (node:net), for what a real cluster does not do: announce nonsense, vanish
// mid-run, hang. Each answers the handshake (AUTH, CLIENT ...) with +OK.
// ---------------------------------------------------------------------------------------------

type Resp = string | number | null | readonly Resp[];

/** RESP2 for a reply: strings as bulk strings. */
function resp(value: Resp): string {
  if (value === null) return '$-1\r\n';
  if (typeof value === 'number') return `:${value}\r\n`;
  if (typeof value === 'string') return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
  return `*${value.length}\r\n${value.map(resp).join('')}`;
}

/** A cluster node's handshake: the CLI authenticates (the URL has a password) and names its connection. */
const HANDSHAKE = ['CLIENT', 'AUTH'];
const fakeNode = (answer: (args: string[]) => FakeAnswer): Promise<FakeRedis> => fakeRedis(answer, HANDSHAKE);
/** Runs `fn` with fake cluster nodes, closing them whatever happens. */
const withFakes = <T>(answers: Array<(args: string[]) => FakeAnswer>, fn: (fakes: FakeRedis[]) => Promise<T>) =>
  withFakeServers(answers, fn, HANDSHAKE);

const ID_A = 'a'.repeat(40);
const ID_B = 'b'.repeat(40);

/**
 * A cluster node announcing `slots` (the CLUSTER SLOTS reply), healthy otherwise: one key per
 * SCAN, a TTL, a size; `overrides` replaces the answer to a command by name.
 */
function clusterNode(slots: Resp, overrides: Record<string, FakeAnswer> = {}) {
  return (args: string[]): FakeAnswer => {
    const name = args[0]?.toUpperCase() ?? '';
    const sub = args[1]?.toUpperCase();
    const key = sub === undefined || name === 'SCAN' ? name : `${name} ${sub}`;
    if (key in overrides) return overrides[key];
    if (name in overrides) return overrides[name];
    switch (key) {
      case 'INFO CLUSTER':
        return resp('# Cluster\r\ncluster_enabled:1\r\n');
      case 'CLUSTER SLOTS':
        return resp(slots);
      case 'CLUSTER INFO':
        return resp('cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n');
      case 'PING':
        return '+PONG\r\n';
      case 'DBSIZE':
        return ':1\r\n';
      case 'SCAN':
        return resp(['0', ['keyv::keyv:k']]);
      case 'PTTL':
        return ':-1\r\n';
      case 'MEMORY USAGE':
        return ':10\r\n';
    }
    if (name === 'INFO') return resp('# Server\r\nredis_version:7.0.0\r\nrole:master\r\nconnected_slaves:0\r\n');
    return '+OK\r\n';
  };
}

/** Every per-wait timeout at 30 s: only the replies can end these runs early. */
const hostile = (...args: string[]) => cli(...args, '--connect-timeout', '30000', '--timeout', '30000', '--quiet');

describe.concurrent('hostile or broken cluster nodes: a clear one-line error, never a hang or a stack', () => {
  it('what CLUSTER SLOTS announces is checked before anything connects to it', async () => {
    const master = (host: Resp, port: Resp, from = 0, to = 16_383): Resp => [from, to, [host, port, ID_A]];
    const cases: Array<[Resp | string, RegExp]> = [
      [[], /is a cluster node, but CLUSTER SLOTS lists no slot: no master serves any \(is the cluster created\?/],
      [
        [master('evil\u001b[2J host', 7000)],
        /announces the master of slots 0-16383 at "evil\\u001b\[2J host", which is not a host name or an IP address/,
      ],
      [[master('?', 7000)], /does not know the address of the master of slots 0-16383: it announces "\?"/],
      [
        [master('127.0.0.1', 0)],
        /announces the master of slots 0-16383 with a port that is the integer 0, not 1 to 65535/,
      ],
      [
        [master('127.0.0.1', 7000, 0, 20_000)],
        /answered CLUSTER SLOTS with a slot range from the integer 0 to the integer 20000, not within 0-16383/,
      ],
      [
        [master('127.0.0.1', 7000, 0, 100), [50, 200, ['127.0.0.1', 7001, ID_B]]],
        /answered CLUSTER SLOTS with slot 50 served by two ranges/,
      ],
      ['+OK\r\n', /answered CLUSTER SLOTS with the string OK instead of an array of slot ranges/],
      [
        "-NOPERM this user has no permissions to run the 'cluster|slots' command\r\n",
        /denied CLUSTER SLOTS: NOPERM .*: allow it with \+cluster\|slots\)$/m,
      ],
    ];
    await withFakes(
      cases.map(([slots]) => clusterNode([], { 'CLUSTER SLOTS': typeof slots === 'string' ? slots : resp(slots) })),
      async (fakes) => {
        const runs = await Promise.all(
          fakes.map((f, i) =>
            hostile(i % 2 === 0 ? 'ping' : 'stats', '--url', `redis://:${PASSWORD}@127.0.0.1:${f.port}`),
          ),
        );
        for (const [i, [, pattern]] of cases.entries()) {
          const run = runs[i] as CliRun;
          expect(run.stdout).toBe('');
          expectOneLineError(run, 1, pattern);
          expectNoSecret(run);
          expect(run.ms).toBeLessThan(PROMPT_MS);
        }
      },
    );
  });

  it('INFO denied: a node is taken for a cluster node when CLUSTER SLOTS answers, else for one server', async () => {
    const noInfo = { INFO: "-NOPERM this user has no permissions to run the 'info' command\r\n" };
    await withFakes([clusterNode([], noInfo)], async ([node]) => {
      const slots: Resp = [[0, 16_383, ['127.0.0.1', node?.port ?? 0, ID_A]]];
      const standalone = clusterNode([], {
        ...noInfo,
        'CLUSTER SLOTS': '-ERR This instance has cluster support disabled\r\n',
      });
      await withFakes([clusterNode(slots, noInfo), standalone], async ([seed, single]) => {
        const [cluster, one] = await Promise.all([
          hostile('ping', '--url', `redis://127.0.0.1:${seed?.port}`, '-n', '1'),
          hostile('ping', '--url', `redis://127.0.0.1:${single?.port}`, '-n', '1'),
        ]);
        expect(cluster.code).toBe(0);
        expect(cluster.stdout).toMatch(
          /^Cluster via redis:\/\/127\.0\.0\.1:\d+: cluster_state ok, 16384 of 16384 slots covered, 1 master \(1 answering\)$/m,
        );
        expect(cluster.stdout).toContain(
          `PONG from redis://127.0.0.1:${node?.port}: redis unknown (INFO denied), role unknown (INFO denied), slots 0-16383`,
        );
        expect(one.code).toBe(0);
        expect(one.stdout).toMatch(
          /^PONG from redis:\/\/127\.0\.0\.1:\d+: redis unknown \(INFO denied\), role unknown \(INFO denied\)\n/,
        );
      });
    });
  });

  it('a master that vanishes or hangs mid-run is named; an empty host is the given one', async () => {
    // Two masters: the first announced with an empty host ("the host you asked", as Redis
    // documents it); the second closes the connection on SCAN, or never answers it.
    const closing = clusterNode([], { SCAN: (socket) => socket.destroy() });
    const silent = clusterNode([], { SCAN: undefined });
    await withFakes([clusterNode([]), closing, silent], async ([first, gone, hung]) => {
      const slots = (other: FakeRedis): Resp => [
        [0, 8_191, ['', first?.port ?? 0, ID_A]],
        [8_192, 16_383, ['127.0.0.1', other.port, ID_B]],
      ];
      // The node given for each run: it announces those two, and is neither of them.
      const [toGone, toHung] = await Promise.all([
        fakeNode(clusterNode(slots(gone as FakeRedis))),
        fakeNode(clusterNode(slots(hung as FakeRedis))),
      ]);
      try {
        const [scan, hang, ping] = await Promise.all([
          hostile('inspect', '--url', `redis://:${PASSWORD}@127.0.0.1:${toGone.port}`),
          cli('stats', '--url', `redis://:${PASSWORD}@127.0.0.1:${toHung.port}`, '--timeout', '300', '--quiet'),
          hostile('ping', '--url', `redis://:${PASSWORD}@127.0.0.1:${toGone.port}`, '-n', '1'),
        ]);
        expectOneLineError(
          scan,
          1,
          new RegExp(
            `^keyv-failsafe: Connection to redis://\\*\\*\\*@127\\.0\\.0\\.1:${gone?.port} was closed by the other side during SCAN\\n$`,
          ),
        );
        expectOneLineError(
          hang,
          1,
          new RegExp(
            `^keyv-failsafe: Redis at redis://\\*\\*\\*@127\\.0\\.0\\.1:${hung?.port} did not answer SCAN within 300 ms \\(--timeout\\)\\n$`,
          ),
        );
        // The first master was announced with an empty host: it is reached at the host of --url.
        expect(ping.code).toBe(0);
        expect(ping.stdout).toContain(`PONG from redis://***@127.0.0.1:${first?.port}: `);
        expect(ping.stdout).toContain(`PONG from redis://***@127.0.0.1:${gone?.port}: `);
        for (const run of [scan, hang, ping]) {
          expectNoSecret(run);
          expect(run.ms).toBeLessThan(PROMPT_MS);
        }
      } finally {
        toGone.close();
        toHung.close();
      }
    });
  });

  it('--max-time bounds the whole run across masters, each answering every SCAN in time', async () => {
    let cursor = 0;
    // Every SCAN answered after 150 ms, well within --timeout, with a cursor that never ends.
    const slow = clusterNode([], {
      DBSIZE: ':100000000\r\n',
      SCAN: (socket) => {
        cursor++;
        setTimeout(() => socket.write(resp([String(cursor), []])), 150).unref();
      },
    });
    await withFakes([slow, slow], async ([a, b]) => {
      const slots: Resp = [
        [0, 8_191, ['127.0.0.1', a?.port ?? 0, ID_A]],
        [8_192, 16_383, ['127.0.0.1', b?.port ?? 0, ID_B]],
      ];
      await withFakes([clusterNode(slots)], async ([seed]) => {
        const run = await cli(
          'stats',
          '--url',
          `redis://127.0.0.1:${seed?.port}`,
          '--timeout',
          '1000',
          '--max-time',
          '1500',
          '--quiet',
        );
        expectOneLineError(
          run,
          1,
          /^keyv-failsafe: Redis at redis:\/\/127\.0\.0\.1:\d+: the run did not finish within 1500 ms \(--max-time\); it was waiting for SCAN\n$/,
        );
        expect(run.ms).toBeLessThan(PROMPT_MS);
        // Both masters were walked, in rounds: more than one SCAN each before the budget ran out.
        expect(cursor).toBeGreaterThanOrEqual(4);
      });
    });
  });

  it('a master announced where nothing listens: ping exits 1 naming it, after reporting the others', async () => {
    await withFakes([clusterNode([])], async ([only]) => {
      const slots: Resp = [
        [0, 100, ['127.0.0.1', only?.port ?? 0, ID_A]],
        [101, 16_383, ['127.0.0.1', 1, ID_B]],
      ];
      await withFakes([clusterNode(slots)], async ([seed]) => {
        const run = await hostile('ping', '--url', `redis://:${PASSWORD}@127.0.0.1:${seed?.port}`, '-n', '1');
        expectOneLineError(
          run,
          1,
          /^keyv-failsafe: 1 of 2 cluster masters unreachable: Cannot connect to redis:\/\/\*\*\*@127\.0\.0\.1:1: connection refused \(slots 101-16383\)\n$/,
        );
        expect(run.stdout).toContain(
          `PONG from redis://***@127.0.0.1:${only?.port}: redis 7.0.0, role master (0 replicas), slots 0-100`,
        );
        expect(run.stdout).toContain('NO ANSWER from redis://***@127.0.0.1:1 (slots 101-16383): Cannot connect to');
        expectNoSecret(run);
      });
    });
  });
});
