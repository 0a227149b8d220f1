import { Socket } from 'node:net';

/**
 * A minimal RESP2 client, one connection per batch. The harness needs a client that shares no code
 * or connection state with any library under test: the probe that decides whether a library is back
 * must write to Redis without going through a client that might itself be queued or reconnecting.
 */

export class RespError extends Error {
  override readonly name = 'RespError';
}

export type RespReply = string | number | null | RespError | RespReply[];

/** Parses one reply starting at `offset`; undefined while the buffer holds only part of it. */
function parseReply(buffer: Buffer, offset: number): [RespReply, number] | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const kind = String.fromCharCode(buffer[offset] as number);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (kind) {
    case '+':
      return [line, next];
    case '-':
      return [new RespError(line), next];
    case ':':
      return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return undefined;
      return [buffer.toString('utf8', next, next + length), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RespReply[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const parsed = parseReply(buffer, cursor);
        if (parsed === undefined) return undefined;
        items.push(parsed[0]);
        cursor = parsed[1];
      }
      return [items, cursor];
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(kind)}`);
  }
}

function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

export interface RespOptions {
  readonly password?: string | undefined;
  /** The whole batch, connect included, must finish within this. */
  readonly timeoutMs: number;
}

/**
 * Sends `commands` pipelined on a fresh connection (after `AUTH` when a password is given) and
 * resolves with one reply per command; a server error is returned as a `RespError`, not thrown.
 * Rejects on a connection problem or when `timeoutMs` passes.
 */
export function sendCommands(
  port: number,
  commands: readonly (readonly string[])[],
  options: RespOptions,
): Promise<RespReply[]> {
  const batch = options.password === undefined ? commands : [['AUTH', options.password], ...commands];
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    const replies: RespReply[] = [];
    let buffer: Buffer = Buffer.alloc(0);
    let offset = 0;
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) {
        reject(error);
        return;
      }
      const own = options.password === undefined ? replies : replies.slice(1);
      const auth = replies[0];
      if (options.password !== undefined && auth instanceof RespError) reject(auth);
      else resolve(own);
    };
    const timer = setTimeout(
      () => finish(new Error(`redis on port ${port}: no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    socket.once('error', (error) => finish(error));
    socket.on('data', (chunk: Buffer) => {
      buffer = offset === buffer.length ? chunk : Buffer.concat([buffer.subarray(offset), chunk]);
      offset = 0;
      try {
        for (let parsed = parseReply(buffer, offset); parsed !== undefined; parsed = parseReply(buffer, offset)) {
          replies.push(parsed[0]);
          offset = parsed[1];
          if (replies.length === batch.length) {
            finish();
            return;
          }
        }
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.connect(port, '127.0.0.1', () => socket.write(batch.map(encode).join('')));
  });
}

/** One command; a server error is thrown. */
export async function command(port: number, args: readonly string[], options: RespOptions): Promise<RespReply> {
  const [reply] = await sendCommands(port, [args], options);
  if (reply instanceof RespError) throw reply;
  return reply ?? null;
}
