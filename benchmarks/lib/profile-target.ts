/**
 * The workload `benchmarks/profile.ts` runs under `node --cpu-prof`: one hot path, repeated for a
 * few seconds, nothing else, so that the profile's self times belong to that path.
 *
 * argv: <target> <seconds> <windowFile> [redisUrl]; target is memory-first | fallback | primary-get.
 * The hot loop's start and end (monotonic µs, V8's profile clock) go to <windowFile>, so that the
 * summary can leave out module loading and setup.
 */
import { writeFileSync } from 'node:fs';
import { tieredKeyv } from './ours.js';
import { makeKeys, makePayload } from './payloads.js';
import { freePort } from './redis.js';

const [target = 'memory-first', secondsArg = '4', windowFile, redisUrl] = process.argv.slice(2);
const seconds = Number(secondsArg);

async function main(): Promise<void> {
  const refused = `redis://127.0.0.1:${await freePort()}`;
  const primary = target === 'primary-get' ? (redisUrl ?? refused) : refused;
  const { keyv } = tieredKeyv(
    { primary, ...(target === 'memory-first' ? { readPolicy: 'memory-first', memoryTtlMs: 3_600_000 } : {}) },
    'profile',
  );
  const keys = makeKeys('profile', 256);
  const value = makePayload('1KB');
  for (const key of keys) await keyv.set(key, value);
  if ((await keyv.get(keys[0] as string)) === undefined) throw new Error(`${target}: the profiled get misses`);
  const startUs = Number(process.hrtime.bigint() / 1000n);
  const until = performance.now() + seconds * 1e3;
  let calls = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 256; i++) await keyv.get(keys[i] as string);
    calls += 256;
  }
  const endUs = Number(process.hrtime.bigint() / 1000n);
  if (windowFile !== undefined) writeFileSync(windowFile, JSON.stringify({ startUs, endUs }));
  await keyv.disconnect();
  process.stderr.write(`${target}: ${calls} gets in ${seconds} s\n`);
}

await main();
