import KeyvRedis, { createClient } from '@keyv/redis';
import { ErrorReply, SimpleError } from '@redis/client';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aclRefusal } from '../adapters/redis-topology.js';
import { RespError, sendCommands } from '../harness/resp.js';
import { type NearCacheStateEvent, TieredStore } from '../src/index.js';
import { HelloDenyingProxy } from './helpers/hello-denying-proxy.js';
import { RedisServer } from './helpers/redis-server.js';
import { everything, payloads, recordEvents, waitForEvent } from './helpers/store-events.js';

// `readPolicy: 'near-cache'` as an ACL user that may not run what invalidations need. node-redis's
// RESP3 handshake with `emitInvalidate` sends `HELLO 3 AUTH <user> <password>` then
// `CLIENT TRACKING ON`; a user denied CLIENT TRACKING (or, on a server that applies ACLs to it,
// HELLO) fails that handshake with NOPERM on every attempt. The store must connect without
// tracking (RESP2, as it does for every other read policy), say `unsupported` and why, and read
// memory-first; any other NOPERM, a wrong password or an outage keeps its usual meaning.

const ADMIN = 'admin-acl-Vx7pQ2';
const USERS = {
  notrack: 'pw-notrack-Hq3zW8',
  nohello: 'pw-nohello-Jd5kL1',
  noselect: 'pw-noselect-Rt6yB4',
  everything: 'pw-all-Mn2cF9',
} as const;
const WRONG = 'wrong-acl-Pb8sE3';
const TRACKING_REASON =
  'CLIENT TRACKING refused: the ACL user may not run CLIENT TRACKING (NOPERM), needed for invalidations: reading memory-first';
const HELLO_REASON =
  'the server refused HELLO 3: the ACL user may not run HELLO (NOPERM), needed for RESP3 and invalidations: reading memory-first';
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const envelope = (value: string) => JSON.stringify({ value });
const physical = (key: string) => `acl::acl:${key}`;

let server: RedisServer;
const url = (user: keyof typeof USERS, password: string = USERS[user], db = '') =>
  `redis://${user}:${encodeURIComponent(password)}@127.0.0.1:${server.port}${db}`;

/** The store's connections as the server lists them (by the name the store sets). */
async function storeConnections(): Promise<string[]> {
  const list = String(await server.command(['CLIENT', 'LIST']));
  return list.split('\n').filter((line) => /\bname=keyv-failsafe\b/.test(line));
}

/** No password of any user, nor the admin's, in anything the store emitted. */
function expectNoPassword(dumped: string): void {
  for (const password of [...Object.values(USERS), ADMIN, WRONG]) expect(dumped).not.toContain(password);
}

beforeAll(async () => {
  server = await RedisServer.start({ password: ADMIN });
  const user = (name: keyof typeof USERS, ...rules: string[]) =>
    server.command(['ACL', 'SETUSER', name, 'on', `>${USERS[name]}`, '~*', '&*', '+@all', ...rules]);
  await user('notrack', '-client|tracking');
  await user('nohello', '-hello');
  await user('noselect', '-select');
  await user('everything');
});
afterAll(async () => {
  await server?.stop();
});

describe('a user without client|tracking', () => {
  it("this server's own refusal is recognised (Redis 7.0 says `this user`, 7.2+ names the user)", async () => {
    // As the store meets it: authenticated as the user, CLIENT TRACKING ON (a harness connection).
    const [auth, tracking] = await sendCommands(
      server.port,
      [
        ['AUTH', 'notrack', USERS.notrack],
        ['CLIENT', 'TRACKING', 'ON'],
      ],
      { timeoutMs: 2_000 },
    );
    expect(auth).toBe('OK');
    expect(tracking).toBeInstanceOf(RespError);
    const message = (tracking as RespError).message;
    expect(message).toMatch(/^NOPERM .*'client\|tracking'/);
    expect(aclRefusal(new SimpleError(message))).toBe('client|tracking');
    // A user denied HELLO runs it all the same (see below): HELLO 2 answers, no NOPERM.
    const [, hello] = await sendCommands(
      server.port,
      [
        ['AUTH', 'nohello', USERS.nohello],
        ['HELLO', '2'],
      ],
      {
        timeoutMs: 2_000,
      },
    );
    expect(hello).toBeInstanceOf(Array);
  });

  it('connects over RESP2, says `unsupported` naming the permission, and serves from Redis', async () => {
    const store = new TieredStore({ primary: url('notrack'), readPolicy: 'near-cache', memoryTtlMs: 300 });
    const events = recordEvents(store);
    const keyv = new Keyv({ store, namespace: 'acl' });
    try {
      expect(await keyv.set('k', 'v1')).toBe(true);
      expect(String(await server.command(['GET', physical('k')]))).toBe(envelope('v1'));
      expect(await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state')).toEqual({
        state: 'unsupported',
        reason: TRACKING_REASON,
      });
      expect(store.nearCacheState).toBe('unsupported');
      // One connection, the user's, in RESP2 without tracking; the refused RESP3 one left nothing.
      const connections = await storeConnections();
      expect(connections).toHaveLength(1);
      expect(connections[0]).toMatch(/\buser=notrack\b/);
      expect(connections[0]).toMatch(/\bresp=2\b/);
      expect(connections[0]).not.toMatch(/\bflags=\S*t/);
      // The refused handshake is no outage: one `ready`, the breaker closed, no failure.
      expect(payloads(events, 'primary:connection')).toEqual([{ state: 'ready' }]);
      expect(payloads(events, 'primary:failure')).toEqual([]);
      expect(store.circuitState).toBe('closed');
      // memory-first: a change made elsewhere is seen once the copy is older than memoryTtlMs.
      await server.command(['SET', physical('k'), envelope('v2')]);
      expect(await keyv.get('k')).toBe('v1');
      await sleep(350);
      expect(await keyv.get('k')).toBe('v2');
      expect(await keyv.delete('k')).toBe(true);
      expect(payloads(events, 'near-cache:state')).toHaveLength(1);
      expectNoPassword(everything(events));
    } finally {
      await store.disconnect();
    }
  });

  it("an application's own RESP3 client is left as it is: down with the store's words, `unsupported`", async () => {
    const client = createClient({ url: url('notrack'), RESP: 3, emitInvalidate: true });
    const store = new TieredStore({
      primary: new KeyvRedis(client as unknown as ConstructorParameters<typeof KeyvRedis>[0]),
      readPolicy: 'near-cache',
      operationTimeoutMs: 200,
    });
    const events = recordEvents(store);
    try {
      expect(await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state')).toEqual({
        state: 'unsupported',
        reason: TRACKING_REASON,
      });
      const down = await waitForEvent<{ state: string; error?: { message?: string } }>(events, 'primary:connection');
      expect(down.state).toBe('down');
      expect(down.error?.message).toMatch(/may not run CLIENT TRACKING \(NOPERM\).*build it without emitInvalidate/);
      expectNoPassword(everything(events));
    } finally {
      await store.disconnect();
    }
  });

  it('a wrong password is authentication, never `unsupported`; no password anywhere', async () => {
    const store = new TieredStore({
      primary: url('notrack', WRONG),
      readPolicy: 'near-cache',
      operationTimeoutMs: 200,
    });
    const events = recordEvents(store);
    try {
      const down = await waitForEvent<{ state: string; error?: { code?: string; message?: string } }>(
        events,
        'primary:connection',
      );
      expect(down).toMatchObject({ state: 'down', error: { code: 'E_PRIMARY_AUTH' } });
      expect(down.error?.message).toMatch(/WRONGPASS/);
      // Several reconnect attempts later: still RESP3 attempts, refused for their credentials only.
      await sleep(400);
      expect(payloads<NearCacheStateEvent>(events, 'near-cache:state').map((e) => e.state)).not.toContain(
        'unsupported',
      );
      expect(await store.set(physical('w'), '"v"')).toBe(false);
      expect(store.circuitState).toBe('open');
      expectNoPassword(everything(events));
    } finally {
      await store.disconnect();
    }
  });
});

describe('a user without hello', () => {
  it('on Redis itself, goes `live`: Redis applies no ACL to HELLO (nor AUTH), which run before authentication', async () => {
    const store = new TieredStore({ primary: url('nohello'), readPolicy: 'near-cache' });
    const events = recordEvents(store);
    try {
      expect(await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state')).toEqual({
        state: 'live',
        reason: 'armed',
      });
      const connections = await storeConnections();
      expect(connections).toHaveLength(1);
      expect(connections[0]).toMatch(/\buser=nohello\b.*\bresp=3\b/);
    } finally {
      await store.disconnect();
    }
  });

  it('where HELLO is refused with NOPERM: connects over RESP2 (AUTH user password), `unsupported` naming it', async () => {
    const proxy = await HelloDenyingProxy.start(server.port);
    const store = new TieredStore({
      primary: proxy.url(`nohello:${USERS.nohello}@`),
      readPolicy: 'near-cache',
    });
    const events = recordEvents(store);
    try {
      expect(await store.set(physical('h'), '"v"')).toBe(true);
      expect(String(await server.command(['GET', physical('h')]))).toBe('"v"');
      expect(await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state')).toEqual({
        state: 'unsupported',
        reason: HELLO_REASON,
      });
      // One HELLO (never again), then the RESP2 connection, the user's.
      expect(proxy.seen).toEqual({ hello: 1, forwarded: 1 });
      const connections = await storeConnections();
      expect(connections).toHaveLength(1);
      expect(connections[0]).toMatch(/\buser=nohello\b.*\bresp=2\b/);
      expect(payloads(events, 'primary:connection')).toEqual([{ state: 'ready' }]);
      expect(store.circuitState).toBe('closed');
      expectNoPassword(everything(events));
    } finally {
      await store.disconnect();
      await proxy.close();
    }
  });
});

describe('what keeps its meaning', () => {
  it('a NOPERM for another command of the handshake (SELECT) is authentication, never `unsupported`', async () => {
    const store = new TieredStore({
      primary: url('noselect', USERS.noselect, '/1'),
      readPolicy: 'near-cache',
      operationTimeoutMs: 200,
    });
    const events = recordEvents(store);
    try {
      const down = await waitForEvent<{ state: string; error?: { code?: string; message?: string } }>(
        events,
        'primary:connection',
      );
      expect(down).toMatchObject({ state: 'down', error: { code: 'E_PRIMARY_AUTH' } });
      expect(down.error?.message).toMatch(/NOPERM.*'select'/);
      await sleep(300);
      expect(payloads<NearCacheStateEvent>(events, 'near-cache:state').map((e) => e.state)).not.toContain(
        'unsupported',
      );
      expect(await store.set(physical('s'), '"v"')).toBe(false);
      expectNoPassword(everything(events));
    } finally {
      await store.disconnect();
    }
  });

  it('a user allowed everything goes `live`, over RESP3 with tracking', async () => {
    const store = new TieredStore({ primary: url('everything'), readPolicy: 'near-cache' });
    const events = recordEvents(store);
    try {
      expect(await waitForEvent<NearCacheStateEvent>(events, 'near-cache:state')).toEqual({
        state: 'live',
        reason: 'armed',
      });
      const connections = await storeConnections();
      expect(connections).toHaveLength(1);
      expect(connections[0]).toMatch(/\buser=everything\b.*\bresp=3\b/);
      expect(connections[0]).toMatch(/\bflags=\S*t/);
    } finally {
      await store.disconnect();
    }
  });
});

describe('which NOPERM replies mean "no invalidations for this user" (only HELLO and CLIENT TRACKING)', () => {
  it.each([
    ["NOPERM this user has no permissions to run the 'client|tracking' command", 'client|tracking'],
    ["NOPERM User app has no permissions to run the 'client|tracking' command", 'client|tracking'],
    ["NOPERM this user has no permissions to run the 'hello' command", 'hello'],
    ["NOPERM User app has no permissions to run the 'HELLO' command", 'hello'],
  ])('%s: %s', (message, command) => {
    expect(aclRefusal(new SimpleError(message))).toBe(command);
    expect(aclRefusal(new ErrorReply(message))).toBe(command);
  });

  it.each([
    "NOPERM this user has no permissions to run the 'select' command",
    "NOPERM User app has no permissions to run the 'client|setname' command",
    // Redis 6 names the command only: CLIENT TRACKING or another subcommand, it cannot be told.
    "NOPERM this user has no permissions to run the 'client' command or its subcommand",
    "NOPERM User app has no permissions to run the 'get' command",
    'NOPERM No permissions to access a key',
    "NOPERM User x'hello' has no permissions to run the 'get' command",
    'WRONGPASS invalid username-password pair or user is disabled.',
    'NOAUTH HELLO must be called with the client already authenticated',
    "ERR unknown command 'HELLO'",
  ])('%s: not one', (message) => {
    expect(aclRefusal(new SimpleError(message))).toBeUndefined();
  });

  it('a connection problem is never one, whatever its text', () => {
    expect(aclRefusal(new Error("NOPERM this user has no permissions to run the 'hello' command"))).toBeUndefined();
    expect(aclRefusal("NOPERM this user has no permissions to run the 'hello' command")).toBeUndefined();
    expect(aclRefusal(undefined)).toBeUndefined();
  });
});
