// The operator CLI, run as a child process (as an operator runs it) against real redis-server
// processes this file starts. Keys are written by a real TieredStore under Keyv.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@keyv/redis';
import { build } from 'esbuild';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TieredStore, type TtlCategoryOptions } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

const root = new URL('..', import.meta.url).pathname;

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The CLI bundled from the sources once per run, with esbuild as `scripts/build.mjs` does, but
 * self-contained in the temp dir: no `npm run build` needed, and each of the ~25 runs below starts
 * in about 0.2 s instead of about 1 s through tsx, which on 2 cores is most of this file's runtime.
 */
let bundle: string;

/** Runs `keyv-failsafe ...args` from the sources, without any REDIS_URL around. */
function cli(...args: string[]): Promise<CliRun> {
  return cliWithEnv({}, ...args);
}

/** As {@link cli}, with `extraEnv` added to the environment. */
async function cliWithEnv(extraEnv: Record<string, string>, ...args: string[]): Promise<CliRun> {
  const { REDIS_URL: _ignored, ...inherited } = process.env;
  const env = { ...inherited, ...extraEnv };
  const child = spawn(process.execPath, [bundle, ...args], { cwd: root, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(killer);
  return { code, stdout, stderr };
}

// Written to a temp file and imported both by the application below and by the CLI's --config.
const configSource = `
const hot = new Set(['BTC', 'ETH']);
export default {
  categories: { priceCrypto: 30000, priceMacro: 300000, predictionHot: 20000, predictionNormal: 40000 },
  rules: [
    { match: 'price:crypto:*', category: 'priceCrypto' },
    { prefix: 'price:macro:', category: 'priceMacro' },
    { match: 'prediction:*', category: (key) => (hot.has(key.split(':')[1]) ? 'predictionHot' : 'predictionNormal') },
  ],
};
`;

const FILLERS = 1_500;
const PASSWORD = 'Sup3r-s3cret-pw';
const READER_PASSWORD = 'reader-pw-9x';

let server: RedisServer;
let secured: RedisServer;
let admin: ReturnType<typeof createClient>;
let dir: string;
let configFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyv-failsafe-cli-'));
  configFile = join(dir, 'ttl.config.mjs');
  await writeFile(configFile, configSource);
  bundle = join(dir, 'cli.mjs');
  await build({
    entryPoints: [join(root, 'cli/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    logLevel: 'warning',
    // Bundled CommonJS dependencies (commander) call require(); ESM output has none of its own.
    banner: {
      js: "import { createRequire as bannerRequire } from 'node:module'; const require = bannerRequire(import.meta.url);",
    },
  });
  [server, secured] = await Promise.all([RedisServer.start(), RedisServer.start(['--requirepass', PASSWORD])]);
  admin = createClient({ url: server.url });
  await admin.connect();

  const ttl = (await import(pathToFileURL(configFile).href)).default as TtlCategoryOptions<string>;
  const store = new TieredStore({ primary: server.url, ttl });
  const keyv = new Keyv({ store });
  await keyv.set('price:crypto:BTC', 64_000);
  await keyv.set('price:crypto:ETH', 3_100);
  await keyv.set('price:macro:CPI', 3.1);
  await keyv.set('prediction:BTC:1h', { up: 0.61 });
  await keyv.set('prediction:XYZ:1h', { up: 0.42 });
  await keyv.set('chart:BTC:1d', 'x'.repeat(5_000), 600_000);
  await keyv.set('session', 'no ttl');
  await store.disconnect();
  // Enough keys for several SCAN calls and a progress line, plus another namespace the CLI must skip.
  const multi = admin.multi();
  for (let i = 0; i < FILLERS; i++) multi.set(`keyv::keyv:filler:${i}`, '{"value":1}');
  multi.set('other::other:price:crypto:DOGE', '{"value":0.1}');
  await multi.exec();
  // A user that can read but not write, nor run MEMORY: the CLI must work with it (STRLEN sizes).
  await admin.sendCommand([
    'ACL',
    'SETUSER',
    'cli-reader',
    'on',
    `>${READER_PASSWORD}`,
    '~*',
    '-@all',
    '+@read',
    '+@connection',
    '+info',
    '-memory',
  ]);
  // Only what the CLI itself sends from now on is counted.
  await admin.configResetStat();
});

afterAll(async () => {
  await admin?.close();
  await Promise.all([server?.stop(), secured?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.concurrent('keyv-failsafe against a seeded redis-server', () => {
  it('ping reports latency, version and role', async () => {
    const run = await cli('ping', '--url', server.url, '--count', '3');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^PONG from redis:\/\/127\.0\.0\.1:\d+: redis \d+\.\d+\.\d+, role master \(0 replicas\)\n/,
    );
    const latency = /3 pings: min ([\d.]+) ms, p50 ([\d.]+) ms, max ([\d.]+) ms/.exec(run.stdout);
    expect(latency).not.toBeNull();
    const [min, p50, max] = latency?.slice(1).map(Number) ?? [];
    expect(min).toBeGreaterThan(0);
    expect(min).toBeLessThanOrEqual(p50 as number);
    expect(p50).toBeLessThanOrEqual(max as number);
  });

  it('inspect --match lists only matching keys of the namespace, with TTL, size and category', async () => {
    const run = await cli('inspect', '--url', server.url, '--match', 'price:*', '--config', configFile, '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.pattern).toBe('keyv::keyv:price:*');
    expect(report.truncated).toBe(false);
    expect(report.sizeSource).toBe('memory-usage');
    expect(report.keys.map((k: { key: string }) => k.key)).toEqual([
      'price:crypto:BTC',
      'price:crypto:ETH',
      'price:macro:CPI',
    ]);
    const btc = report.keys[0];
    expect(btc).toMatchObject({
      redisKey: 'keyv::keyv:price:crypto:BTC',
      category: 'priceCrypto',
      categoryTtlMs: 30_000,
    });
    expect(btc.ttlMs).toBeGreaterThan(0);
    expect(btc.ttlMs).toBeLessThanOrEqual(30_000);
    expect(btc.bytes).toBe(await admin.memoryUsage('keyv::keyv:price:crypto:BTC'));
    expect(report.keys[2]).toMatchObject({ category: 'priceMacro', categoryTtlMs: 300_000 });
    expect(report.keys[2].ttlMs).toBeGreaterThan(30_000);
  });

  it('inspect prints a readable table: human TTLs, sizes, categories from rule functions', async () => {
    const run = await cli('inspect', '--url', server.url, '--match', 'pre*', '--config', configFile);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^KEY\s+TTL\s+SIZE\s+CATEGORY$/);
    expect(run.stdout).toMatch(/prediction:BTC:1h\s+\d+(\.\d)?s\s+\d+ B\s+predictionHot \(20s\)/);
    expect(run.stdout).toMatch(/prediction:XYZ:1h\s+\d+(\.\d)?s\s+\d+ B\s+predictionNormal \(40s\)/);
    expect(run.stdout).toContain('2 keys matching keyv::keyv:pre*, sizes from MEMORY USAGE');
  });

  it('inspect stops at --limit and says so', async () => {
    const run = await cli('inspect', '--url', server.url, '--limit', '2', '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.keys).toHaveLength(2);
    expect(report.truncated).toBe(true);
    const text = await cli('inspect', '--url', server.url, '--limit', '2', '--quiet');
    expect(text.stdout).toContain('Stopped at --limit 2: more keys may match.');
  });

  it('inspect shows progress on stderr for long scans, and keeps stdout clean', async () => {
    const run = await cli('inspect', '--url', server.url, '--match', 'filler:*', '--limit', '5000', '--json');
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^scanning: 1\d{3} keys found, \d+ SCAN calls$/m);
    const report = JSON.parse(run.stdout);
    expect(report.keys).toHaveLength(FILLERS);
    expect(report.truncated).toBe(false);
  });

  it('stats totals keys, bytes and TTLs per category, and reads server memory', async () => {
    const run = await cli('stats', '--url', server.url, '--config', configFile, '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.groupedBy).toBe('category');
    const byName = Object.fromEntries(report.groups.map((g: { name: string }) => [g.name, g]));
    expect(Object.keys(byName).sort()).toEqual([
      '(none)',
      'predictionHot',
      'predictionNormal',
      'priceCrypto',
      'priceMacro',
    ]);
    const cryptoBytes =
      ((await admin.memoryUsage('keyv::keyv:price:crypto:BTC')) ?? 0) +
      ((await admin.memoryUsage('keyv::keyv:price:crypto:ETH')) ?? 0);
    expect(byName.priceCrypto).toMatchObject({ keys: 2, bytes: cryptoBytes, withoutTtl: 0, categoryTtlMs: 30_000 });
    expect(byName.priceCrypto.ttlMinMs).toBeGreaterThan(0);
    expect(byName.priceCrypto.ttlMaxMs).toBeLessThanOrEqual(30_000);
    expect(byName.priceMacro.keys).toBe(1);
    expect(byName.predictionHot.keys).toBe(1);
    expect(byName.predictionNormal.keys).toBe(1);
    // chart (explicit TTL), session (no TTL) and the fillers (no TTL); not the other namespace.
    expect(byName['(none)']).toMatchObject({ keys: FILLERS + 2, withoutTtl: FILLERS + 1 });
    expect(report.total.keys).toBe(FILLERS + 7);
    expect(report.total.bytes).toBe(report.groups.reduce((sum: number, g: { bytes: number }) => sum + g.bytes, 0));
    expect(report.server).toMatchObject({ maxmemory: 0, maxmemoryPolicy: 'noeviction', dbsize: FILLERS + 8 });
    expect(report.server.usedMemory).toBeGreaterThan(0);
  });

  it('stats without --config groups by first segment, and --max-keys bounds the pass', async () => {
    const run = await cli('stats', '--url', server.url, '--json', '--quiet');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.groupedBy).toBe('segment');
    const keys = Object.fromEntries(report.groups.map((g: { name: string; keys: number }) => [g.name, g.keys]));
    expect(keys).toEqual({ 'filler:': FILLERS, 'price:': 3, 'prediction:': 2, 'chart:': 1, '(no prefix)': 1 });
    expect(report.truncated).toBe(false);

    const bounded = await cli('stats', '--url', server.url, '--max-keys', '100', '--quiet');
    expect(bounded.code).toBe(0);
    expect(bounded.stdout).toMatch(/^total\s+100\s/m);
    expect(bounded.stdout).toContain('Stopped at --max-keys 100');
    expect(bounded.stdout).toMatch(/Server: used_memory \S+, maxmemory none, policy noeviction, 1508 keys/);
  });

  it('works with a read-only ACL user, falling back to STRLEN when MEMORY is denied', async () => {
    const url = `redis://cli-reader:${READER_PASSWORD}@127.0.0.1:${server.port}`;
    const run = await cli('inspect', '--url', url, '--match', 'price:crypto:*', '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.sizeSource).toBe('strlen');
    expect(report.keys.map((k: { bytes: number }) => k.bytes)).toEqual([
      await admin.strLen('keyv::keyv:price:crypto:BTC'),
      await admin.strLen('keyv::keyv:price:crypto:ETH'),
    ]);
    expect(report.url).toBe(`redis://cli-reader:***@127.0.0.1:${server.port}`);
    expect(run.stdout + run.stderr).not.toContain(READER_PASSWORD);
  });

  it('--help of every command shows examples and exits 0', async () => {
    const runs = await Promise.all(['ping', 'inspect', 'stats'].map((command) => cli(command, '--help')));
    for (const [i, command] of ['ping', 'inspect', 'stats'].entries()) {
      expect(runs[i]?.code).toBe(0);
      expect(runs[i]?.stdout).toContain(`Usage: keyv-failsafe ${command}`);
      expect(runs[i]?.stdout).toContain(`Examples:\n  $ keyv-failsafe ${command} --url`);
    }
  });
});

describe('keyv-failsafe is read-only and never uses KEYS', () => {
  it('sent SCAN and no KEYS nor any write command', async () => {
    const stats = await admin.info('commandstats');
    expect(stats).toMatch(/^cmdstat_scan:calls=\d+/m);
    expect(stats).not.toMatch(/^cmdstat_keys:/m);
    for (const write of ['set', 'del', 'unlink', 'expire', 'pexpire', 'flushdb', 'flushall']) {
      expect(stats).not.toMatch(new RegExp(`^cmdstat_${write}:`, 'm'));
    }
  });
});

describe.concurrent('keyv-failsafe errors: clear message, exit code, no password', () => {
  it('a refused connection', async () => {
    const run = await cli('ping', '--url', 'redis://127.0.0.1:1');
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('keyv-failsafe: Cannot connect to redis://127.0.0.1:1: connection refused\n');
    expect(run.stdout).toBe('');
  });

  it('a wrong password', async () => {
    const run = await cli('inspect', '--url', `redis://:wrong-${PASSWORD}@127.0.0.1:${secured.port}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `keyv-failsafe: Redis at redis://:***@127.0.0.1:${secured.port} refused the credentials: WRONGPASS invalid username-password pair or user is disabled.\n`,
    );
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('a wrong password holding an @ is hidden whole', async () => {
    const run = await cli('ping', '--url', `redis://:wr@ng-${PASSWORD}@127.0.0.1:${secured.port}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Redis at redis://:***@127.0.0.1:${secured.port} refused the credentials: WRONGPASS`);
    expect(run.stdout + run.stderr).not.toMatch(/ng-|Sup3r/);
  });

  it('no password for a server that requires one (NOAUTH)', async () => {
    const run = await cli('stats', '--url', `redis://127.0.0.1:${secured.port}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Redis at redis://127.0.0.1:${secured.port} refused the credentials: NOAUTH`);
  });

  it('the right password works and is not printed, even from REDIS_URL', async () => {
    const run = await cliWithEnv({ REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${secured.port}` }, 'ping', '-n', '1');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`PONG from redis://:***@127.0.0.1:${secured.port}`);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('a bad URL is a usage error (exit 2)', async () => {
    const [http, bare] = await Promise.all([
      cli('inspect', '--url', `http://:${PASSWORD}@127.0.0.1:${secured.port}`),
      cli('ping', '--url', 'localhost:6379'),
    ]);
    expect(http.code).toBe(2);
    expect(http.stderr).toBe(
      `keyv-failsafe: Invalid --url http://:***@127.0.0.1:${secured.port}: expected redis:// or rediss://\n`,
    );
    expect(http.stdout + http.stderr).not.toContain(PASSWORD);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Invalid --url localhost:6379: expected redis:// or rediss://');
  });

  it('bad flags and a bad --config are usage errors (exit 2)', async () => {
    const badConfig = join(dir, 'bad.config.mjs');
    await writeFile(
      badConfig,
      "export default { categories: { a: 1000 }, rules: [{ prefix: 'a:', category: 'b' }] };\n",
    );
    const [noUrl, zero, config] = await Promise.all([
      cli('inspect'),
      cli('ping', '--url', server.url, '--count', '0'),
      cli('inspect', '--url', server.url, '--config', badConfig),
    ]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain("required option '--url <url>' not specified");
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('expected an integer >= 1');
    expect(config.code).toBe(2);
    expect(config.stderr).toContain(`Invalid --config ${badConfig}: Unknown TTL category "b"`);
  });

  it('a server that never answers: bounded connect, then bounded commands', async () => {
    // One accepts and stays silent; the other completes the handshake (+OK) but never answers PING.
    const silent = createServer(() => {});
    const stuck = createServer((socket) => {
      socket.on('data', (data) => {
        const lines = data.toString().split('\r\n');
        lines.forEach((line, i) => {
          if (line.startsWith('*') && lines[i + 2]?.toUpperCase() !== 'PING') socket.write('+OK\r\n');
        });
      });
    });
    const listen = async (s: Server) => {
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      return (s.address() as { port: number }).port;
    };
    const [silentPort, stuckPort] = await Promise.all([listen(silent), listen(stuck)]);
    try {
      const [connect, command] = await Promise.all([
        cli('ping', '--url', `redis://127.0.0.1:${silentPort}`, '--connect-timeout', '300'),
        cli('ping', '--url', `redis://127.0.0.1:${stuckPort}`, '--timeout', '300'),
      ]);
      expect(connect.code).toBe(1);
      expect(connect.stderr).toBe(
        `keyv-failsafe: Cannot connect to redis://127.0.0.1:${silentPort}: no answer within 300 ms (--connect-timeout)\n`,
      );
      expect(command.code).toBe(1);
      expect(command.stderr).toBe(
        `keyv-failsafe: Redis at redis://127.0.0.1:${stuckPort} did not answer PING within 300 ms (--timeout)\n`,
      );
    } finally {
      silent.close();
      stuck.close();
    }
  });
});
