import type { Clock } from './clock.js';

/** `closed`: calls reach the primary. `open`: none do. `half-open`: one probe is checking the primary. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** When the breaker opens and how it tries again. Durations in ms. */
export interface BreakerOptions {
  /**
   * Open after this many primary failures in a row (timeouts count). Catches a dead or hung
   * server within a handful of calls, whatever the traffic.
   * @default 5
   */
  readonly failureThreshold: number;
  /**
   * Also open when at least this share of calls failed over `windowMs`, once `minimumCalls` were
   * made. Catches a degraded server where failures interleave with successes and never run in a row.
   * @default 0.5
   */
  readonly failureRate: number;
  /** @default 20 */
  readonly minimumCalls: number;
  /** @default 10000 */
  readonly windowMs: number;
  /**
   * Wait this long (±20 % jitter) before the first probe of an open breaker; doubled after each
   * failed probe up to `maxCooldownMs`. A lost connection coming back probes at once instead.
   * @default 1000
   */
  readonly cooldownMs: number;
  /** @default 5000 */
  readonly maxCooldownMs: number;
}

export const defaultBreakerOptions: BreakerOptions = Object.freeze({
  failureThreshold: 5,
  failureRate: 0.5,
  minimumCalls: 20,
  windowMs: 10_000,
  cooldownMs: 1_000,
  maxCooldownMs: 5_000,
});

/** What caused a transition, for events and logs. */
export type TransitionReason =
  | 'failures'
  | 'failure-rate'
  | 'connection-lost'
  | 'cooldown'
  | 'connection-back'
  | 'probe-succeeded'
  | 'probe-failed';

const BUCKETS = 10;

/**
 * A circuit breaker on an injected clock. It never lets a user call through while not closed:
 * recovery is checked by a dedicated probe (the store's, which also reconciles), so no user call
 * ever waits on a primary that is known to be down.
 *
 * Hand-written rather than cockatiel: cockatiel reads `Date.now()` itself (no injected clock) and
 * lets the first user call through as its half-open probe, where the store must reconcile before
 * any user read reaches the primary. Its closed-state overhead was small (≈100-170 ns per call
 * against ≈140 ns for a bare async call, measured on this machine), so speed was not the reason.
 */
export class CircuitBreaker {
  readonly #options: BreakerOptions;
  readonly #clock: Clock;
  readonly #probe: () => Promise<boolean>;
  readonly #onTransition: (from: CircuitState, to: CircuitState, reason: TransitionReason) => void;
  #state: CircuitState = 'closed';
  #consecutiveFailures = 0;
  #cooldownMs: number;
  #timer: unknown;
  #probing = false;
  // Rolling window: BUCKETS slots of windowMs / BUCKETS each, indexed by time.
  readonly #calls = new Array<number>(BUCKETS).fill(0);
  readonly #failures = new Array<number>(BUCKETS).fill(0);
  #bucketStart = 0;
  #bucket = 0;

  constructor(
    options: BreakerOptions,
    clock: Clock,
    probe: () => Promise<boolean>,
    onTransition: (from: CircuitState, to: CircuitState, reason: TransitionReason) => void,
  ) {
    this.#options = options;
    this.#clock = clock;
    this.#probe = probe;
    this.#onTransition = onTransition;
    this.#cooldownMs = options.cooldownMs;
    this.#bucketStart = clock.now();
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** True when a user call may reach the primary. */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * A primary call succeeded.
   * @param at when it was sent, if the caller read the clock already: the window counts it then.
   */
  success(at?: number): void {
    this.#consecutiveFailures = 0;
    this.#record(false, at);
  }

  /** A primary call failed for lack of the primary (timeout, no connection), not a server reply. */
  failure(): void {
    if (this.#state !== 'closed') return;
    this.#consecutiveFailures++;
    this.#record(true);
    if (this.#consecutiveFailures >= this.#options.failureThreshold) {
      this.#open('failures');
      return;
    }
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.#calls[i] as number;
      failures += this.#failures[i] as number;
    }
    if (calls >= this.#options.minimumCalls && failures / calls >= this.#options.failureRate)
      this.#open('failure-rate');
  }

  /** The connection is gone: nothing can succeed, open without waiting for failures. */
  connectionLost(): void {
    if (this.#state === 'closed') this.#open('connection-lost');
  }

  /** The connection is back: probe now rather than after the cooldown. */
  connectionBack(): void {
    if (this.#state === 'closed') return;
    this.#clearTimer();
    this.#halfOpen('connection-back');
  }

  /** Stops the cooldown timer; the breaker does nothing more on its own. */
  dispose(): void {
    this.#clearTimer();
  }

  #record(failed: boolean, now = this.#clock.now()): void {
    const width = this.#options.windowMs / BUCKETS;
    if (now - this.#bucketStart >= width) {
      // Advance, zeroing the buckets we skipped (all of them after a long quiet spell).
      const steps = Math.min(BUCKETS, Math.floor((now - this.#bucketStart) / width));
      for (let i = 0; i < steps; i++) {
        this.#bucket = (this.#bucket + 1) % BUCKETS;
        this.#calls[this.#bucket] = 0;
        this.#failures[this.#bucket] = 0;
      }
      this.#bucketStart = now;
    }
    (this.#calls[this.#bucket] as number)++;
    if (failed) (this.#failures[this.#bucket] as number)++;
  }

  #transition(to: CircuitState, reason: TransitionReason): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#onTransition(from, to, reason);
  }

  #open(reason: TransitionReason): void {
    this.#transition('open', reason);
    this.#consecutiveFailures = 0;
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#schedule();
  }

  #schedule(): void {
    this.#clearTimer();
    const jittered = this.#cooldownMs * (0.8 + Math.random() * 0.4);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#halfOpen('cooldown');
    }, jittered);
  }

  #halfOpen(reason: TransitionReason): void {
    if (this.#probing) return;
    this.#transition('half-open', reason);
    this.#probing = true;
    this.#probe()
      .catch(() => false)
      .then((ok) => {
        this.#probing = false;
        if (this.#state !== 'half-open') return;
        if (ok) {
          this.#cooldownMs = this.#options.cooldownMs;
          this.#consecutiveFailures = 0;
          this.#transition('closed', 'probe-succeeded');
        } else {
          this.#cooldownMs = Math.min(this.#options.maxCooldownMs, this.#cooldownMs * 2);
          this.#transition('open', 'probe-failed');
          this.#schedule();
        }
      });
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
