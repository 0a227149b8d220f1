import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Packages whose versions decide the behaviour measured. */
const PACKAGES = [
  'keyv',
  '@keyv/redis',
  '@redis/client',
  'cacheable',
  'cache-manager',
  'bentocache',
  'ioredis',
  'lru-cache',
];

export interface Machine {
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  /** 1-minute load average at the start: the machine is shared, figures drift with it. */
  readonly loadAverage: number;
  readonly node: string;
  readonly redisServer: string;
  readonly packages: Readonly<Record<string, string>>;
  /** The commit measured, and whether src/ or adapters/ had uncommitted changes. */
  readonly commit: string;
  readonly uncommittedChanges: boolean;
}

function quiet(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

export function describeMachine(): Machine {
  const redis = quiet('redis-server', ['--version']);
  return {
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    node: process.version,
    redisServer: /v=(\S+)/.exec(redis)?.[1] ?? redis,
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)])),
    commit: quiet('git', ['rev-parse', '--short', 'HEAD']),
    uncommittedChanges: quiet('git', ['status', '--porcelain', '--', 'src', 'adapters']) !== '',
  };
}
