import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a Redis server that counts round trips: a round trip starts
 * when the client sends after having received something since its last send. Commands a client
 * pipelines in one burst count once, which is what "one round trip" promises.
 *
 * Approximate for requests larger than a socket read (a 100-entry setMany of 64 KB values): the
 * server may answer the first commands of a burst before the last bytes arrive, which counts
 * extra trips, never fewer.
 */
export class RoundTripCounter {
  #roundTrips = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, targetHost: string, targetPort: number) {
    this.#server = server;
    server.on('connection', (client) => {
      const upstream = new Socket();
      let awaitingReply = false;
      this.#sockets.add(client).add(upstream);
      client.on('data', (chunk) => {
        if (!awaitingReply) this.#roundTrips++;
        awaitingReply = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        awaitingReply = false;
        client.write(chunk);
      });
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
      upstream.connect(targetPort, targetHost);
    });
  }

  static async start(targetHost: string, targetPort: number): Promise<RoundTripCounter> {
    const server = createServer();
    const counter = new RoundTripCounter(server, targetHost, targetPort);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return counter;
  }

  get url(): string {
    const address = this.#server.address();
    const port = address !== null && typeof address === 'object' ? address.port : 0;
    return `redis://127.0.0.1:${port}`;
  }

  /** Round trips since the last call, and restarts the count. */
  take(): number {
    const count = this.#roundTrips;
    this.#roundTrips = 0;
    return count;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }
}
