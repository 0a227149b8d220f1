import type { CircuitBreaker } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { Deadlines } from './deadline.js';
import { PrimaryCommandError, PrimaryFailure, PrimaryTimeoutError, PrimaryUnavailableError } from './errors.js';
import type { Operation, PrimaryFailureEvent } from './events.js';
import type { Primary, Step } from './primary.js';
import type { Stats } from './stats.js';

/** What a call to the primary returns when it failed: the caller falls back to memory. */
export const FAILED: unique symbol = Symbol('failed');
export type Failed = typeof FAILED;

/**
 * Deadline allowance per key of a batch, on top of `operationTimeoutMs`. A 10,000-entry `setMany`
 * of 1 KB values took a healthy loopback Redis 90-200 ms (9-20 µs a key) on an idle 2-core
 * machine, and timed out at 50 µs a key (600 ms) with the load average at 7: the time the server
 * spends on a batch is not event-loop time the deadline can discount (see `Deadlines`), so the
 * allowance must cover a starved server. 100 µs a key: 1.1 s for 10,000 keys.
 */
export const BATCH_MS_PER_KEY = 0.1;

/**
 * The one call path to the primary: deadline, failure classification, breaker, counting and the
 * `primary:failure` event, for every operation. Callers check {@link usable} first (the breaker)
 * and fall back to memory on {@link FAILED}.
 */
export class PrimaryCalls {
  readonly #primary: Primary;
  readonly #deadlines: Deadlines;
  readonly #clock: Clock;
  readonly #stats: Stats;
  readonly #emitFailure: (event: PrimaryFailureEvent) => void;
  /** Told when a call that timed out is answered after all: the primary is back. */
  readonly #onLateReply: () => void;
  breaker!: CircuitBreaker;

  constructor(
    primary: Primary,
    timeoutMs: number,
    clock: Clock,
    stats: Stats,
    emitFailure: (event: PrimaryFailureEvent) => void,
    onLateReply: () => void,
  ) {
    this.#primary = primary;
    this.#deadlines = new Deadlines(timeoutMs, clock);
    this.#clock = clock;
    this.#stats = stats;
    this.#emitFailure = emitFailure;
    this.#onLateReply = onLateReply;
  }

  /** True when a user call may reach the primary (the breaker is closed). */
  get usable(): boolean {
    return this.breaker.closed;
  }

  /** The deadline for one round trip of a multi-step operation (clear, iteration, warming, reconciliation). */
  readonly step: Step = <T>(operation: string, promise: Promise<T>): Promise<T> =>
    this.#bound(operation, promise, 0, this.#clock.now());

  /**
   * Sends one call with its deadline (scaled by `size` for a batch): its result, or {@link FAILED}
   * once the failure has been counted, emitted and told to the breaker. Never rejects.
   * @param keys physical key(s) involved, for the failure event (one key is not wrapped in an array
   * on every call: only a failure needs the list).
   * @param now when the call is sent, if the caller read the clock already.
   */
  async call<T>(
    operation: Operation,
    keys: string | readonly string[],
    send: () => Promise<T>,
    size = 1,
    now?: number,
  ): Promise<T | Failed> {
    const at = now ?? this.#clock.now();
    try {
      const result = await this.#bound(operation, send(), size > 1 ? size * BATCH_MS_PER_KEY : 0, at);
      this.breaker.success(at);
      return result;
    } catch (error) {
      this.failed(operation, error, typeof keys === 'string' ? [keys] : keys);
      return FAILED;
    }
  }

  /**
   * The inside of {@link call} for the hottest path (`get`), whose caller has its own try/catch:
   * `promise` within the default deadline, rejecting as it does; the caller then reports with
   * {@link succeeded} or {@link failed}. One async layer fewer per read.
   */
  bounded<T>(operation: Operation, promise: Promise<T>, now: number): Promise<T> {
    return this.#bound(operation, promise, 0, now);
  }

  /** A call sent at `at` was answered: the breaker hears of it. */
  succeeded(at: number): void {
    this.breaker.success(at);
  }

  #bound<T>(operation: string, promise: Promise<T>, extraMs: number, now: number): Promise<T> {
    const ms = this.#deadlines.ms + extraMs;
    return this.#deadlines.bound(promise, () => new PrimaryTimeoutError(operation, ms), extraMs, this.#late, now);
  }

  /** A late answer, or a late refusal by the server, proves the primary is there; a late reset does not. */
  readonly #late = (outcome: { ok: true } | { ok: false; error: unknown }): void => {
    if (outcome.ok || this.#primary.classify(outcome.error) !== 'unavailable') this.#onLateReply();
  };

  /** Sorts any error into a {@link PrimaryFailure}: by class for the core's own, by the primary otherwise. */
  classify(operation: string, error: unknown): PrimaryFailure {
    if (error instanceof PrimaryFailure) return error;
    // A refusal of a command's credentials (NOPERM) is still an answer: the primary is there.
    return this.#primary.classify(error) === 'unavailable'
      ? new PrimaryUnavailableError(operation, error)
      : new PrimaryCommandError(operation, error);
  }

  /** Counts and emits a failed call; a timeout or an unreachable primary counts towards the breaker. */
  failed(operation: Operation, error: unknown, keys: readonly string[]): PrimaryFailure {
    const failure = this.classify(operation, error);
    this.#stats.primaryFailures++;
    if (failure instanceof PrimaryTimeoutError) this.#stats.timeouts++;
    // A server reply (OOM, NOPERM; a failover's READONLY or MOVED is classified unavailable) means the primary is there: reads may still work.
    if (!(failure instanceof PrimaryCommandError)) this.breaker.failure();
    this.#emitFailure({ operation, error: failure, keys });
    return failure;
  }
}
