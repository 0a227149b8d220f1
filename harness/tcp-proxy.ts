import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';

/**
 * How the proxy treats traffic:
 * - `pass`: forwards both ways;
 * - `slow`: forwards each chunk after `delayMs`;
 * - `pause`: holds data both ways and delivers it on the next mode change (a partition that heals:
 *   TCP retransmits, nothing is lost);
 * - `blackhole`: drops data both ways on the connections open now, forever (a peer that vanished
 *   without a reset); connections opened later are forwarded per the mode at that time.
 *
 * `resetAll()` tears every open connection down with an RST.
 */
export type ProxyMode = 'pass' | 'slow' | 'pause' | 'blackhole';

interface Pair {
  client: Socket;
  upstream: Socket;
  dead: boolean;
  held: Array<[Socket, Buffer]>;
  /** The client sent and has not been answered since: its next send is not a new round trip. */
  awaitingReply: boolean;
}

/**
 * A loopback TCP proxy in front of a server, for the failures a kill or a stop cannot make, and a
 * round-trip counter: a round trip starts when a client sends after having been answered since its
 * last send, so commands pipelined in one burst count once (approximate for requests larger than
 * a socket read, which can count extra trips, never fewer).
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #targetPort: number;
  readonly #targetHost: string;
  readonly #pairs = new Set<Pair>();
  #mode: ProxyMode = 'pass';
  #delayMs = 0;
  #roundTrips = 0;
  port = 0;

  private constructor(targetPort: number, targetHost: string) {
    this.#targetPort = targetPort;
    this.#targetHost = targetHost;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Listens on a free loopback port and forwards to `targetHost:targetPort`. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    const address = proxy.#server.address();
    proxy.port = typeof address === 'object' && address !== null ? address.port : 0;
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Switches the mode; data held by `pause` is delivered, in order. */
  setMode(mode: ProxyMode, delayMs = 0): void {
    this.#mode = mode;
    this.#delayMs = delayMs;
    for (const pair of this.#pairs) {
      if (mode === 'blackhole') pair.dead = true;
      const held = pair.held.splice(0);
      for (const [to, chunk] of held) this.#send(pair, to, chunk);
    }
  }

  /** Resets every open connection (RST), as a crashed middlebox or a killed peer would. */
  resetAll(): void {
    for (const pair of this.#pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Round trips since the last call, and restarts the count. */
  takeRoundTrips(): number {
    const count = this.#roundTrips;
    this.#roundTrips = 0;
    return count;
  }

  async close(): Promise<void> {
    this.resetAll();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #accept(client: Socket): void {
    const upstream = new Socket();
    const pair: Pair = { client, upstream, dead: this.#mode === 'blackhole', held: [], awaitingReply: false };
    this.#pairs.add(pair);
    const drop = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.connect(this.#targetPort, this.#targetHost);
    client.on('data', (chunk) => {
      if (!pair.awaitingReply) this.#roundTrips++;
      pair.awaitingReply = true;
      this.#forward(pair, upstream, chunk);
    });
    upstream.on('data', (chunk) => {
      pair.awaitingReply = false;
      this.#forward(pair, client, chunk);
    });
  }

  #forward(pair: Pair, to: Socket, chunk: Buffer): void {
    if (pair.dead) return;
    if (this.#mode === 'pause') {
      pair.held.push([to, chunk]);
      return;
    }
    if (this.#mode === 'slow') {
      setTimeout(() => this.#send(pair, to, chunk), this.#delayMs);
      return;
    }
    this.#send(pair, to, chunk);
  }

  #send(pair: Pair, to: Socket, chunk: Buffer): void {
    if (!pair.dead && !to.destroyed) to.write(chunk);
  }
}
