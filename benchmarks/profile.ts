/**
 * Profiles TieredStore's hot paths with `node --cpu-prof` and summarizes self time by owner
 * (keyv-failsafe src/ and adapters/, Keyv, @keyv/serialize, node-redis, lru-cache, V8):
 *
 *   npx tsx benchmarks/profile.ts [--seconds 4]
 *
 * Writes benchmarks/results/profiles/<target>.cpuprofile (open in Chrome DevTools) and
 * benchmarks/results/profile.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type ProfileSummary, summarizeProfile } from './lib/cpu-profile.js';
import { OwnedRedis, redisServerVersion } from './lib/redis.js';

const RESULTS = join(import.meta.dirname, 'results');
const PROFILES = join(RESULTS, 'profiles');
const TARGETS = {
  'memory-first': 'memory-first hit (Keyv + TieredStore, 1 KB, Redis refused)',
  fallback: 'fallback hit, Redis down, breaker open (Keyv + TieredStore, 1 KB)',
  'primary-get': 'primary-first get, Redis up (Keyv + TieredStore, 1 KB)',
} as const;

function profileOne(
  target: keyof typeof TARGETS,
  seconds: number,
  redisUrl: string | undefined,
): { file: string; window: { startUs: number; endUs: number } | undefined } {
  const scratch = join(PROFILES, `.${target}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const windowFile = join(scratch, 'window.json');
  const result = spawnSync(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${scratch}`,
      '--import',
      'tsx',
      join(import.meta.dirname, 'lib', 'profile-target.ts'),
      target,
      String(seconds),
      windowFile,
      ...(redisUrl ? [redisUrl] : []),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], cwd: join(import.meta.dirname, '..') },
  );
  if (result.status !== 0) throw new Error(`${target}: profiled process exited with ${result.status}`);
  const file = readdirSync(scratch).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`${target}: no .cpuprofile written`);
  const destination = join(PROFILES, `${target}.cpuprofile`);
  renameSync(join(scratch, file), destination);
  const window = existsSync(windowFile)
    ? (JSON.parse(readFileSync(windowFile, 'utf8')) as { startUs: number; endUs: number })
    : undefined;
  rmSync(scratch, { recursive: true, force: true });
  return { file: destination, window };
}

function render(target: string, summary: ProfileSummary): string {
  const owners = summary.byOwner.map((o) => `${o.owner} ${o.selfPct} %`).join(', ');
  const top = summary.top.map((line) => `| ${line.selfPct} % | ${line.owner} | \`${line.fn}\` | ${line.where} |`);
  return [
    `## ${target}`,
    `${summary.totalMs} ms of samples (idle excluded; ${summary.windowed ? 'hot loop only, module loading and setup left out' : 'whole process'}). Self time by owner: ${owners}.`,
    '',
    '| self | owner | function | where |',
    '|---:|---|---|---|',
    ...top,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' } } });
  const seconds = Number(values.seconds);
  mkdirSync(PROFILES, { recursive: true });
  const redis = redisServerVersion() === undefined ? undefined : await OwnedRedis.start();
  const sections: string[] = [
    '# CPU profiles of the hot paths',
    `\`node --cpu-prof\`, ${seconds} s of gets each; self time, i.e. time in the function itself, not its callees.`,
  ];
  try {
    for (const target of Object.keys(TARGETS) as Array<keyof typeof TARGETS>) {
      if (target === 'primary-get' && redis === undefined) {
        sections.push(`## ${TARGETS[target]}\n\nSkipped: redis-server is not on the PATH.`);
        continue;
      }
      process.stderr.write(`profiling ${target}\n`);
      const { file, window } = profileOne(target, seconds, redis?.url);
      const summary = summarizeProfile(file, window);
      sections.push(render(TARGETS[target], summary));
    }
  } finally {
    await redis?.kill();
  }
  const markdown = `${sections.join('\n\n')}\n`;
  writeFileSync(join(RESULTS, 'profile.md'), markdown);
  process.stdout.write(markdown);
}

await main();
