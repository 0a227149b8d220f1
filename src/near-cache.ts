import type { Clock } from './clock.js';
import type { MemoryEntry, MemoryTier } from './memory-tier.js';
import type { InvalidationListener, Primary } from './primary.js';
import type { ReadGuard } from './read-guard.js';
import type { Stats } from './stats.js';

/** What the near-cache can do now: `live` (copies verified), `lost` (none verified), `unsupported`. */
export type NearCacheState = 'live' | 'lost' | 'unsupported';

/** Payload of `near-cache:state`. */
export interface NearCacheStateEvent {
  readonly state: NearCacheState;
  /** Why: `armed`, `connection closed`, `heartbeat unanswered`, the server's refusal, ... */
  readonly reason: string;
}

/** What the near-cache needs from the store. */
export interface NearCacheParts {
  readonly primary: Primary;
  readonly memory: MemoryTier;
  readonly guard: ReadGuard;
  readonly clock: Clock;
  readonly stats: Stats;
  readonly leaseMs: number;
  readonly onState: (event: NearCacheStateEvent) => void;
}

/**
 * The reasons given with `tracking(false, …)` that mean the server cannot report changes at all
 * (`unsupported`, for good), not that a connection was lost: it refused `CLIENT TRACKING`, or
 * `HELLO 3` (no RESP3, so no push messages).
 */
const SERVER_REFUSAL = /^(CLIENT TRACKING refused|the server refused HELLO 3)\b/;

/**
 * `readPolicy: 'near-cache'`: a memory copy answers without a network call while it is *verified*:
 * made from a read or a write this instance sent while invalidation was live, and not invalidated
 * since. Verification is an epoch token: every copy made while tracking is live carries the token
 * of the moment its command was sent, and a copy answers only while that token is still the
 * current one. Losing the connection, a refusal, or a heartbeat that goes unanswered for
 * `leaseMs` replaces the token, which unverifies every copy at once, at no cost per copy: they stay
 * as the fallback and are revalidated (read again) before they answer as fresh.
 *
 * An invalidation drops the key's copy, and stamps the read guard: a read in flight for that key
 * does not fill memory with its answer (the invalidation wins over the reply, whatever order they
 * were made in). The silent-partition bound: a copy answers only if a heartbeat sent at most
 * `leaseMs` ago was answered, and every change the server made before answering it was reported
 * first (same connection, in order). So a copy is at most `leaseMs` behind Redis, traffic or not.
 */
export class NearCache implements InvalidationListener {
  readonly #parts: NearCacheParts;
  /** The current epoch; `undefined` while no copy can be verified. */
  #token: object | undefined;
  /** Tracking is on for the current connection (a lapsed lease can be renewed without re-arming). */
  #armed = false;
  /** Clock time the latest answered heartbeat was sent (or tracking was armed). */
  #provenAt = Number.NEGATIVE_INFINITY;
  /** Clock time the outstanding heartbeat was sent, if one is. */
  #pingSentAt: number | undefined;
  #timer: unknown;
  #state: NearCacheState | undefined;
  #prefix = '';
  #closed = false;

  constructor(parts: NearCacheParts) {
    this.#parts = parts;
  }

  /** Starts tracking `prefix` (the namespace's physical prefix) and the heartbeat. */
  start(prefix: string): void {
    const { primary, leaseMs } = this.#parts;
    this.#prefix = prefix;
    primary.track?.(prefix, this);
    if (this.#timer === undefined) this.#schedule(Math.max(1, Math.floor(leaseMs / 3)));
  }

  /** Stops the heartbeat; copies stay unverified. */
  close(): void {
    this.#closed = true;
    this.#token = undefined;
    if (this.#timer !== undefined) this.#parts.clock.clearTimeout(this.#timer);
  }

  get state(): NearCacheState | undefined {
    return this.#state;
  }

  /**
   * The token a copy made by a command sent now carries, or `undefined` when none can be verified.
   * A lease past its bound replaces the token here too, so a busy process that missed its heartbeat
   * timer does not serve on an expired lease.
   */
  current(now = this.#parts.clock.now()): object | undefined {
    const token = this.#token;
    if (token !== undefined && now - this.#provenAt > this.#parts.leaseMs) {
      this.#lapse();
      return undefined;
    }
    return token;
  }

  /** The verified copy of `key`, or `undefined` (none, or one that must be revalidated: counted). */
  lookup(key: string): MemoryEntry | undefined {
    const now = this.#parts.clock.now();
    const entry = this.#parts.memory.getAt(key, now);
    if (entry === undefined) return undefined;
    const mark = entry.verifiedBy;
    if (mark !== undefined && mark === this.current(now)) {
      this.#parts.stats.verifiedHits++;
      return entry;
    }
    this.#parts.stats.revalidations++;
    return undefined;
  }

  /** Marks `entry` (the copy a command sent with `token` made) verified, if `token` is still current. */
  verify(key: string, entry: MemoryEntry | undefined, token: object | undefined): void {
    if (entry !== undefined && token !== undefined && token === this.current()) {
      this.#parts.memory.verify(key, entry, token);
    }
  }

  invalidated(key: string | null): void {
    const { memory, guard, stats } = this.#parts;
    stats.invalidations++;
    if (key === null) {
      // FLUSHDB/FLUSHALL: every key is gone, and a read in flight may answer from before it.
      memory.clear(this.#prefix);
      if (this.#token !== undefined) this.#token = {};
      return;
    }
    guard.stamp(key);
    memory.delete(key);
  }

  tracking(armed: boolean, reason: string): void {
    this.#armed = armed;
    if (armed) {
      this.#provenAt = this.#parts.clock.now();
      this.#token = {};
      this.#setState('live', reason);
    } else {
      this.#token = undefined;
      this.#pingSentAt = undefined;
      this.#setState(SERVER_REFUSAL.test(reason) ? 'unsupported' : 'lost', reason);
    }
  }

  /** The primary cannot report invalidations at all. */
  unsupported(reason: string): void {
    this.#setState('unsupported', reason);
  }

  #lapse(): void {
    this.#token = undefined;
    this.#setState('lost', 'heartbeat unanswered');
  }

  #setState(state: NearCacheState, reason: string): void {
    if (state === this.#state || this.#closed) return;
    this.#state = state;
    this.#parts.onState({ state, reason });
  }

  #schedule(everyMs: number): void {
    this.#timer = this.#parts.clock.setTimeout(() => {
      if (this.#closed) return;
      this.#beat();
      this.#schedule(everyMs);
    }, everyMs);
  }

  /** One `PING`; one at a time, unless the outstanding one is older than the lease (lost for good). */
  #beat(): void {
    const { primary, clock, leaseMs } = this.#parts;
    if (!this.#armed || primary.heartbeat === undefined) return;
    // Checked on every beat, so a lapse is reported without traffic, not only by the next read.
    this.current();
    const now = clock.now();
    if (this.#pingSentAt !== undefined && now - this.#pingSentAt <= leaseMs) return;
    this.#pingSentAt = now;
    const sentAt = now;
    primary.heartbeat().then(
      () => {
        if (this.#pingSentAt === sentAt) this.#pingSentAt = undefined;
        if (!this.#armed || sentAt <= this.#provenAt) return;
        this.#provenAt = sentAt;
        if (this.#token === undefined && clock.now() - sentAt <= leaseMs) {
          // Answered again after a lapse: copies made from now on can be verified; older ones stay
          // unverified until read again (changes may have been lost while nothing arrived).
          this.#token = {};
          this.#setState('live', 'heartbeat answered');
        }
      },
      () => {
        if (this.#pingSentAt === sentAt) this.#pingSentAt = undefined;
      },
    );
  }
}
