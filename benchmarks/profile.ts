/**
 * `npm run bench:profile` (`npx tsx benchmarks/profile.ts [--seconds 4] [--target a,b]`): profiles TieredStore's
 * hot paths with `node --cpu-prof` and summarizes self time by owner (keyv-failsafe, Keyv,
 * @keyv/serialize, node-redis, lru-cache, V8) in benchmarks/results/profile.md; the profiles go to
 * benchmarks/results/profiles/<target>.cpuprofile (open them in Chrome DevTools). Each target runs in
 * a child (this file with `--child`): one hot path repeated, nothing else, and the loop's start and
 * end written out, so that the summary can leave module loading and setup out.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../harness/free-port.js';
import { RedisServer, redisServerVersion } from '../harness/redis-server.js';
import { tieredKeyv } from './lib/libraries.js';
import { mdTable } from './lib/report.js';
import { makeKeys, makePayload } from './scenarios/runner.js';

const [RESULTS, PROFILES] = [join(import.meta.dirname, 'results'), join(import.meta.dirname, 'results', 'profiles')];
const TARGETS = {
  'memory-first': 'memory-first hit (Keyv + TieredStore, 1 KB, Redis refused)',
  'memory-first-store': "memory-first hit, serialization: 'store' and Keyv's serializer off (1 KB, Redis refused)",
  fallback: 'fallback hit, Redis down, breaker open (Keyv + TieredStore, 1 KB)',
  'primary-get': 'primary-first get, Redis up (Keyv + TieredStore, 1 KB)',
  'primary-get-64': 'primary-first get, Redis up, 64 in flight (Keyv + TieredStore, 1 KB)',
  'primary-get-store-64':
    "primary-first get, serialization: 'store' and Keyv's serializer off, Redis up, 64 in flight (1 KB)",
} as const;
type Target = keyof typeof TARGETS;
/** Targets that need a Redis server to answer. */
const NEEDS_REDIS: ReadonlySet<Target> = new Set(['primary-get', 'primary-get-64', 'primary-get-store-64']);
type Child = { target: Target; seconds: number; windowFile: string; redisUrl?: string | undefined };
type Window = { startUs: number; endUs: number };

/** The child: `seconds` of gets on one path; the loop's window (µs, V8's profile clock) goes to `windowFile`. */
async function runChild({ target, seconds, windowFile, redisUrl }: Child): Promise<void> {
  const refused = `redis://127.0.0.1:${await freePort()}`;
  const memoryFirst = target.startsWith('memory-first');
  const objects = target.includes('store');
  const policy = memoryFirst ? ({ readPolicy: 'memory-first', memoryTtlMs: 3_600_000 } as const) : {};
  const primary = (NEEDS_REDIS.has(target) && redisUrl) || refused;
  const options = { primary, ...policy, ...(objects ? ({ serialization: 'store' } as const) : {}) };
  const { keyv } = tieredKeyv(options, 'profile', !objects);
  const inFlight = target.endsWith('-64') ? 64 : 1;
  const keys = makeKeys('profile', 256);
  const value = makePayload('1KB');
  for (const key of keys) await keyv.set(key, value);
  if ((await keyv.get(keys[0] as string)) === undefined) throw new Error(`${target}: the profiled get misses`);
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  const [startUs, until] = [nowUs(), performance.now() + seconds * 1e3];
  let calls = 0;
  const loop = async (offset: number) => {
    for (; performance.now() < until; calls += keys.length / inFlight) {
      for (let i = 0; i < keys.length; i += inFlight) await keyv.get(keys[(i + offset) % keys.length] as string);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, offset) => loop(offset)));
  writeFileSync(windowFile, JSON.stringify({ startUs, endUs: nowUs() } satisfies Window));
  await keyv.disconnect();
  process.stderr.write(`${target}: ${calls} gets in ${seconds} s\n`);
}

/** Whose code a frame is, so that a reader sees at once what keyv-failsafe can change. */
function ownerOf(url: string, fn: string): string {
  const dir = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/|\/(src|dist|adapters|integrations|benchmarks)\//.exec(url);
  if (dir?.[1]) return dir[1];
  if (dir?.[2]) return dir[2] === 'benchmarks' ? 'benchmark harness' : `keyv-failsafe ${dir[2]}/`;
  if (url.startsWith('node:')) return 'node core';
  // The socket write syscall, issued by node-redis when it flushes commands.
  if (['writev', 'writeUtf8String', 'writeBuffer'].includes(fn)) return 'socket I/O (native)';
  if (fn === '(garbage collector)') return 'GC';
  return fn === '(idle)' || fn === '(program)' ? fn : 'V8 / native';
}

/** Self time per function and per owner from a `.cpuprofile`'s samples, within `window` if any sample falls in it. */
function summarize(path: string, window: Window, title: string): string {
  type Frame = { functionName: string; url: string; lineNumber: number };
  type Profile = { startTime: number; nodes: Array<{ id: number; callFrame: Frame }>; samples: number[] };
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile & { timeDeltas: number[] };
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  let at = profile.startTime;
  const times = profile.timeDeltas.map((delta) => (at += delta));
  const inWindow = (i: number): boolean => (times[i] ?? 0) >= window.startUs && (times[i] ?? 0) <= window.endUs;
  // No sample in the window: the clocks disagreed, so the whole profile is used.
  const windowed = profile.samples.some((_id, i) => inWindow(i));
  const self = new Map<string, { owner: string; fn: string; where: string; us: number }>();
  let busyUs = 0;
  for (const [i, id] of profile.samples.entries()) {
    const frame = frames.get(id);
    if (frame === undefined || frame.functionName === '(idle)' || (windowed && !inWindow(i))) continue;
    const file = frame.url.replace(/^file:\/\/.*?\/(?=(src|dist|adapters|integrations|benchmarks|node_modules)\/)/, '');
    const fn = frame.functionName || '(anonymous)';
    const where =
      frame.url === '' ? '' : `${file.replace(/^.*\/node_modules\//, 'node_modules/')}:${frame.lineNumber + 1}`;
    const entry = self.get(`${fn}@${where}`) ?? { owner: ownerOf(frame.url, frame.functionName), fn, where, us: 0 };
    entry.us += profile.timeDeltas[i] ?? 0;
    busyUs += profile.timeDeltas[i] ?? 0;
    self.set(`${fn}@${where}`, entry);
  }
  const pct = (us: number): number => Math.round((us / busyUs) * 1000) / 10;
  const byOwner = new Map<string, number>();
  for (const { owner, us } of self.values()) byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
  const owners = [...byOwner].sort((a, b) => b[1] - a[1]).map(([owner, us]) => `${owner} ${pct(us)} %`);
  const top = [...self.values()].sort((a, b) => b.us - a.us).slice(0, 15);
  const scope = windowed ? 'hot loop only, module loading and setup left out' : 'whole process';
  const lines = top.map((l) => [`${pct(l.us)} %`, l.owner, `\`${l.fn}\``, l.where]);
  return [
    `## ${title}`,
    `${Math.round(busyUs / 1000)} ms of samples (idle excluded; ${scope}). Self time by owner: ${owners.join(', ')}.`,
    mdTable(['self', 'owner', 'function', 'where'], lines),
  ].join('\n\n');
}

/** Runs one target under `--cpu-prof` in a child and summarizes its profile. */
function profileOne(target: Target, seconds: number, redisUrl: string | undefined): string {
  const scratch = join(PROFILES, `.${target}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const child: Child = { target, seconds, windowFile: join(scratch, 'window.json'), redisUrl };
  const args = ['--cpu-prof', `--cpu-prof-dir=${scratch}`, '--import', 'tsx', import.meta.filename];
  const cwd = join(import.meta.dirname, '..');
  const result = spawnSync(process.execPath, [...args, '--child', JSON.stringify(child)], { stdio: 'inherit', cwd });
  if (result.status !== 0) throw new Error(`${target}: profiled process exited with ${result.status}`);
  const file = readdirSync(scratch).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`${target}: no .cpuprofile written`);
  const destination = join(PROFILES, `${target}.cpuprofile`);
  renameSync(join(scratch, file), destination);
  const window = JSON.parse(readFileSync(child.windowFile, 'utf8')) as Window;
  rmSync(scratch, { recursive: true, force: true });
  return summarize(destination, window, TARGETS[target]);
}

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '4' }, child: { type: 'string' }, target: { type: 'string' } },
});
if (values.child !== undefined) {
  await runChild(JSON.parse(values.child) as Child);
} else {
  const seconds = Number(values.seconds);
  const all = Object.keys(TARGETS) as Target[];
  const chosen = values.target === undefined ? all : all.filter((target) => values.target?.split(',').includes(target));
  if (chosen.length === 0) throw new Error(`--target: one or more of ${all.join(', ')}`);
  mkdirSync(PROFILES, { recursive: true });
  const redis = redisServerVersion() === undefined ? undefined : await RedisServer.start();
  const what = `\`node --cpu-prof\`, ${seconds} s of gets each; self time, i.e. time in the function itself, not its callees.`;
  const sections = ['# CPU profiles of the hot paths', what];
  try {
    for (const target of chosen) {
      const skip = NEEDS_REDIS.has(target) && redis === undefined;
      if (!skip) process.stderr.write(`profiling ${target}\n`);
      const skipped = `## ${TARGETS[target]}\n\nSkipped: redis-server is not on the PATH.`;
      sections.push(skip ? skipped : profileOne(target, seconds, redis?.url));
    }
  } finally {
    await redis?.stop();
  }
  // A chosen few do not replace the committed summary of them all.
  if (values.target === undefined) writeFileSync(join(RESULTS, 'profile.md'), `${sections.join('\n\n')}\n`);
  process.stdout.write(`${sections.join('\n\n')}\n`);
}
