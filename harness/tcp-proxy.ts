import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';
import { DelayClock, DelayLine } from './delay-line.js';

/**
 * How the proxy treats traffic:
 * - `pass`: forwards both ways;
 * - `slow`: forwards each chunk after `delayMs`;
 * - `delay`: a network `delayMs` away each way (a round trip costs twice that), bytes in order,
 *   released by absolute deadlines (see `setLatency`, which also adds jitter);
 * - `pause`: holds data both ways and delivers it on the next mode change (a partition that heals:
 *   TCP retransmits, nothing is lost);
 * - `blackhole`: drops data both ways on the connections open now, forever (a peer that vanished
 *   without a reset); connections opened later are forwarded per the mode at that time.
 *
 * `resetAll()` tears every open connection down with an RST.
 */
export type ProxyMode = 'pass' | 'slow' | 'delay' | 'pause' | 'blackhole';

interface Pair {
  client: Socket;
  upstream: Socket;
  dead: boolean;
  held: Array<[Socket, Buffer]>;
  /** Chunks on their way in `delay` mode, one line per direction (to the upstream, to the client). */
  lines: Map<Socket, DelayLine<Buffer>>;
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
  #jitterMs = 0;
  readonly #clock = new DelayClock();
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

  /**
   * Switches the mode; data held by `pause` is delivered, in order. `delayMs` is the wait per
   * chunk in `slow` mode and the one-way delay in `delay` mode (which `setLatency` sets by round trip).
   */
  setMode(mode: ProxyMode, delayMs = 0): void {
    if (mode === 'delay' && !(Number.isFinite(delayMs) && delayMs >= 0)) {
      throw new RangeError(`delay mode needs a one-way delay of 0 ms or more, got ${String(delayMs)}`);
    }
    this.#mode = mode;
    this.#delayMs = delayMs;
    this.#jitterMs = 0;
    for (const pair of this.#pairs) {
      if (mode === 'blackhole') pair.dead = true;
      const held = pair.held.splice(0);
      for (const [to, chunk] of held) this.#deliver(pair, to, chunk);
    }
  }

  /**
   * A server `rttMs` away: every chunk waits `rttMs / 2` each way, plus, with `jitterMs`, a uniform
   * extra of 0 to `jitterMs` each way. Bytes keep their order (a chunk never leaves before the one
   * sent ahead of it, as TCP delivers them), so a late chunk holds back those behind it. Deadlines
   * are absolute, so the delay is a floor: what it costs beyond that (the proxy hop, the event
   * loop) is for the caller to measure, e.g. with a PING loop.
   */
  setLatency(rttMs: number, options: { jitterMs?: number } = {}): void {
    const jitterMs = options.jitterMs ?? 0;
    if (!(Number.isFinite(rttMs) && rttMs >= 0)) throw new RangeError(`rttMs must be 0 or more, got ${String(rttMs)}`);
    if (!(Number.isFinite(jitterMs) && jitterMs >= 0)) {
      throw new RangeError(`jitterMs must be 0 or more, got ${String(jitterMs)}`);
    }
    this.setMode('delay', rttMs / 2);
    this.#jitterMs = jitterMs;
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
    this.#clock.stop();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #accept(client: Socket): void {
    const upstream = new Socket();
    const dead = this.#mode === 'blackhole';
    const pair: Pair = { client, upstream, dead, held: [], lines: new Map(), awaitingReply: false };
    for (const to of [client, upstream]) {
      pair.lines.set(to, new DelayLine(this.#clock, (chunk) => this.#send(pair, to, chunk)));
    }
    this.#pairs.add(pair);
    const drop = () => {
      for (const line of pair.lines.values()) line.clear();
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
      setTimeout(() => this.#deliver(pair, to, chunk), this.#delayMs);
      return;
    }
    if (this.#mode === 'delay') {
      const jitter = this.#jitterMs > 0 ? Math.random() * this.#jitterMs : 0;
      pair.lines.get(to)?.push(chunk, this.#delayMs + jitter);
      return;
    }
    this.#deliver(pair, to, chunk);
  }

  /** Sends now, unless chunks of a `delay` mode since left are still on their way: then behind them. */
  #deliver(pair: Pair, to: Socket, chunk: Buffer): void {
    const line = pair.lines.get(to);
    if (line?.pending) line.push(chunk, 0);
    else this.#send(pair, to, chunk);
  }

  #send(pair: Pair, to: Socket, chunk: Buffer): void {
    if (!pair.dead && !to.destroyed) to.write(chunk);
  }
}
