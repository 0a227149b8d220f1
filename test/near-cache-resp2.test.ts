import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorReply, SimpleError } from '@redis/client';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resp3Refusal } from '../adapters/redis-topology.js';
import { type NearCacheStateEvent, TieredStore } from '../src/index.js';
import { runScript } from './helpers/exit-check.js';
import { RedisServer } from './helpers/redis-server.js';
import { everything, recordEvents, waitForEvent } from './helpers/store-events.js';

// `readPolicy: 'near-cache'` on a server without HELLO (Redis before 6, or a proxy or managed
// service that renames or blocks it; here `--rename-command HELLO ""` on a real redis-server).
// node-redis's RESP3 handshake (`HELLO 3`) is refused there: the store must connect over RESP2,
// say `unsupported` and read `memory-first`, with every other guarantee as on any primary, and
// never mistake a wrong password for "no RESP3" nor print one.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NO_HELLO = ['--rename-command', 'HELLO', ''];
const PASSWORD = 'pw-resp2-Zq8mX3';
const WRONG = 'wrong-resp2-Kf4nR7';
const MEMORY_TTL_MS = 500;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** The store's connections as the server lists them (`CLIENT LIST`, by the name the store sets). */
async function storeConnections(server: RedisServer): Promise<string[]> {
  const list = String(await server.command(['CLIENT', 'LIST']));
  return list.split('\n').filter((line) => /\bname=keyv-failsafe\b/.test(line));
}

const physical = (key: string) => `r2::r2:${key}`;
/** Keyv 5's serialized form of a value without a TTL. */
const envelope = (value: string) => JSON.stringify({ value });

describe('near-cache on a server that refuses HELLO', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await RedisServer.start(NO_HELLO);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('connects over RESP2, says `unsupported` with the reason, and reads memory-first from Redis', async () => {
    const store = new TieredStore({ primary: server.url, readPolicy: 'near-cache', memoryTtlMs: MEMORY_TTL_MS });
    const events = recordEvents(store);
    const keyv = new Keyv({ store, namespace: 'r2' });
    try {
      expect(await keyv.set('k', 'v1')).toBe(true);
      expect(String(await server.command(['GET', physical('k')]))).toBe(envelope('v1'));
      const state = await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state');
      expect(state).toEqual({
        state: 'unsupported',
        reason:
          "the server refused HELLO 3 (RESP3), needed for invalidations: reading memory-first (unknown command 'HELLO')",
      });
      expect(store.nearCacheState).toBe('unsupported');
      expect(store.stats().nearCache.state).toBe('unsupported');
      // One connection, in RESP2, without tracking; the RESP3 attempt left none behind.
      const connections = await storeConnections(server);
      expect(connections).toHaveLength(1);
      expect(connections[0]).toMatch(/\bresp=2\b/);
      expect(connections[0]).not.toMatch(/\bflags=\S*t/);
      // The first connection, ready, is the only one reported: the refused handshake is not an outage.
      expect(events.filter((e) => e.name === 'primary:connection').map((e) => e.payload)).toEqual([{ state: 'ready' }]);
      expect(store.circuitState).toBe('closed');

      // memory-first: a change by another client is served stale from memory (no call to Redis)...
      expect(await keyv.get('k')).toBe('v1');
      await server.command(['SET', physical('k'), envelope('v2')]);
      const changedAt = performance.now();
      expect(await keyv.get('k')).toBe('v1');
      // ...until the copy (made by the set) is older than memoryTtlMs: then Redis answers.
      let value: unknown;
      do {
        await sleep(10);
        value = await keyv.get('k');
      } while (value !== 'v2' && performance.now() - changedAt < 2_000);
      const seenAfterMs = performance.now() - changedAt;
      expect(value).toBe('v2');
      // Within memoryTtlMs, plus scheduling slack.
      expect(seenAfterMs).toBeLessThan(MEMORY_TTL_MS + 150);
      expect(store.stats().hits.memory).toBeGreaterThan(0);
      expect(store.stats().nearCache.verifiedHits).toBe(0);
      expect(events.filter((e) => e.name === 'near-cache:state')).toHaveLength(1);
      expect(events.filter((e) => e.name === 'primary:failure')).toEqual([]);
    } finally {
      await store.disconnect();
    }
  });

  it('a kill and a restart of the server are ridden out as on any primary; nothing is left running after', async () => {
    const before = process.getActiveResourcesInfo();
    const store = new TieredStore({
      primary: server.url,
      readPolicy: 'near-cache',
      memoryTtlMs: MEMORY_TTL_MS,
      operationTimeoutMs: 100,
    });
    const events = recordEvents(store);
    const keyv = new Keyv({ store, namespace: 'r2' });
    try {
      expect(await keyv.set('outage', 'v1')).toBe(true);
      await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state', (e) => e.state === 'unsupported');
      await server.kill();
      await waitForEvent<{ to: string }>(events, 'circuit:state', (e) => e.to === 'open');
      // Memory answers, at once, while Redis is gone; a write is kept in memory and reported false.
      const started = performance.now();
      expect(await keyv.get('outage')).toBe('v1');
      expect(await keyv.set('outage', 'v2')).toBe(false);
      expect(await keyv.get('outage')).toBe('v2');
      expect(performance.now() - started).toBeLessThan(150);

      await server.restart();
      await waitForEvent<{ to: string }>(events, 'circuit:state', (e) => e.to === 'closed', 10_000);
      // The reconnection is RESP2 again (no new HELLO attempt), and Redis serves again.
      const connections = await storeConnections(server);
      expect(connections).toHaveLength(1);
      expect(connections[0]).toMatch(/\bresp=2\b/);
      expect(await keyv.set('after', 'v3')).toBe(true);
      expect(String(await server.command(['GET', physical('after')]))).toBe(envelope('v3'));
      await server.command(['SET', physical('fresh'), envelope('from-redis')]);
      expect(await keyv.get('fresh')).toBe('from-redis');
      expect(events.filter((e) => e.name === 'near-cache:state')).toHaveLength(1);
    } finally {
      await store.disconnect();
    }
    // No socket and no timer keeps the process alive (unref'd timers are not listed).
    await sleep(50);
    const count = (list: string[], type: string) => list.filter((r) => r === type).length;
    const after = process.getActiveResourcesInfo();
    for (const type of ['TCPSocketWrap', 'TCPWRAP', 'Timeout']) {
      expect(count(after, type)).toBeLessThanOrEqual(count(before, type));
    }
  }, 20_000);

  it('a process that used the store and disconnected it during an outage exits on its own', async () => {
    // In the child: the store through a proxy, an outage (connections reset, then black-holed:
    // reconnections hang until their connect timeout), a read from memory, disconnect() mid-outage.
    const script = `
      import { TieredStore } from './src/index.ts';
      import { TcpProxy } from './harness/tcp-proxy.ts';
      const proxy = await TcpProxy.start(Number(process.env.REDIS_PORT));
      const store = new TieredStore({ primary: proxy.url, readPolicy: 'near-cache', operationTimeoutMs: 100 });
      const state = await new Promise((done) => store.once('near-cache:state', done));
      const set = await store.set('exit', '"v"');
      const opened = new Promise((done) => store.on('circuit:state', (e) => e.to === 'open' && done()));
      proxy.setMode('blackhole');
      proxy.resetAll();
      await opened;
      const got = await store.get('exit');
      await new Promise((done) => setTimeout(done, 200));
      await store.disconnect();
      await proxy.close();
      process.stdout.write(JSON.stringify({ state: state.state, set, got, circuit: store.circuitState }) + '\\n');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, REDIS_PORT: String(server.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let doneAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      doneAt ??= performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        done(exitCode);
      });
    });
    const exitedAfterMs = performance.now() - (doneAt ?? Number.NaN);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toEqual({ state: 'unsupported', set: true, got: '"v"', circuit: 'open' });
    // Exited as soon as the script ended: nothing of the store kept it (a SIGKILL at 10 s otherwise).
    expect(exitedAfterMs).toBeLessThan(1_000);
  }, 20_000);
});

describe('credentials on a server that refuses HELLO (`HELLO 3 AUTH` quotes the password in its refusal)', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await RedisServer.start({ args: NO_HELLO, password: PASSWORD });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('the right password: connects over RESP2; the password is in no event, reason or error', async () => {
    const store = new TieredStore({ primary: server.urlWith(), readPolicy: 'near-cache' });
    const events = recordEvents(store);
    try {
      expect(await store.set('r2::r2:pw', '"v"')).toBe(true);
      expect(String(await server.command(['GET', 'r2::r2:pw']))).toBe('"v"');
      await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state', (e) => e.state === 'unsupported');
      await waitForEvent(events, 'primary:connection');
      expect(events.filter((e) => e.name === 'primary:connection').map((e) => e.payload)).toEqual([{ state: 'ready' }]);
      expect(everything(events)).not.toContain(PASSWORD);
    } finally {
      await store.disconnect();
    }
  });

  it('a wrong password: reported as authentication, not as protocol; no password anywhere', async () => {
    const store = new TieredStore({
      primary: server.urlWith(WRONG),
      readPolicy: 'near-cache',
      operationTimeoutMs: 200,
    });
    const events = recordEvents(store);
    try {
      const down = await waitForEvent<{ state: string; error?: { code?: string; name?: string; message?: string } }>(
        events,
        'primary:connection',
      );
      expect(down.state).toBe('down');
      expect(down.error).toMatchObject({ name: 'PrimaryAuthError', code: 'E_PRIMARY_AUTH' });
      expect(down.error?.message).toMatch(/WRONGPASS/);
      expect(down.error?.message).not.toMatch(/HELLO|RESP/);
      // The server does refuse HELLO, whatever the password: the near-cache says so, apart.
      expect(store.nearCacheState).toBe('unsupported');
      // Calls go to memory, as with any wrong password (the connection is down: the breaker is open).
      expect(await store.set('r2::r2:pw', '"v"')).toBe(false);
      expect(await store.get('r2::r2:pw')).toBe('"v"');
      expect(store.circuitState).toBe('open');
      await sleep(300);
      expect(everything(events.filter((e) => e.name !== 'near-cache:state'))).not.toMatch(/HELLO|RESP3/);
      const printed = everything(events);
      expect(printed).not.toContain(WRONG);
      expect(printed).not.toContain(PASSWORD);
    } finally {
      await store.disconnect();
    }
  });
});

describe('a server that has HELLO (Redis 6+)', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await RedisServer.start({ password: PASSWORD });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('still goes `live`, over RESP3 with tracking', async () => {
    const store = new TieredStore({ primary: server.urlWith(), readPolicy: 'near-cache' });
    const events = recordEvents(store);
    try {
      expect(await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state')).toEqual({
        state: 'live',
        reason: 'armed',
      });
      const connections = await storeConnections(server);
      expect(connections).toHaveLength(1);
      expect(connections[0]).toMatch(/\bresp=3\b/);
      expect(connections[0]).toMatch(/\bflags=\S*t/);
    } finally {
      await store.disconnect();
    }
  });

  it('a wrong password is authentication, never a downgrade: no `unsupported`, the password nowhere', async () => {
    const store = new TieredStore({ primary: server.urlWith(WRONG), readPolicy: 'near-cache' });
    const events = recordEvents(store);
    try {
      const down = await waitForEvent<{ state: string; error?: { code?: string } }>(events, 'primary:connection');
      expect(down).toMatchObject({ state: 'down', error: { code: 'E_PRIMARY_AUTH' } });
      // Several reconnect attempts later, still RESP3 attempts refused for their credentials only.
      await sleep(400);
      expect(
        events.filter(
          (e) => e.name === 'near-cache:state' && (e.payload as NearCacheStateEvent).state === 'unsupported',
        ),
      ).toEqual([]);
      expect(store.nearCacheState).not.toBe('unsupported');
      // Put right, the same store connects in RESP3 and goes live.
      await server.setPassword(WRONG);
      await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state', (e) => e.state === 'live');
      expect(everything(events)).not.toContain(WRONG);
    } finally {
      await store.disconnect();
      await server.setPassword(PASSWORD);
    }
  });
});

describe('what counts as a refusal of HELLO 3 (only the server saying it does not know it)', () => {
  it.each([
    // Redis 6+ with HELLO renamed, and before 6 (backquotes), arguments quoted after.
    [
      "ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' 'pw-Zq8' ",
      "unknown command 'HELLO'",
    ],
    [
      'ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `default`, `pw-Zq8`, ',
      "unknown command 'HELLO'",
    ],
    ["ERR unknown command 'hello'", "unknown command 'HELLO'"],
    // Proxies: Envoy, redis-cluster-proxy; a server that knows HELLO but not protocol 3.
    ["unsupported command 'HELLO'", "unsupported command 'HELLO'"],
    ['ERR unsupported command `hello`', "unsupported command 'HELLO'"],
    ['NOPROTO sorry, this protocol version is not supported', 'NOPROTO'],
  ])('%s: refused (%s), without the arguments', (message, what) => {
    expect(resp3Refusal(new SimpleError(message))).toBe(what);
    expect(resp3Refusal(new ErrorReply(message))).toBe(what);
  });

  it.each([
    'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used',
    'WRONGPASS invalid username-password pair or user is disabled.',
    "NOPERM User app has no permissions to run the 'hello' command",
    'LOADING Redis is loading the dataset in memory',
    "ERR unknown command 'CLIENT', with args beginning with: 'TRACKING' ",
    'ERR Syntax error in HELLO option',
  ])('%s: not a refusal of RESP3', (message) => {
    expect(resp3Refusal(new SimpleError(message))).toBeUndefined();
  });

  it('a connection problem is never one, whatever its text', () => {
    expect(resp3Refusal(new Error("ERR unknown command 'HELLO'"))).toBeUndefined();
    expect(
      resp3Refusal(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
    ).toBeUndefined();
    expect(resp3Refusal("ERR unknown command 'HELLO'")).toBeUndefined();
    expect(resp3Refusal(undefined)).toBeUndefined();
  });
});

describe('disconnect() while a connection is in flight leaves nothing behind (the process exits on its own)', () => {
  // node-redis's destroy() cannot reach a socket that is still connecting: that connection would
  // complete after disconnect(), closed for the client but open on the wire, and keep the process
  // alive. Each script ends by printing how many of the store's connections the server still
  // lists (by the store's client name), and must then exit by itself, at once.
  const countConnections = `
    import { command } from './harness/resp.ts';
    const storeConnections = async () =>
      String(await command(Number(process.env.REDIS_PORT), ['CLIENT', 'LIST'], { timeoutMs: 2_000 }))
        .split('\\n').filter((line) => /\\bname=keyv-failsafe\\b/.test(line)).length;
  `;
  /** What the script printed (a script killed for not exiting has printed it too). */
  const printed = (exit: { out: string }): unknown => (exit.out === '' ? undefined : JSON.parse(exit.out));
  const settle = (ms: number) => `await new Promise((done) => setTimeout(done, ${ms}));`;

  let server: RedisServer;
  let noHello: RedisServer;
  beforeAll(async () => {
    [server, noHello] = await Promise.all([RedisServer.start(), RedisServer.start(NO_HELLO)]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), noHello?.stop()]);
  });

  it('right after construction (the TCP connect not done yet), and while the handshake is held', async () => {
    const script = `
      import { TieredStore } from './src/index.ts';
      import { TcpProxy } from './harness/tcp-proxy.ts';
      ${countConnections}
      const url = 'redis://127.0.0.1:' + process.env.REDIS_PORT;
      // Disconnected in the same tick as constructed: both connects are still in flight.
      const plain = new TieredStore({ primary: url });
      const near = new TieredStore({ primary: url, readPolicy: 'near-cache' });
      await Promise.all([plain.disconnect(), near.disconnect()]);
      // Through a proxy that holds the handshake (the TCP connect done, HELLO unanswered).
      const proxy = await TcpProxy.start(Number(process.env.REDIS_PORT));
      proxy.setMode('pause');
      const held = new TieredStore({ primary: proxy.url, readPolicy: 'near-cache' });
      ${settle(100)}
      await held.disconnect();
      proxy.setMode('pass');
      ${settle(300)}
      await proxy.close();
      process.stdout.write(JSON.stringify({ left: await storeConnections() }) + '\\n');
    `;
    const exit = await runScript(script, { REDIS_PORT: String(server.port) });
    expect({ code: exit.code, err: exit.err, printed: printed(exit) }).toEqual({
      code: 0,
      err: '',
      printed: { left: 0 },
    });
    expect(exit.exitedAfterMs).toBeLessThan(500);
  }, 15_000);

  it('while the TCP connect itself is held (SYN dropped: the server accepts late)', async () => {
    // A hung server whose accept queue is full drops SYNs; resumed, it accepts the client's next
    // SYN (retransmitted about 1 s after the first). The store is disconnected in between.
    const slow = await RedisServer.start(['--tcp-backlog', '1']);
    const fillers: Socket[] = [];
    try {
      slow.hang();
      for (let held = false; !held && fillers.length < 16; ) {
        const socket = new Socket().on('error', () => {});
        fillers.push(socket);
        held = !(await new Promise<boolean>((done) => {
          socket.once('connect', () => done(true));
          setTimeout(() => done(false), 100);
          socket.connect(slow.port, '127.0.0.1');
        }));
      }
      const script = `
        import { TieredStore } from './src/index.ts';
        ${countConnections}
        const store = new TieredStore({ primary: 'redis://127.0.0.1:' + process.env.REDIS_PORT, connectTimeoutMs: 5_000 });
        ${settle(100)}
        await store.disconnect();
        process.kill(Number(process.env.REDIS_PID), 'SIGCONT');
        // Past the SYN's retransmission: a connect left in flight would have completed by now.
        ${settle(1_600)}
        process.stdout.write(JSON.stringify({ left: await storeConnections() }) + '\\n');
      `;
      const exit = await runScript(script, { REDIS_PORT: String(slow.port), REDIS_PID: String(slow.pid) });
      expect({ code: exit.code, err: exit.err, printed: printed(exit) }).toEqual({
        code: 0,
        err: '',
        printed: { left: 0 },
      });
      expect(exit.exitedAfterMs).toBeLessThan(500);
    } finally {
      for (const socket of fillers) socket.destroy();
      await slow.stop();
    }
  }, 15_000);

  it('right after `near-cache:state` `unsupported` (the RESP2 twin is connecting)', async () => {
    const script = `
      import { TieredStore } from './src/index.ts';
      ${countConnections}
      const store = new TieredStore({ primary: 'redis://127.0.0.1:' + process.env.REDIS_PORT, readPolicy: 'near-cache' });
      const state = await new Promise((done) => store.once('near-cache:state', done));
      await store.disconnect();
      ${settle(300)}
      process.stdout.write(JSON.stringify({ state: state.state, left: await storeConnections() }) + '\\n');
    `;
    const exit = await runScript(script, { REDIS_PORT: String(noHello.port) });
    expect({ code: exit.code, err: exit.err, printed: printed(exit) }).toEqual({
      code: 0,
      err: '',
      printed: { state: 'unsupported', left: 0 },
    });
    expect(exit.exitedAfterMs).toBeLessThan(500);
  });
});
