// Fake Redis servers for what no real one does (hostile or broken replies), written with node:net.
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';

/** What a fake server does with one command: bytes to send, nothing (silence), or its own doing. */
export type FakeAnswer = string | Buffer | undefined | ((socket: Socket) => void);

export interface FakeRedis {
  readonly url: string;
  readonly port: number;
  /** Every command received, as text. */
  readonly commands: string[][];
  close(): void;
}

/** The commands in `buffer` (RESP arrays of bulk strings, as node-redis sends), and the unparsed rest. */
export function parseCommands(buffer: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const header = buffer.indexOf('\r\n', at);
    if (header < 0) break;
    const count = Number(buffer.subarray(at + 1, header).toString());
    const args: string[] = [];
    let next = header + 2;
    for (let i = 0; i < count; i++) {
      const lengthEnd = buffer.indexOf('\r\n', next);
      if (lengthEnd < 0) return { commands, rest: buffer.subarray(at) };
      const length = Number(buffer.subarray(next + 1, lengthEnd).toString());
      if (lengthEnd + 4 + length > buffer.length) return { commands, rest: buffer.subarray(at) };
      args.push(buffer.subarray(lengthEnd + 2, lengthEnd + 2 + length).toString());
      next = lengthEnd + 4 + length;
    }
    commands.push(args);
    at = next;
  }
  return { commands, rest: buffer.subarray(at) };
}

/**
 * Starts a fake server on a free port: each command is answered by `answer`, except the handshake
 * commands named in `handshake` (by default `CLIENT ...`), which get `+OK`.
 */
export async function fakeRedis(
  answer: (args: string[]) => FakeAnswer,
  handshake: readonly string[] = ['CLIENT'],
): Promise<FakeRedis> {
  const commands: string[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      const parsed = parseCommands(Buffer.concat([pending, data]));
      pending = parsed.rest;
      for (const args of parsed.commands) {
        commands.push(args);
        const reply = handshake.includes(args[0]?.toUpperCase() ?? '') ? '+OK\r\n' : answer(args);
        if (typeof reply === 'function') reply(socket);
        else if (reply !== undefined && !socket.destroyed) socket.write(reply);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    commands,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** Runs `fn` with fake servers, closing them whatever happens. */
export async function withFakes<T>(
  answers: Array<(args: string[]) => FakeAnswer>,
  fn: (fakes: FakeRedis[]) => Promise<T>,
  handshake?: readonly string[],
): Promise<T> {
  const fakes = await Promise.all(answers.map((answer) => fakeRedis(answer, handshake)));
  try {
    return await fn(fakes);
  } finally {
    for (const fake of fakes) fake.close();
  }
}
