import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { redisServerVersion } from '../../harness/redis-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Packages whose versions decide what is measured: ours' dependencies and every neighbour. */
const PACKAGES = 'keyv @keyv/redis @redis/client lru-cache cacheable cache-manager bentocache ioredis'.split(' ');

function quiet(command: string, ...args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function version(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string })
      .version;
  } catch {
    return 'not installed';
  }
}

/**
 * The machine and software a run measured, read at run time: the 1-minute load average at the start
 * (the machine is shared: figures drift with it), the commit, and whether src/ or adapters/ had
 * uncommitted changes. `redisServer` overrides the local `redis-server --version` (a REDIS_URL run).
 */
export function describeMachine(redisServer = redisServerVersion() ?? 'not installed') {
  return {
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    redisServer,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    packages: Object.fromEntries(PACKAGES.map((name) => [name, version(name)])),
    commit: quiet('git', 'rev-parse', '--short', 'HEAD'),
    uncommittedChanges: quiet('git', 'status', '--porcelain', '--', 'src', 'adapters') !== '',
  };
}
export type Machine = ReturnType<typeof describeMachine>;

/** The machine in one sentence, for the head of a report. */
export function machineLine(m: Machine): string {
  const packages = Object.entries(m.packages).map(([name, v]) => `${name} ${v}`);
  const changes = m.uncommittedChanges ? ' with uncommitted changes in src/ or adapters/' : '';
  return (
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; redis-server ${m.redisServer}; ` +
    `load average ${m.loadAverage} at start (a shared machine: absolute figures drift). Commit ${m.commit}${changes}. ` +
    `${packages.join(', ')}.`
  );
}
