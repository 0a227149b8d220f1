import type { Clock } from './clock.js';

interface Pending {
  readonly at: number;
  readonly reject: (error: Error) => void;
  readonly onTimeout: () => Error;
  prev: Pending | undefined;
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
 * call was the store's largest own cost on the Redis path in profiles). A settled call leaves the
 * list at once (it is doubly linked): an entry kept until the timer passed it would outlive the
 * young generation and turn into old-generation garbage, which profiles showed costing more than
 * the timers saved.
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
      const entry: Pending = { at: this.#clock.now() + this.#ms, reject, onTimeout, prev: this.#tail, next: undefined };
      if (this.#tail === undefined) this.#head = entry;
      else this.#tail.next = entry;
      this.#tail = entry;
      if (this.#timer === undefined) this.#arm(this.#ms);
      promise.then(
        (value) => {
          this.#unlink(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.#unlink(entry);
          reject(error);
        },
      );
    });
  }

  /** Calls still waiting: for tests. */
  get pending(): number {
    let count = 0;
    for (let entry = this.#head; entry !== undefined; entry = entry.next) count++;
    return count;
  }

  /** Takes an entry out of the list; a no-op for one already taken out (expired, then settled late). */
  #unlink(entry: Pending): void {
    if (entry.prev === undefined ? this.#head !== entry : entry.prev.next !== entry) return;
    if (entry.prev === undefined) this.#head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.#tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, ms));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (let entry = this.#head; entry !== undefined && entry.at <= now; entry = this.#head) {
      this.#unlink(entry);
      entry.reject(entry.onTimeout());
    }
    if (this.#head !== undefined) this.#arm(this.#head.at - now);
  };
}
