import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';

/**
 * A loopback proxy in front of a Redis that answers every `HELLO` with an ACL refusal, as a server
 * or a proxy that applies ACLs to `HELLO` would (Redis itself does not: it exempts `HELLO` and
 * `AUTH`, which run before authentication, from its ACLs). Any connection whose first command is not
 * `HELLO` (a RESP2 client's `AUTH`) is forwarded both ways untouched; one that sent `HELLO` gets
 * `reply` and nothing more (a client closes it after a failed handshake).
 */
export class HelloDenyingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** The connections that sent `HELLO`, and those forwarded. */
  readonly seen = { hello: 0, forwarded: 0 };
  port = 0;

  private constructor(
    readonly targetPort: number,
    readonly reply: string,
  ) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(
    targetPort: number,
    reply = "NOPERM this user has no permissions to run the 'hello' command",
  ): Promise<HelloDenyingProxy> {
    const proxy = new HelloDenyingProxy(targetPort, reply);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    const address = proxy.#server.address();
    proxy.port = typeof address === 'object' && address !== null ? address.port : 0;
    return proxy;
  }

  /** The URL of the proxy, with `userinfo` (`user:password@`) if given. */
  url(userinfo = ''): string {
    return `redis://${userinfo}127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #track(socket: Socket): Socket {
    this.#sockets.add(socket);
    socket.on('error', () => {}).on('close', () => this.#sockets.delete(socket));
    return socket;
  }

  #accept(client: Socket): void {
    this.#track(client);
    let buffered = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const name = firstCommandName(buffered);
      if (name === undefined) return;
      client.off('data', sniff);
      if (name.toUpperCase() === 'HELLO') {
        this.seen.hello++;
        client.write(`-${this.reply}\r\n`);
        return;
      }
      this.seen.forwarded++;
      const upstream = this.#track(new Socket());
      upstream.connect(this.targetPort, '127.0.0.1', () => upstream.write(buffered));
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    };
    client.on('data', sniff);
  }
}

/** The name of the first command in `buffer` (a RESP array of bulk strings), once it has arrived. */
function firstCommandName(buffer: Buffer): string | undefined {
  const text = buffer.toString('latin1');
  const match = /^\*\d+\r\n\$(\d+)\r\n/.exec(text);
  if (match === null) return undefined;
  const start = match[0].length;
  const length = Number(match[1]);
  return text.length >= start + length ? text.slice(start, start + length) : undefined;
}
