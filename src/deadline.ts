import type { Clock } from './clock.js';

interface Pending {
  readonly at: number;
  readonly reject: (error: Error) => void;
  readonly onTimeout: () => Error;
  readonly onLate: LateSettlement | undefined;
  /** Set once the promise settled: a deadline that fires then is not a timeout. */
  settled: boolean;
  /** Set once the caller was told it timed out: a settlement after that is late. */
  timedOut: boolean;
  prev: Pending | undefined;
  next: Pending | undefined;
}

/** Told how a promise that already timed out settled in the end: the primary answered late. */
export type LateSettlement = (outcome: { ok: true } | { ok: false; error: unknown }) => void;

/** Runs `fn` after the I/O already received has been processed (the poll phase comes before it). */
const afterPendingIo = (fn: () => void): void => {
  setImmediate(fn);
};

/**
 * Bounds promises on a clock: each bounded promise settles with the original, or rejects with
 * `onTimeout()` once its deadline has passed, whichever comes first.
 *
 * This is the only thing that bounds a command already written to a hung server: node-redis's own
 * command timeout stops counting once the command is on the socket. The late settlement of a
 * bounded promise is observed (it cannot become an unhandled rejection) and reported to `onLate`,
 * since a late answer proves the primary is back.
 *
 * A deadline that fires does not reject at once: it waits for the I/O already received to be
 * processed (one `setImmediate`), so that a reply that arrived while the event loop was busy (a
 * large value being parsed, a GC pause) settles its call instead of being reported as a timeout of a
 * healthy server. A hung server is still bounded: the wait is one turn of the event loop.
 *
 * Deadlines of the default length expire in the order they were set: they wait in a FIFO list
 * under a single timer armed for the oldest, instead of one timer per call (a timer per call was the
 * store's largest own cost on the Redis path in profiles). A settled call leaves the list at once (it
 * is doubly linked): an entry kept until the timer passed it would outlive the young generation.
 * A longer deadline (a batch's, scaled with its size) gets a timer of its own: batches are rare.
 */
export class Deadlines {
  readonly #ms: number;
  readonly #clock: Clock;
  #head: Pending | undefined;
  #tail: Pending | undefined;
  #timer: unknown;

  constructor(ms: number, clock: Clock) {
    this.#ms = ms;
    this.#clock = clock;
  }

  /** The default deadline, in ms. */
  get ms(): number {
    return this.#ms;
  }

  /**
   * Bounds `promise` by the default deadline plus `extraMs` (a batch's allowance).
   * @param onLate told how the promise settled, if it settles after its deadline fired.
   */
  bound<T>(promise: Promise<T>, onTimeout: () => Error, extraMs = 0, onLate?: LateSettlement): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const ms = this.#ms + extraMs;
      const entry: Pending = {
        at: this.#clock.now() + ms,
        reject,
        onTimeout,
        onLate,
        settled: false,
        timedOut: false,
        prev: undefined,
        next: undefined,
      };
      let own: unknown;
      if (extraMs === 0) {
        this.#append(entry);
      } else {
        own = this.#clock.setTimeout(() => this.#expire(entry), ms);
      }
      promise.then(
        (value) => {
          entry.settled = true;
          if (own !== undefined) this.#clock.clearTimeout(own);
          this.#unlink(entry);
          if (entry.timedOut) onLate?.({ ok: true });
          else resolve(value);
        },
        (error: unknown) => {
          entry.settled = true;
          if (own !== undefined) this.#clock.clearTimeout(own);
          this.#unlink(entry);
          if (entry.timedOut) onLate?.({ ok: false, error });
          else reject(error);
        },
      );
    });
  }

  /** Calls still waiting on the default-length list: for tests. */
  get pending(): number {
    let count = 0;
    for (let entry = this.#head; entry !== undefined; entry = entry.next) count++;
    return count;
  }

  #append(entry: Pending): void {
    entry.prev = this.#tail;
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    if (this.#timer === undefined) this.#arm(this.#ms);
  }

  /** Takes an entry out of the list; a no-op for one not in it (own timer, or already taken out). */
  #unlink(entry: Pending): void {
    if (entry.prev === undefined ? this.#head !== entry : entry.prev.next !== entry) return;
    if (entry.prev === undefined) this.#head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.#tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
  }

  /** The deadline passed: reject, unless the reply was already received and settles meanwhile. */
  #expire(entry: Pending): void {
    if (entry.settled) return;
    afterPendingIo(() => {
      if (entry.settled) return;
      entry.timedOut = true;
      entry.reject(entry.onTimeout());
    });
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, ms));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (let entry = this.#head; entry !== undefined && entry.at <= now; entry = this.#head) {
      this.#unlink(entry);
      this.#expire(entry);
    }
    if (this.#head !== undefined) this.#arm(this.#head.at - now);
  };
}
