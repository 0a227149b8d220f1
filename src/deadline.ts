import type { Clock } from './clock.js';

interface Pending {
  readonly at: number;
  readonly reject: (error: Error) => void;
  readonly onTimeout: () => Error;
  settled: boolean;
  next: Pending | undefined;
}

/**
 * Bounds promises with one deadline length on a clock: each bounded promise settles with the
 * original, or rejects with `onTimeout()` once `ms` have passed, whichever comes first.
 *
 * This is the only thing that bounds a command already written to a hung server: node-redis's own
 * command timeout stops counting once the command is on the socket. The late settlement of a
 * bounded promise is observed (it cannot become an unhandled rejection) and ignored.
 *
 * Every deadline has the same length, so they expire in the order they were set: they wait in a
 * FIFO list under a single timer armed for the oldest, instead of one timer per call (a timer per
 * call was the store's largest own cost on the Redis path in profiles). Settled entries leave the
 * list when the timer next passes them, at most `ms` later.
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

  bound<T>(promise: Promise<T>, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { at: this.#clock.now() + this.#ms, reject, onTimeout, settled: false, next: undefined };
      if (this.#tail === undefined) this.#head = entry;
      else this.#tail.next = entry;
      this.#tail = entry;
      if (this.#timer === undefined) this.#arm(this.#ms);
      promise.then(
        (value) => {
          entry.settled = true;
          resolve(value);
        },
        (error: unknown) => {
          entry.settled = true;
          reject(error);
        },
      );
    });
  }

  /** Entries not yet passed by the timer, settled or not: for tests. */
  get pending(): number {
    let count = 0;
    for (let entry = this.#head; entry !== undefined; entry = entry.next) count++;
    return count;
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, ms));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    let entry = this.#head;
    while (entry !== undefined && (entry.settled || entry.at <= now)) {
      if (!entry.settled) {
        entry.settled = true;
        entry.reject(entry.onTimeout());
      }
      entry = entry.next;
    }
    this.#head = entry;
    if (entry === undefined) this.#tail = undefined;
    else this.#arm(entry.at - now);
  };
}
