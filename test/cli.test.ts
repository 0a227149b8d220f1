// The operator CLI, run as a child process (as an operator runs it) against real redis-server
// processes this file starts. Keys are written by a real TieredStore under Keyv.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TieredStore, type TtlCategoryOptions } from '../src/index.js';
import { bundleCli, type CliRun, spawnCli } from './helpers/cli-process.js';
import { type FakeAnswer, fakeRedis, withFakes } from './helpers/fake-redis.js';
import { RedisServer } from './helpers/redis-server.js';

/** The CLI bundled from the sources once for this file (see {@link bundleCli}). */
let bundle: string;

/** Runs `keyv-failsafe ...args` from the sources, without any REDIS_URL around. */
function cli(...args: string[]): Promise<CliRun> {
  return cliWithEnv({}, ...args);
}

/**
 * CLI processes running at once. Tests run concurrently and many start several runs: without a
 * bound, dozens of Node processes fight for 2 cores and each run's wall time means nothing.
 */
const MAX_RUNNING = 4;
let running = 0;
const waiting: Array<() => void> = [];

/** Runs `fn` once fewer than {@link MAX_RUNNING} CLI processes are running. */
async function throttled<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** As {@link cli}, with `extraEnv` added to the environment. */
function cliWithEnv(extraEnv: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return throttled(() => spawnCli(bundle, args, extraEnv));
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
  await bundleCli(bundle);
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
    expect(report.url).toBe(`redis://***@127.0.0.1:${server.port}`);
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
      `keyv-failsafe: Redis at redis://***@127.0.0.1:${secured.port} refused the credentials: WRONGPASS invalid username-password pair or user is disabled.\n`,
    );
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('a wrong password holding an @ is hidden whole', async () => {
    const run = await cli('ping', '--url', `redis://:wr@ng-${PASSWORD}@127.0.0.1:${secured.port}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Redis at redis://***@127.0.0.1:${secured.port} refused the credentials: WRONGPASS`);
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
    expect(run.stdout).toContain(`PONG from redis://***@127.0.0.1:${secured.port}`);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('a bad URL is a usage error (exit 2)', async () => {
    const [http, bare] = await Promise.all([
      cli('inspect', '--url', `http://:${PASSWORD}@127.0.0.1:${secured.port}`),
      cli('ping', '--url', 'localhost:6379'),
    ]);
    expect(http.code).toBe(2);
    expect(http.stderr).toBe(
      `keyv-failsafe: Invalid --url http://***@127.0.0.1:${secured.port}: expected a redis://, rediss://, valkey:// or valkeys:// URL\n`,
    );
    expect(http.stdout + http.stderr).not.toContain(PASSWORD);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe(
      'keyv-failsafe: Invalid --url localhost:6379: expected a redis://, rediss://, valkey:// or valkeys:// URL\n',
    );
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
    expect(zero.stderr).toContain('expected an integer from 1 to 100000');
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

// ---------------------------------------------------------------------------------------------
// Hostile and broken servers: fake ones (test/helpers/fake-redis.ts), since no real Redis misbehaves
// like this. Each answers commands through `answer`; the handshake (CLIENT ...) gets +OK.
// ---------------------------------------------------------------------------------------------

/** A RESP bulk string. */
const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;

/** A failed run as an operator must see it: exit `code`, one line on stderr, no stack, nothing on stdout. */
function expectOneLineError(run: CliRun, code: number, pattern: RegExp): void {
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^keyv-failsafe: [^\n]+\n$/);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.code).toBe(code);
}

/**
 * A hostile server must be recognised from its replies, not by waiting for a timeout: runs against
 * one get connect and command timeouts of 30 s ({@link hostile}), so a run that ends within
 * PROMPT_MS did not wait for any of them. 10 s is far below those and leaves room for a loaded
 * 2-core machine, where starting Node alone may take a second or more.
 */
const PROMPT_MS = 10_000;

/** `keyv-failsafe ...args` with every per-wait timeout at 30 s: only the replies can end the run early. */
function hostile(...args: string[]): Promise<CliRun> {
  return cli(...args, '--connect-timeout', '30000', '--timeout', '30000');
}

/** The answers of a well-behaved server to what the CLI sends besides the command under test. */
function healthy(args: string[], dbsize = 3): FakeAnswer {
  switch (args[0]?.toUpperCase()) {
    case 'PING':
      return '+PONG\r\n';
    case 'DBSIZE':
      return `:${dbsize}\r\n`;
    case 'INFO':
      return bulk('# Server\r\nredis_version:7.0.0\r\nrole:master\r\nconnected_slaves:0\r\n');
    case 'PTTL':
      return ':-1\r\n';
    case 'MEMORY':
    case 'STRLEN':
      return ':10\r\n';
    default:
      return '+OK\r\n';
  }
}

describe.concurrent('the whole SCAN pass is bounded, and a reply of the wrong shape is a clear error', () => {
  it('a server answering +OK, or a fixed [cursor 5, []], to everything: inspect and stats exit 1 at once', async () => {
    await withFakes([() => '+OK\r\n', () => '*2\r\n$1\r\n5\r\n*0\r\n'], async ([ok, fixed]) => {
      const runs = await Promise.all(
        [ok, fixed].flatMap((fake) =>
          ['inspect', 'stats'].map((command) => hostile(command, '--url', fake?.url ?? '')),
        ),
      );
      for (const run of runs) {
        expectOneLineError(run, 1, /answered DBSIZE with (the string OK|an array of 2 items) instead of an integer/);
        expect(run.ms).toBeLessThan(PROMPT_MS);
      }
    });
  });

  it('a SCAN cursor that comes back (5, 5, ...) stops on the second call', async () => {
    await withFakes([(args) => (args[0] === 'SCAN' ? '*2\r\n$1\r\n5\r\n*0\r\n' : healthy(args))], async ([fake]) => {
      const url = fake?.url ?? '';
      const runs = await Promise.all([hostile('inspect', '--url', url), hostile('stats', '--url', url, '--quiet')]);
      for (const run of runs) {
        expectOneLineError(run, 1, /answered SCAN with the cursor 5 again, which would loop forever/);
        expect(run.ms).toBeLessThan(PROMPT_MS);
      }
      // Two SCAN calls per run, not thousands.
      expect(fake?.commands.filter((args) => args[0] === 'SCAN')).toHaveLength(4);
    });
  });

  it('a cursor that moves but never returns to 0: stopped after 1000 + 2 x DBSIZE/500 calls, or --max-scan-calls', async () => {
    let cursor = 0;
    const endless = (args: string[]): FakeAnswer => {
      if (args[0] !== 'SCAN') return healthy(args, 1_000);
      cursor++;
      return `*2\r\n${bulk(String(cursor))}*0\r\n`;
    };
    await withFakes([endless], async ([fake]) => {
      const url = fake?.url ?? '';
      const byDefault = await hostile('stats', '--url', url, '--quiet');
      expectOneLineError(
        byDefault,
        1,
        /a cursor that was not back at 0 after 1004 SCAN calls \(DBSIZE 1000; raise --max-scan-calls/,
      );
      // 1004 round trips: well under a second alone, a few on a loaded machine; not the 60 s --max-time.
      expect(byDefault.ms).toBeLessThan(12_000);
      const bounded = await hostile('inspect', '--url', url, '--max-scan-calls', '7');
      expectOneLineError(bounded, 1, /not back at 0 after 7 SCAN calls/);
      expect(fake?.commands.filter((args) => args[0] === 'SCAN')).toHaveLength(1_004 + 7);
    });
  });

  it('a slow server that answers each SCAN in time: --max-time bounds the whole run', async () => {
    let cursor = 0;
    const slow = (args: string[]): FakeAnswer => {
      if (args[0] !== 'SCAN') return healthy(args, 100_000_000);
      cursor++;
      return (socket) => {
        setTimeout(() => socket.write(`*2\r\n${bulk(String(cursor))}*0\r\n`), 150).unref();
      };
    };
    await withFakes([slow], async ([fake]) => {
      // Each SCAN takes 150 ms, well within --timeout; only the budget of the whole run stops it.
      const run = await cli('inspect', '--url', fake?.url ?? '', '--quiet', '--timeout', '1000', '--max-time', '1500');
      expectOneLineError(
        run,
        1,
        /^keyv-failsafe: Redis at redis:\/\/127\.0\.0\.1:\d+: the run did not finish within 1500 ms \(--max-time\); it was waiting for SCAN\n$/,
      );
      // 1.5 s, the process start and exit; not 60 s of the default --max-time.
      expect(run.ms).toBeLessThan(PROMPT_MS);
      // More than one SCAN answered in time: the bound is on the run, not on a call.
      expect(fake?.commands.filter((args) => args[0] === 'SCAN').length).toBeGreaterThanOrEqual(2);
    });
  });

  it('SCAN replies of the wrong shape: exit 1 with what came back, never a crash or a loop', async () => {
    const shapes: Record<string, string> = {
      'the string OK instead of \\[cursor, \\[keys\\]\\]': '+OK\r\n',
      'a null reply instead of': '*-1\r\n',
      'an array of 1 item instead of': '*1\r\n$1\r\n0\r\n',
      'a cursor that is the string not-a-number instead of a decimal number': `*2\r\n${bulk('not-a-number')}*0\r\n`,
      'a cursor that is the integer 0 instead of': `*2\r\n:0\r\n*0\r\n`,
      'keys that are the string k instead of an array': `*2\r\n${bulk('0')}${bulk('k')}`,
      'a key that is the integer 7 instead of a bulk string': `*2\r\n${bulk('0')}*1\r\n:7\r\n`,
      'a key that is the string k instead of a bulk string': `*2\r\n${bulk('0')}*1\r\n+k\r\n`,
    };
    const answers = Object.values(shapes).map(
      (reply) => (args: string[]) => (args[0] === 'SCAN' ? reply : healthy(args)),
    );
    await withFakes(answers, async (fakes) => {
      const runs = await Promise.all(fakes.map((fake) => hostile('inspect', '--url', fake.url)));
      for (const [i, expected] of Object.keys(shapes).entries()) {
        const run = runs[i] as CliRun;
        expectOneLineError(run, 1, new RegExp(`answered SCAN with ${expected}`));
        expect(run.ms).toBeLessThan(PROMPT_MS);
      }
    });
  });

  it('PTTL, MEMORY USAGE, PING and INFO replies of the wrong shape', async () => {
    const oneKey = `*2\r\n${bulk('0')}*1\r\n${bulk('keyv::keyv:a')}`;
    const answers = [
      (args: string[]) => (args[0] === 'SCAN' ? oneKey : args[0] === 'PTTL' ? '+OK\r\n' : healthy(args)),
      (args: string[]) => (args[0] === 'SCAN' ? oneKey : args[0] === 'MEMORY' ? bulk('big') : healthy(args)),
      (args: string[]) => (args[0] === 'SCAN' ? oneKey : args[0] === 'PTTL' ? ':-7\r\n' : healthy(args)),
      (args: string[]) => (args[0] === 'PING' ? '+OK\r\n' : healthy(args)),
      (args: string[]) => (args[0] === 'INFO' ? ':1\r\n' : healthy(args)),
    ];
    await withFakes(answers, async ([pttl, memory, negative, ping, info]) => {
      const runs = await Promise.all([
        hostile('inspect', '--url', pttl?.url ?? ''),
        hostile('stats', '--url', memory?.url ?? '', '--quiet'),
        hostile('inspect', '--url', negative?.url ?? ''),
        hostile('ping', '--url', ping?.url ?? ''),
        hostile('ping', '--url', info?.url ?? ''),
      ]);
      const expected = [
        /answered PTTL \+ MEMORY USAGE with the string OK instead of an integer >= -2/,
        /answered PTTL \+ MEMORY USAGE with the string big instead of an integer >= 0/,
        /answered PTTL \+ MEMORY USAGE with the integer -7 instead of an integer >= -2/,
        /answered PING with the string OK instead of PONG/,
        /answered INFO server with the integer 1 instead of text/,
      ];
      for (const [i, pattern] of expected.entries()) {
        expectOneLineError(runs[i] as CliRun, 1, pattern);
        expect(runs[i]?.ms).toBeLessThan(PROMPT_MS);
      }
    });
  });

  it('bytes that are not RESP, a reply nobody asked for, a reply too large to hold', async () => {
    const answers = [
      (args: string[]) => (args[0] === 'PING' ? 'hello\r\n' : healthy(args)),
      (args: string[]) => (args[0] === 'PING' ? '+PONG\r\n+PONG\r\n' : healthy(args)),
      (args: string[]) => (args[0] === 'SCAN' ? '*99999999999\r\n' : healthy(args)),
    ];
    await withFakes(answers, async ([garbage, extra, huge]) => {
      const runs = await Promise.all([
        hostile('ping', '--url', garbage?.url ?? ''),
        hostile('ping', '--url', extra?.url ?? ''),
        hostile('inspect', '--url', huge?.url ?? ''),
      ]);
      expectOneLineError(
        runs[0] as CliRun,
        1,
        /during PING: the server does not speak the Redis protocol \(Unknown RESP type/,
      );
      expectOneLineError(
        runs[1] as CliRun,
        1,
        /the server does not speak the Redis protocol \(a reply that no command was waiting for\)/,
      );
      expectOneLineError(runs[2] as CliRun, 1, /during SCAN: the server does not speak the Redis protocol/);
      for (const run of runs) expect(run.ms).toBeLessThan(PROMPT_MS);
    });
  });

  it('a server that closes the connection mid-reply, or during the handshake', async () => {
    const midReply = (args: string[]): FakeAnswer =>
      args[0] === 'SCAN'
        ? (socket) => {
            socket.write(`*2\r\n${bulk('0')}*3\r\n$3\r\nabc`);
            socket.destroy();
          }
        : healthy(args);
    const handshake = await fakeRedis(() => undefined);
    await withFakes([midReply], async ([fake]) => {
      // This one closes on the first byte of the handshake, before anything is answered.
      const closing = createServer((socket) => socket.once('data', () => socket.destroy()));
      closing.listen(0, '127.0.0.1');
      await once(closing, 'listening');
      const port = (closing.address() as { port: number }).port;
      try {
        const [scan, hello] = await Promise.all([
          hostile('inspect', '--url', fake?.url ?? ''),
          hostile('ping', '--url', `redis://127.0.0.1:${port}`),
        ]);
        expectOneLineError(
          scan,
          1,
          /Connection to redis:\/\/127\.0\.0\.1:\d+ was closed by the other side during SCAN/,
        );
        expectOneLineError(hello, 1, /Connection to redis:\/\/127\.0\.0\.1:\d+ was (closed by the other side|reset)/);
        expect(scan.ms).toBeLessThan(PROMPT_MS);
        expect(hello.ms).toBeLessThan(PROMPT_MS);
      } finally {
        closing.close();
        handshake.close();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Key names are data an attacker may choose: every one the CLI prints is escaped.
// ---------------------------------------------------------------------------------------------

/**
 * What must never reach the terminal raw: C0 controls but the newline, DEL, C1, bidi overrides,
 * isolates and marks (U+061C, U+200E/F, U+202A-E, U+2066-9), line separators, and U+FFFD, which is
 * what a byte that is not UTF-8 (or a lone surrogate) would have become on the way.
 */
const RAW_UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must not get through.
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufffd]/;

/** Keys written to database 1 of the seeded server, so that database 0's counts stay as they are. */
const EVIL_KEYS: ReadonlyArray<readonly [Buffer, string]> = [
  // [key in Redis, what the table must show]
  [
    Buffer.from('keyv::keyv:forged\n2 keys matching keyv::keyv:*, sizes from MEMORY USAGE'),
    '"forged\\n2 keys matching keyv::keyv:*, sizes from MEMORY USAGE"',
  ],
  [Buffer.from('keyv::keyv:\u001b[2J\u001b[31mred\r'), '"\\u001b[2J\\u001b[31mred\\r"'],
  [Buffer.from('keyv::keyv:tab\there'), '"tab\\there"'],
  [Buffer.from('keyv::keyv:invoice\u202Efdp.exe'), '"invoice\\u202efdp.exe"'],
  [Buffer.from('keyv::keyv:iso\u2066x\u2069\u200e\u200f\u061c'), '"iso\\u2066x\\u2069\\u200e\\u200f\\u061c"'],
  [Buffer.from('keyv::keyv:c1\u009b31m\u0085del\u007f'), '"c1\\u009b31m\\u0085del\\u007f"'],
  [Buffer.concat([Buffer.from('keyv::keyv:bytes'), Buffer.from([0xff, 0xfe, 0xc3])]), '"bytes\\xff\\xfe\\xc3"'],
  // A surrogate encoded as UTF-8 (CESU-8 / WTF-8): not UTF-8 either.
  [Buffer.concat([Buffer.from('keyv::keyv:lone'), Buffer.from([0xed, 0xa0, 0x80])]), '"lone\\xed\\xa0\\x80"'],
  [Buffer.from('keyv::keyv:\u001b]0;pwned\u0007:segment'), '"\\u001b]0;pwned\\u0007:segment"'],
  [Buffer.from('keyv::keyv:"looks quoted"'), '"\\"looks quoted\\""'],
  [Buffer.from('keyv::keyv:plain:key'), 'plain:key'],
  // A 10 kB name is cut at 256 code points, so that it cannot widen every row of the table.
  [Buffer.from(`keyv::keyv:long:${'x'.repeat(10_000)}`), `long:${'x'.repeat(251)}… (10005 bytes)`],
];

describe.concurrent('every key name the CLI prints is escaped (real keys in a real redis-server)', () => {
  let evil: ReturnType<typeof createClient>;
  const evilUrl = () => `${server.url}/1`;

  beforeAll(async () => {
    evil = createClient({ url: evilUrl() });
    await evil.connect();
    for (const [key] of EVIL_KEYS) await evil.set(key, 'v', { PX: 600_000 });
  });
  afterAll(async () => {
    await evil?.close();
  });

  it('inspect: one table row per key, each escaped, nothing raw on the terminal', async () => {
    const run = await cli('inspect', '--url', evilUrl());
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(RAW_UNSAFE);
    expect(run.stderr).not.toMatch(RAW_UNSAFE);
    const lines = run.stdout.split('\n');
    // Header, one row per key, a blank line, the summary: a newline in a key forged no line.
    expect(lines).toHaveLength(1 + EVIL_KEYS.length + 2 + 1);
    expect(lines[EVIL_KEYS.length + 2]).toBe(`${EVIL_KEYS.length} keys matching keyv::keyv:*, sizes from MEMORY USAGE`);
    for (const [, shown] of EVIL_KEYS) {
      expect(lines.filter((line) => line.startsWith(`${shown} `))).toHaveLength(1);
    }
  });

  it('inspect --json: exact keys for UTF-8 ones, and JSON with nothing raw for the terminal', async () => {
    const run = await cli('inspect', '--url', evilUrl(), '--json');
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(RAW_UNSAFE);
    const report = JSON.parse(run.stdout) as { keys: Array<{ redisKey: string; keyBytes?: unknown }> };
    const redisKeys = report.keys.map((k) => k.redisKey);
    expect(redisKeys).toHaveLength(EVIL_KEYS.length);
    for (const [key] of EVIL_KEYS) {
      const text = key.toString('utf8');
      // Keys that are UTF-8 come back exactly; the others as their UTF-8 reading (JSON has no bytes).
      if (Buffer.from(text).equals(key)) expect(redisKeys).toContain(text);
    }
    expect(report.keys.every((k) => k.keyBytes === undefined)).toBe(true);
    expect(run.stdout).toContain('invoice\\u202efdp.exe');
  });

  it('stats: group names (first segments and category labels) are escaped too', async () => {
    const config = join(dir, 'evil.config.mjs');
    // A category function that hands back part of the key: the label quotes what it returned.
    await writeFile(
      config,
      "export default { categories: { a: 1000 }, rules: [{ match: '*', category: (key) => key.slice(0, 8) }] };\n",
    );
    const [bySegment, byCategory] = await Promise.all([
      cli('stats', '--url', evilUrl()),
      cli('stats', '--url', evilUrl(), '--config', config),
    ]);
    for (const run of [bySegment, byCategory]) {
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(RAW_UNSAFE);
      expect(run.stderr).not.toMatch(RAW_UNSAFE);
    }
    expect(bySegment.stdout).toMatch(/^"\\u001b\]0;pwned\\u0007:"\s+1\s/m);
    expect(bySegment.stdout).toMatch(/^plain:\s+1\s/m);
    // Rows: header, one per group, total; a newline in a key made no row of its own.
    // Groups: "forged\n2 keys matching keyv:", the escape-sequence segment, plain:, long: and (no prefix).
    expect(bySegment.stdout.split('\n\n')[0]?.split('\n')).toHaveLength(1 + 5 + 1);
    expect(byCategory.stdout).toContain('(unknown category \\"c1\\u009b31m\\u0085d\\")');
    expect(byCategory.stdout).toContain('(unknown category \\"invoice\\u202e\\")');
  });

  it('server-provided text (version, role) is escaped like a key', async () => {
    const info = (args: string[]): FakeAnswer => {
      if (args[0] !== 'INFO') return healthy(args);
      return args[1] === 'server'
        ? bulk('redis_version:7\u001b[2J\u001b]0;pwn\u0007\u009b\r\n')
        : bulk('role:slave\r\nmaster_host:\u001b[31mevil\u202e\r\nmaster_port:6379\r\nmaster_link_status:up\r\n');
    };
    await withFakes([info], async ([fake]) => {
      const [text, json] = await Promise.all([
        hostile('ping', '--url', fake?.url ?? '', '-n', '1'),
        hostile('ping', '--url', fake?.url ?? '', '-n', '1', '--json'),
      ]);
      expect(text.code).toBe(0);
      expect(text.stdout).not.toMatch(RAW_UNSAFE);
      expect(text.stdout).toContain(
        'redis "7\\u001b[2J\\u001b]0;pwn\\u0007\\u009b", role replica of "\\u001b[31mevil\\u202e":6379 (link up)',
      );
      expect(json.code).toBe(0);
      expect(json.stdout).not.toMatch(RAW_UNSAFE);
      expect(JSON.parse(json.stdout).version).toBe('7\u001b[2J\u001b]0;pwn\u0007\u009b');
    });
  });

  it('an error reply holding escape sequences and newlines is one escaped line', async () => {
    await withFakes(
      [(args) => (args[0] === 'PING' ? '-ERR \u001b[2Jcleared\u009b\r\n' : healthy(args))],
      async ([fake]) => {
        const run = await hostile('ping', '--url', fake?.url ?? '');
        expectOneLineError(run, 1, /answered PING with an error: ERR \\u001b\[2Jcleared\\u009b$/m);
        expect(run.stderr).not.toMatch(RAW_UNSAFE);
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// No part of a password, in any output, whatever the URL looks like.
// ---------------------------------------------------------------------------------------------

describe.concurrent('--url: every form is checked and no credential is ever printed', () => {
  /** A password with the characters that break naive redaction: `@`, `:` and `/`-free parts to look for. */
  const TRICKY = 'Xq7@Zr9:Wt3-pw';
  const parts = ['Xq7', 'Zr9', 'Wt3-pw'];
  const expectNoSecret = (run: CliRun, secrets: readonly string[]) => {
    for (const secret of secrets) expect(run.stdout + run.stderr).not.toContain(secret);
  };

  it('a bad port, a port out of range, a malformed %-escape: usage errors (exit 2) without the password', async () => {
    const runs = await Promise.all([
      cli('ping', '--url', `redis://:${PASSWORD}@127.0.0.1:abc`),
      cli('ping', '--url', `redis://:${PASSWORD}@127.0.0.1:99999`),
      cli('inspect', '--url', `redis://:${PASSWORD}@127.0.0.1:0`),
      cliWithEnv({ REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:70000` }, 'stats'),
      cli('ping', '--url', `redis://:%zz${PASSWORD}@127.0.0.1:${secured.port}`),
      cli('ping', '--url', `redis://${PASSWORD}@127.0.0.1:99999`),
      cli('ping', '--url', `redis://:${PASSWORD}@127.0.0.1:6379/not-a-db`),
    ]);
    const expected = [
      'redis://***@127.0.0.1:abc: expected a well-formed URL (check the host and that the port is 1-65535)',
      'redis://***@127.0.0.1:99999: expected a well-formed URL (check the host and that the port is 1-65535)',
      'redis://***@127.0.0.1:0: expected a port from 1 to 65535',
      'redis://***@127.0.0.1:70000: expected a well-formed URL',
      `redis://***@127.0.0.1:${secured.port}: expected %-escapes of two hex digits in the user name and password`,
      'redis://***@127.0.0.1:99999: expected a well-formed URL',
      'redis://***@127.0.0.1:6379/not-a-db: expected a database number as the path',
    ];
    for (const [i, text] of expected.entries()) {
      const run = runs[i] as CliRun;
      expectOneLineError(
        run,
        2,
        new RegExp(`^keyv-failsafe: Invalid --url ${text.replace(/[.*+?()[\]|^$\\]/g, '\\$&')}`),
      );
      expectNoSecret(run, [PASSWORD, 'Sup3r', 's3cret']);
    }
  });

  it('a password holding @ and :, a userinfo without a colon: refused, and hidden whole', async () => {
    const [tricky, userOnly, userOnlyOpen] = await Promise.all([
      cli('ping', '--url', `redis://someone:${TRICKY}@127.0.0.1:${secured.port}`),
      cli('inspect', '--url', `redis://${PASSWORD}@127.0.0.1:${secured.port}`),
      // Without requirepass, the colon-less userinfo is still sent (as a user name) and refused.
      cli('stats', '--url', `redis://${PASSWORD}@127.0.0.1:${server.port}`),
    ]);
    expectOneLineError(
      tricky,
      1,
      new RegExp(
        `^keyv-failsafe: Redis at redis://\\*\\*\\*@127\\.0\\.0\\.1:${secured.port} refused the credentials: WRONGPASS`,
      ),
    );
    expectNoSecret(tricky, parts);
    for (const run of [userOnly, userOnlyOpen]) {
      expectOneLineError(
        run,
        1,
        /redis:\/\/\*\*\*@127\.0\.0\.1:\d+ refused the credentials: WRONGPASS .*\(the URL has a user name and no password: for a password alone write redis:\/\/:PASSWORD@host:port\)/,
      );
      expectNoSecret(run, [PASSWORD, 'Sup3r', 's3cret']);
    }
  });

  it('valkey:// connects as redis://; valkeys:// speaks TLS; neither prints the password', async () => {
    const [valkey, valkeyAuth, valkeys] = await Promise.all([
      cli('ping', '--url', `valkey://127.0.0.1:${server.port}`, '-n', '1'),
      cli('ping', '--url', `valkey://:${PASSWORD}@127.0.0.1:${secured.port}`, '-n', '1'),
      // redis-server waits for the rest of what it takes for an inline command: the TLS handshake times out.
      cli('ping', '--url', `valkeys://:${PASSWORD}@127.0.0.1:${server.port}`, '--connect-timeout', '300'),
    ]);
    expect(valkey.code).toBe(0);
    expect(valkey.stdout).toMatch(new RegExp(`^PONG from valkey://127\\.0\\.0\\.1:${server.port}: redis \\d`));
    expect(valkeyAuth.code).toBe(0);
    expect(valkeyAuth.stdout).toMatch(new RegExp(`^PONG from valkey://\\*\\*\\*@127\\.0\\.0\\.1:${secured.port}: `));
    expectNoSecret(valkeyAuth, [PASSWORD]);
    expectOneLineError(
      valkeys,
      1,
      new RegExp(
        `^keyv-failsafe: Cannot connect to valkeys://\\*\\*\\*@127\\.0\\.0\\.1:${server.port}: no answer within 300 ms`,
      ),
    );
    expect(valkeys.ms).toBeLessThan(PROMPT_MS);
    expectNoSecret(valkeys, [PASSWORD]);
  });

  it('a query or fragment is not printed (some clients read ?password=; node-redis ignores it)', async () => {
    const run = await cli(
      'ping',
      '--url',
      `redis://127.0.0.1:${server.port}/0?password=${PASSWORD}#${PASSWORD}`,
      '-n',
      '1',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^PONG from redis://127\\.0\\.0\\.1:${server.port}/0: `));
    expectNoSecret(run, [PASSWORD]);
  });

  it("commander's errors quote what was typed: the credentials in it are hidden", async () => {
    const runs = await Promise.all([
      cli('ping', '--url', server.url, `--ulr=redis://:${PASSWORD}@127.0.0.1:6379`),
      cli(`redis://:${PASSWORD}@127.0.0.1:6379`),
      cli('ping', '--url', server.url, '--count', `redis://u:${PASSWORD}@h`),
      cli('ping', '--url', server.url, `redis://:${PASSWORD}@127.0.0.1:6379`),
    ]);
    expect(runs[0]?.stderr).toContain("error: unknown option '--ulr=redis://***@127.0.0.1:6379'");
    expect(runs[1]?.stderr).toContain("error: unknown command 'redis://***@127.0.0.1:6379'");
    expect(runs[2]?.stderr).toContain("argument 'redis://***@h' is invalid");
    expect(runs[3]?.stderr).toContain('error: too many arguments');
    for (const run of runs) {
      expect(run.code).toBe(2);
      expectNoSecret(run, [PASSWORD, 'Sup3r']);
    }
  });

  it('a server that echoes what it was sent (a proxy without AUTH, a hostile server): the password is scrubbed', async () => {
    const echoUnknown = (args: string[]): FakeAnswer =>
      `-ERR unknown command '${args[0]}', with args beginning with: ${args
        .slice(1)
        .map((a) => `'${a}'`)
        .join(' ')}\r\n`;
    const echoPlain = (args: string[]): FakeAnswer => `-ERR cannot ${args.join(' ')} here\r\n`;
    await withFakes([echoUnknown, echoPlain, echoPlain], async ([unknown, plain, short]) => {
      const runs = await Promise.all([
        cli('ping', '--url', `redis://someone:${PASSWORD}@127.0.0.1:${unknown?.port}`),
        cli('ping', '--url', `redis://someone:${encodeURIComponent(TRICKY)}@127.0.0.1:${plain?.port}`),
        // A 3-character password is hidden where it stands as a word of its own.
        cli('ping', '--url', `redis://someone:pw9@127.0.0.1:${short?.port}`),
      ]);
      expectOneLineError(runs[0] as CliRun, 1, /answered the handshake with an error: ERR unknown command 'AUTH'$/m);
      expectOneLineError(
        runs[1] as CliRun,
        1,
        /answered the handshake with an error: ERR cannot AUTH someone \*\*\* here$/m,
      );
      expectOneLineError(runs[2] as CliRun, 1, /ERR cannot AUTH someone \*\*\* here$/m);
      expectNoSecret(runs[0] as CliRun, [PASSWORD, 'Sup3r']);
      expectNoSecret(runs[1] as CliRun, parts);
      expectNoSecret(runs[2] as CliRun, ['pw9']);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Every flag and input, as an attacker and a careless user would type it.
// ---------------------------------------------------------------------------------------------

/** A usage error as commander reports it: its line, the hint, exit 2, no stack. */
function expectUsageError(run: CliRun, pattern: RegExp): void {
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).toMatch(
    /^(error|keyv-failsafe): [^\n]+\n(\(Did you mean \w+\?\)\n)?(\(add --help for usage\)\n)?$/,
  );
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.code).toBe(2);
}

describe.concurrent('flags: a clear one-line usage error (exit 2) for every bad value', () => {
  it('numbers: negative, zero, huge, fractional, exponent, hex, empty, not a number', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['ping', '--count', '-1'], /argument '-1' is invalid\. expected an integer from 1 to 100000/],
      [['ping', '--count', '0'], /argument '0' is invalid\. expected an integer from 1 to 100000/],
      [['ping', '--count', '100001'], /expected an integer from 1 to 100000/],
      [['ping', '--count', '1.5'], /argument '1\.5' is invalid/],
      [['ping', '--count', '1e3'], /argument '1e3' is invalid/],
      [['ping', '--count', '0x10'], /argument '0x10' is invalid/],
      [['ping', '--count', ''], /argument '' is invalid/],
      [['ping', '--count', 'five'], /argument 'five' is invalid/],
      [['ping', '--count', '99999999999999999999999'], /expected an integer from 1 to 100000/],
      // Past 2^31 - 1 ms, Node would fire the timer at once: refused, not silently shortened.
      [
        ['ping', '--timeout', '99999999999'],
        /option '--timeout <ms>' argument '99999999999' is invalid\. expected an integer from 1 to 86400000/,
      ],
      [['ping', '--connect-timeout', '0'], /option '--connect-timeout <ms>' argument '0' is invalid/],
      [['ping', '--max-time', '-5'], /option '--max-time <ms>' argument '-5' is invalid/],
      [
        ['inspect', '--limit', '0'],
        /option '-l, --limit <n>' argument '0' is invalid\. expected an integer from 1 to 1000000/,
      ],
      [['inspect', '--limit', '1000001'], /expected an integer from 1 to 1000000/],
      [['stats', '--max-keys', 'NaN'], /option '--max-keys <n>' argument 'NaN' is invalid/],
      [['stats', '--max-scan-calls', 'Infinity'], /option '--max-scan-calls <n>' argument 'Infinity' is invalid/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(...args, '--url', server.url)));
    for (const [i, [, pattern]] of cases.entries()) expectUsageError(runs[i] as CliRun, pattern);
  });

  it('strings: empty --match, --config, --url; unknown flags and commands; a missing value', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['inspect', '--url', server.url, '--match', ''],
        /option '-m, --match <glob>' argument '' is invalid\. expected a glob/,
      ],
      [
        ['stats', '--url', server.url, '--config', ''],
        /option '-c, --config <file>' argument '' is invalid\. expected a file name/,
      ],
      [
        ['ping', '--url', ''],
        /^keyv-failsafe: Invalid --url \(empty\): expected a redis:\/\/, rediss:\/\/, valkey:\/\/ or valkeys:\/\/ URL\n$/,
      ],
      [['ping', '--url', '   '], /Invalid --url \(empty\)/],
      [['ping', '--url', server.url, '--bogus'], /error: unknown option '--bogus'/],
      [['pong', '--url', server.url], /error: unknown command 'pong'/],
      [['ping', '--url'], /error: option '--url <url>' argument missing/],
      [['stats'], /error: required option '--url <url>' not specified/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(...args)));
    for (const [i, [, pattern]] of cases.entries()) expectUsageError(runs[i] as CliRun, pattern);
  });

  it('--namespace with glob characters and control characters is taken literally and shown escaped', async () => {
    const run = await cli('inspect', '--url', server.url, '--namespace', 'a*[\u001b]?', '--quiet');
    expect(run.code).toBe(0);
    // The namespace is escaped for SCAN MATCH, so it matches nothing of the seeded keys.
    expect(run.stdout).toBe('No keys match "a\\\\*\\\\[\\u001b\\\\]\\\\?::a\\\\*\\\\[\\u001b\\\\]\\\\?:*".\n');
  });
});

describe.concurrent('--config: a file that is not what it should be is a clear usage error', () => {
  const write = async (name: string, text: string | Buffer) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  it('.json configs: data only, checked like the store checks them', async () => {
    // The seeded price:crypto keys live 30 s (their category): on a loaded machine this file can run
    // longer than that, so they are written again here, as the store wrote them.
    for (const [symbol, price] of [
      ['BTC', 64_000],
      ['ETH', 3_100],
    ] as const) {
      await admin.set(`keyv::keyv:price:crypto:${symbol}`, JSON.stringify({ value: price }), { PX: 30_000 });
    }
    const good = await write(
      'ttl.json',
      JSON.stringify({
        categories: { priceCrypto: 30_000 },
        rules: [{ match: 'price:crypto:*', category: 'priceCrypto' }],
      }),
    );
    const notJson = await write('broken.json', 'export default { categories: {} }; // this is not JSON\n');
    // Inherited names (toString, constructor) and __proto__ are not categories of a table.
    const hostile = await write(
      'hostile.json',
      '{"categories": {"__proto__": {"a": 1}, "x": 1000}, "rules": [{"prefix": "price:", "category": "toString"}]}',
    );
    const notObject = await write('array.json', '[1, 2, 3]');
    const huge = await write(
      'huge.json',
      `{"categories": {"a": 1000}, "rules": [], "pad": "${'x'.repeat(1_100_000)}"}`,
    );
    const runs = await Promise.all([
      cli('inspect', '--url', server.url, '--match', 'price:crypto:*', '--config', good, '--json'),
      cli('inspect', '--url', server.url, '--config', notJson),
      cli('stats', '--url', server.url, '--config', hostile),
      cli('stats', '--url', server.url, '--config', notObject),
      cli('stats', '--url', server.url, '--config', huge),
      cli('stats', '--url', server.url, '--config', join(dir, 'missing.json')),
      cli('stats', '--url', server.url, '--config', dir),
    ]);
    const [ok, ...bad] = runs as [CliRun, ...CliRun[]];
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).keys.map((k: { category: string }) => k.category)).toEqual([
      'priceCrypto',
      'priceCrypto',
    ]);
    const expected = [
      /^keyv-failsafe: Cannot load --config .*broken\.json: not valid JSON \(/,
      /^keyv-failsafe: Invalid --config .*hostile\.json: Invalid option `ttl\.categories\.__proto__`/,
      /^keyv-failsafe: Invalid --config .*array\.json: /,
      /^keyv-failsafe: Cannot load --config .*huge\.json: larger than 1048576 bytes/,
      /^keyv-failsafe: Cannot load --config .*missing\.json: ENOENT/,
      /^keyv-failsafe: Cannot load --config /,
    ];
    for (const [i, pattern] of expected.entries()) expectUsageError(bad[i] as CliRun, pattern);
  });

  it('ES modules that throw, hold escape sequences, or never finish loading', async () => {
    const throws = await write('throws.mjs', "throw new Error('bad\\nline \\u001b[31mred');\n");
    const throwsOdd = await write('odd.mjs', 'throw { toString() { throw new Error("no"); } };\n');
    const syntax = await write('syntax.mjs', 'export default {\n');
    const nothing = await write('nothing.mjs', 'export const other = 1;\n');
    // Its top-level await never settles and nothing else keeps Node busy: Node would exit 0 silently.
    const never = await write('never.mjs', 'await new Promise(() => {});\nexport default {};\n');
    // This one keeps a timer running: only --max-time ends the wait, and the process still exits.
    const busy = await write('busy.mjs', 'setInterval(() => {}, 1000);\nawait new Promise(() => {});\n');
    const runs = await Promise.all([
      cli('stats', '--url', server.url, '--config', throws),
      cli('stats', '--url', server.url, '--config', throwsOdd),
      cli('stats', '--url', server.url, '--config', syntax),
      cli('stats', '--url', server.url, '--config', nothing),
      cli('stats', '--url', server.url, '--config', never),
      cli('stats', '--url', server.url, '--config', busy, '--max-time', '700'),
    ]);
    expectUsageError(
      runs[0] as CliRun,
      /^keyv-failsafe: Cannot load --config .*throws\.mjs: bad\\nline \\u001b\[31mred\n$/,
    );
    expectUsageError(
      runs[1] as CliRun,
      /^keyv-failsafe: Cannot load --config .*odd\.mjs: a value that cannot be shown\n$/,
    );
    expectUsageError(
      runs[2] as CliRun,
      /^keyv-failsafe: Cannot load --config .*syntax\.mjs: Unexpected end of input\n$/,
    );
    expectUsageError(runs[3] as CliRun, /exports neither `default` nor `ttl`/);
    expectOneLineError(runs[4] as CliRun, 1, /^keyv-failsafe: stopped before finishing: .*--config/);
    expectUsageError(
      runs[5] as CliRun,
      /^keyv-failsafe: --config .*busy\.mjs did not finish loading within 700 ms \(--max-time\)\n$/,
    );
    for (const run of runs) expect(run.ms).toBeLessThan(PROMPT_MS);
  });
});
