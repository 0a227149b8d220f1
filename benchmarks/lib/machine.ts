import { readFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';

/** Packages whose versions the report names: ours' dependencies and every neighbour measured. */
const PACKAGES = [
  'keyv',
  '@keyv/redis',
  '@redis/client',
  'lru-cache',
  'cacheable',
  'cache-manager',
  'bentocache',
  'ioredis',
] as const;

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  redisServer: string;
  /** 1-minute load average at start: a high one means the numbers are noisy. */
  loadAverage: number;
  packages: Record<string, string>;
}

function packageVersion(root: string, name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** Read at run time, so that the report describes the machine it was measured on. */
export function describeMachine(root: string, redisServer: string): Machine {
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) packages[name] = packageVersion(root, name);
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    redisServer,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    packages,
  };
}
