/**
 * Closer than this to the next deadline (ms), the clock polls on `setImmediate` instead of sleeping
 * on a timer: Node's timers have a granularity of about 1 ms (a `setTimeout(fn, 0.5)` waits 1 ms or
 * more), which would make a 0.5 ms delay cost 1-2 ms. The poll keeps the event loop turning (one
 * core busy) only for the last stretch before a release.
 */
const POLL_WINDOW_MS = 1.5;

const now = (): number => performance.now();

/**
 * One direction of a delayed connection: items leave in the order they came, each no earlier than
 * its deadline. A deadline is absolute (`performance.now()` at arrival plus the delay), and never
 * earlier than the one before it, so jitter cannot reorder bytes and late wake-ups do not add up:
 * whatever is due at a wake-up leaves then, all of it.
 */
export class DelayLine<T> {
  readonly #queue: Array<{ at: number; item: T }> = [];
  readonly #release: (item: T) => void;
  readonly #clock: DelayClock;
  #last = 0;

  constructor(clock: DelayClock, release: (item: T) => void) {
    this.#clock = clock;
    this.#release = release;
  }

  /** Queues `item` to leave `delayMs` from now, after everything queued before it. */
  push(item: T, delayMs: number): void {
    const at = Math.max(this.#last, now() + delayMs);
    this.#last = at;
    this.#queue.push({ at, item });
    this.#clock.wake(this, at);
  }

  /** Something is still queued: a chunk sent now without a delay must queue behind it, or it would overtake. */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  /** Releases every item due at `at`; returns the next deadline, or `Infinity` when the line is empty. */
  drain(at: number): number {
    let head = this.#queue[0];
    while (head !== undefined && head.at <= at) {
      this.#queue.shift();
      this.#release(head.item);
      head = this.#queue[0];
    }
    return head?.at ?? Number.POSITIVE_INFINITY;
  }

  /** Drops whatever is queued (the connection is gone). */
  clear(): void {
    this.#queue.length = 0;
  }
}

/**
 * The one wake-up source for many lines (a proxy's connections, both directions): a timer while
 * the next deadline is far, a poll for the last stretch, re-armed for the earliest deadline left.
 */
export class DelayClock {
  readonly #lines = new Set<Pick<DelayLine<unknown>, 'drain' | 'clear'>>();
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Immediate | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  /** `line` has an item due at `at`. */
  wake(line: Pick<DelayLine<unknown>, 'drain' | 'clear'>, at: number): void {
    this.#lines.add(line);
    if (at < this.#armedFor) this.#arm(at);
  }

  /** Forgets every line and stops waking up. */
  stop(): void {
    this.#disarm();
    for (const line of this.#lines) line.clear();
    this.#lines.clear();
  }

  #arm(at: number): void {
    this.#disarm();
    this.#armedFor = at;
    const wait = at - now();
    // The timer is set to wake about 1 ms early; the poll takes the rest.
    if (wait > POLL_WINDOW_MS) this.#timer = setTimeout(() => this.#tick(), Math.floor(wait - 1));
    else this.#poll = setImmediate(() => this.#tick());
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    if (this.#poll !== undefined) clearImmediate(this.#poll);
    [this.#timer, this.#poll, this.#armedFor] = [undefined, undefined, Number.POSITIVE_INFINITY];
  }

  #tick(): void {
    [this.#timer, this.#poll, this.#armedFor] = [undefined, undefined, Number.POSITIVE_INFINITY];
    const at = now();
    let next = Number.POSITIVE_INFINITY;
    for (const line of this.#lines) {
      const due = line.drain(at);
      if (due === Number.POSITIVE_INFINITY) this.#lines.delete(line);
      else next = Math.min(next, due);
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#armedFor) this.#arm(next);
  }
}
