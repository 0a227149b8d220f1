import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisServer } from './helpers/redis-server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

// The proxy's `delay` mode, which the benchmark's "Redis 1 ms / 5 ms away" rows rest on: bytes
// keep their order (with jitter too), and a round trip costs at least the round trip asked for.
// Only floors are asserted: how much more it costs depends on the machine's load.

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TCP server that sends back what it receives: ordering is about bytes, not about Redis. */
async function echoServer(): Promise<Server> {
  const server = createServer((socket) => socket.pipe(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return server;
}

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await TcpProxy.start(port);
  cleanups.push(() => proxy.close());
  return proxy;
}

async function connect(port: number): Promise<Socket> {
  const socket = new Socket();
  socket.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  cleanups.push(() => socket.destroy());
  return socket;
}

/** Resolves with everything `socket` received once it holds `bytes` bytes. */
function receive(socket: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= bytes) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
  });
}

const portOf = (server: Server): number => {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
};

describe('TcpProxy delay mode', () => {
  it('keeps byte order both ways, with jitter, over many small writes', async () => {
    const proxy = await proxyTo(portOf(await echoServer()));
    proxy.setLatency(4, { jitterMs: 6 });
    const socket = await connect(proxy.port);
    // Numbered lines, written one by one over a few milliseconds, so that they get different jitter.
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i}\n`);
    const expected = lines.join('');
    const echoed = receive(socket, Buffer.byteLength(expected));
    for (const [i, line] of lines.entries()) {
      socket.write(line);
      if (i % 40 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect((await echoed).toString()).toBe(expected);
  });

  it('a PING to a real redis-server takes at least the round trip asked for, every time', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const proxy = await proxyTo(server.port);
    const socket = await connect(proxy.port);
    const rttMs = 12;
    proxy.setLatency(rttMs);
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = receive(socket, '+PONG\r\n'.length);
      const started = performance.now();
      socket.write('*1\r\n$4\r\nPING\r\n');
      expect((await reply).toString()).toBe('+PONG\r\n');
      took.push(performance.now() - started);
    }
    for (const ms of took) expect(ms).toBeGreaterThanOrEqual(rttMs);
  });

  it('back to pass: chunks still on their way are not overtaken by the ones sent after', async () => {
    const proxy = await proxyTo(portOf(await echoServer()));
    const socket = await connect(proxy.port);
    proxy.setLatency(60);
    const echoed = receive(socket, 'delayed,immediate'.length);
    socket.write('delayed,');
    // Let the first chunk reach the proxy and queue there before the mode changes.
    await new Promise((resolve) => setTimeout(resolve, 10));
    proxy.setMode('pass');
    socket.write('immediate');
    expect((await echoed).toString()).toBe('delayed,immediate');
  });

  it('rejects a negative or non-finite round trip or jitter, naming the value', async () => {
    const proxy = await proxyTo(portOf(await echoServer()));
    expect(() => proxy.setLatency(-1)).toThrow(/rttMs must be 0 or more, got -1/);
    expect(() => proxy.setLatency(Number.NaN)).toThrow(/got NaN/);
    expect(() => proxy.setLatency(1, { jitterMs: -2 })).toThrow(/jitterMs must be 0 or more, got -2/);
  });
});
