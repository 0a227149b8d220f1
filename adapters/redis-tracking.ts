import type { InvalidationListener, TrackingSupport } from '../src/primary.js';

/**
 * What tracking uses of a node-redis client: a connection in RESP3 with `emitInvalidate`, whose
 * `invalidate` events carry the push messages Redis sends on that same connection.
 */
interface TrackingClient {
  readonly options?: { readonly RESP?: number; readonly emitInvalidate?: boolean };
  readonly isReady: boolean;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: 'invalidate', listener: (key: unknown) => void): unknown;
  on(event: 'ready' | 'end', listener: () => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/**
 * Server-assisted invalidation for the near-cache on the store's command connection: after every
 * (re)connection, `CLIENT TRACKING ON BCAST PREFIX <prefix> NOLOOP`.
 *
 * Why this mechanism (measured in ../shared/research/near-cache.md and test/near-cache.test.ts):
 * - On the command connection, invalidations arrive in the order the server made the changes,
 *   interleaved with our replies: an answer that arrives after an invalidation is newer than it,
 *   and a `PING` answered proves every earlier change has been reported (the silent-partition bound).
 *   A separate connection loses both orderings.
 * - BCAST, not the default mode: the default mode tracks only keys this connection *read*, so a
 *   copy this instance wrote would never be invalidated, and it costs server memory per key and
 *   client (`tracking-table-max-keys`). BCAST costs no server memory; every change under the
 *   prefix is pushed to every instance (fan-out grows with instances x writes).
 * - NOLOOP: this connection's own writes are not echoed back, so a write does not invalidate the
 *   copy it just made.
 */
export class RedisTracking {
  readonly #client: TrackingClient;
  #prefix: string | undefined;
  #listener: InvalidationListener | undefined;
  /** Bumped on every arming, so that an older arming's late answer is ignored. */
  #generation = 0;
  /** Tracking is armed on the current connection. */
  #armed = false;
  /** Why tracking can never work here, once the handshake was refused for good (see {@link refused}). */
  #refusal: string | undefined;

  constructor(client: unknown) {
    this.#client = client as TrackingClient;
  }

  support(): TrackingSupport {
    if (this.#refusal !== undefined) return { supported: false, reason: this.#refusal };
    const options = this.#client.options;
    if (options?.RESP !== 3 || options.emitInvalidate !== true) {
      return {
        supported: false,
        reason: 'the Redis client is not in RESP3 with emitInvalidate (give the store a URL, or such a client)',
      };
    }
    return { supported: true };
  }

  track(prefix: string, listener: InvalidationListener): void {
    const first = this.#listener === undefined;
    this.#prefix = prefix;
    this.#listener = listener;
    if (this.#refusal !== undefined) {
      listener.tracking(false, this.#refusal);
      return;
    }
    if (first) {
      const client = this.#client;
      client.on('invalidate', (key: unknown) => this.#listener?.invalidated(key === null ? null : String(key)));
      client.on('ready', () => this.#arm());
      client.on('end', () => this.#lost('connection closed'));
      client.on('error', () => this.#lost('connection error'));
    }
    // A new prefix: copies verified under the old one must not answer while the new one arms.
    if (this.#armed) this.#lost('tracking re-armed');
    if (this.#client.isReady) this.#arm();
  }

  /**
   * The server refused `HELLO 3`, or the ACL user may not run `HELLO` or `CLIENT TRACKING`: no
   * connection can receive invalidations, now or after a reconnect. Reported once, as a refusal
   * (`reason` starts with `the server refused HELLO 3` or `CLIENT TRACKING refused`, which the
   * near-cache reads as `unsupported`); nothing is armed or reported after it.
   */
  refused(reason: string): void {
    if (this.#refusal !== undefined) return;
    this.#refusal = reason;
    this.#generation++;
    this.#armed = false;
    this.#listener?.tracking(false, reason);
  }

  #lost(reason: string): void {
    if (this.#refusal !== undefined) return;
    this.#generation++;
    this.#armed = false;
    this.#listener?.tracking(false, reason);
  }

  #arm(): void {
    const generation = ++this.#generation;
    const prefix = this.#prefix;
    if (prefix === undefined || this.#refusal !== undefined) return;
    const on = ['CLIENT', 'TRACKING', 'ON', 'BCAST', ...(prefix === '' ? [] : ['PREFIX', prefix]), 'NOLOOP'];
    // node-redis's handshake turns tracking on in the default mode; the mode can only change from off.
    Promise.all([this.#client.sendCommand(['CLIENT', 'TRACKING', 'OFF']), this.#client.sendCommand(on)]).then(
      () => {
        if (generation !== this.#generation) return;
        this.#armed = true;
        this.#listener?.tracking(true, 'armed');
      },
      (error: unknown) => {
        if (generation !== this.#generation) return;
        const message = error instanceof Error ? error.message : String(error);
        this.#listener?.tracking(false, `CLIENT TRACKING refused: ${message}`);
      },
    );
  }

  async heartbeat(): Promise<void> {
    await this.#client.sendCommand(['PING']);
  }
}
