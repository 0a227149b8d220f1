import type { Clock } from './clock.js';

/** Told how a promise that already timed out settled in the end: the primary answered late. */
export type LateSettlement = (outcome: { ok: true } | { ok: false; error: unknown }) => void;

/**
 * A turn of the event loop that used more CPU than this (ms) did real work: it read and processed
 * I/O, or ran something else. A reply may still be waiting behind that work, so a deadline does not
 * fire on it. An idle Node turn costs tens of µs. CPU time, not wall time: on a loaded machine a
 * process that was descheduled took long without doing anything that could hold a reply back.
 */
export const QUIET_TURN_MS = 1;

/**
 * A timer this late (ms) may have been held up by work long enough for a command queued meanwhile
 * to be written only now. Less late, the command had most of its deadline on the wire, and a reply
 * that arrived during the delay is read by the next turn anyway.
 */
export const HELD_UP_MS = 10;

/**
 * After the event loop was last seen busy, a call past its deadline still gets this share of its
 * deadline in quiet time before it times out: a command queued while the loop was busy is written
 * only when it is free again (node-redis writes on the next turn), and it is as if its deadline
 * started then. A full deadline: at a quarter (25 ms), 64 gets of 64 KB in flight with
 * `serialization: 'store'` still timed out 0-23 times a run against a healthy loopback Redis on a
 * loaded machine (the server itself waiting for a core while our loop sat quiet).
 */
export const QUIET_GRACE_SHARE = 1;

/**
 * How long a call past its deadline may wait for the loop to calm down, as a multiple of its
 * deadline in CPU time the process spends meanwhile, counted from when its timer ran: the bound on
 * a hung server in a process that stays busy turn after turn. (In an idle process a hung server's
 * call ends one quiet turn after its deadline.) CPU time, so that a process starved of CPU by its
 * neighbours gets through the replies it has: 96 gets of 64 KB at once through Keyv take ~250 ms
 * of CPU after a 100 ms deadline, and the wall time that takes grows with the machine's load.
 */
export const BUSY_WAIT_FACTOR = 4;

/** The wall-time stop, as a multiple of the deadline after its timer ran, however starved the process. */
export const HARD_STOP_FACTOR = 10;

/** Where a pending call is: waiting for its deadline, or past it and waiting for a quiet turn. */
class List {
  head: Pending | undefined;
  tail: Pending | undefined;

  append(entry: Pending): void {
    entry.list = this;
    entry.prev = this.tail;
    entry.next = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
  }

  remove(entry: Pending): void {
    if (entry.prev === undefined) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.list = undefined;
    entry.prev = undefined;
    entry.next = undefined;
  }

  get length(): number {
    let count = 0;
    for (let entry = this.head; entry !== undefined; entry = entry.next) count++;
    return count;
  }
}

interface Pending {
  /** The deadline's length, in ms. */
  readonly ms: number;
  /** Clock time the deadline passes. */
  readonly at: number;
  /** Once past the deadline: the CPU time after which it is a timeout even if the loop is still busy. */
  cpuLimit: number;
  /** Once past the deadline: the clock time after which it is a timeout, however starved the process. */
  limit: number;
  readonly reject: (error: Error) => void;
  readonly onTimeout: () => Error;
  /** Its own timer, for a deadline longer than the default (a batch's). */
  own: unknown;
  /** Set once the caller was told it timed out: a settlement after that is late. */
  timedOut: boolean;
  list: List | undefined;
  prev: Pending | undefined;
  next: Pending | undefined;
}

/**
 * Bounds promises on a clock: each bounded promise settles with the original, or rejects with
 * `onTimeout()` once its deadline has passed and the event loop has had a quiet turn since,
 * whichever comes first.
 *
 * This is the only thing that bounds a command already written to a hung server: node-redis's own
 * command timeout stops counting once the command is on the socket. The late settlement of a
 * bounded promise is observed (it cannot become an unhandled rejection) and reported to `onLate`,
 * since a late answer proves the primary is back.
 *
 * **A deadline measures the primary, not the event loop.** Replies that have arrived wait in the
 * socket while the process is busy (64 replies of 64 KB take Keyv's deserializer ~130 ms, and Node
 * reads and hands them over about one socket read per turn), and the deadline's timer fires among
 * them. So a deadline that passes does not reject at once: it waits for a turn of the event loop
 * (`setImmediate`: the poll phase, which reads received I/O, comes first) that did no real work
 * ({@link QUIET_TURN_MS} of CPU); a busy turn may have been processing this call's reply or the
 * ones queued before it, so the next turn is awaited. A timer that fires late after the process
 * used CPU counts as a busy turn (late without CPU used: the machine, not the process, was busy).
 * Once the loop was seen busy, a call also gets {@link QUIET_GRACE_SHARE} of its deadline of quiet
 * time after it (a full deadline), since a command queued during the busy stretch was only written
 * when it ended.
 * Against a hung server in an idle process the first turn is quiet and nothing was busy: the call
 * ends within about a millisecond of its deadline. In a process that stays busy, the wait is bounded
 * by {@link BUSY_WAIT_FACTOR} x the deadline of CPU time after the deadline's timer ran (as much
 * wall time in a process that has a core to itself), and by {@link HARD_STOP_FACTOR} x the
 * deadline of wall time however starved the process is.
 *
 * Deadlines of the default length expire in the order they were set: they wait in a FIFO list
 * under a single timer armed for the oldest, instead of one timer per call (a timer per call was the
 * store's largest own cost on the Redis path in profiles). A settled call leaves its list at once
 * (it is doubly linked): an entry kept until the timer passed it would outlive the young
 * generation. A longer deadline (a batch's, scaled with its size) gets a timer of its own: batches
 * are rare. Calls past their deadline share one `setImmediate` per turn, however many they are.
 */
export class Deadlines {
  readonly #ms: number;
  readonly #clock: Clock;
  readonly #busyFactor: number;
  /** Default-length deadlines not yet passed, oldest first. */
  readonly #waiting = new List();
  /** Deadlines passed, waiting for a quiet turn. */
  readonly #draining = new List();
  /** CPU time used by the process (ms), or wall time for a clock that cannot tell. */
  readonly #cpu: () => number;
  #timer: unknown;
  /** CPU time when {@link #timer} was armed: a timer that fires late after using CPU was held up. */
  #armedCpu = 0;
  #turnScheduled = false;
  /** CPU and clock time when the current turn started. */
  #turnCpu = 0;
  #turnStart = 0;
  /** The next turn counts as busy whatever it costs: the timer that led to it was held up. */
  #heldUp = false;
  /** When a turn (or a timer) was last seen busy. */
  #busySeenAt = Number.NEGATIVE_INFINITY;

  constructor(ms: number, clock: Clock, busyFactor = BUSY_WAIT_FACTOR) {
    this.#ms = ms;
    this.#clock = clock;
    this.#busyFactor = busyFactor;
    this.#cpu = clock.cpuNow === undefined ? () => clock.now() : () => (clock.cpuNow as () => number)();
  }

  /** The default deadline, in ms. */
  get ms(): number {
    return this.#ms;
  }

  /**
   * Bounds `promise` by the default deadline plus `extraMs` (a batch's allowance).
   * @param onLate told how the promise settled, if it settles after its deadline fired.
   * @param now when the call was sent, if the caller read the clock already.
   */
  bound<T>(
    promise: Promise<T>,
    onTimeout: () => Error,
    extraMs = 0,
    onLate?: LateSettlement,
    now = this.#clock.now(),
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const ms = this.#ms + extraMs;
      const at = now + ms;
      const entry: Pending = {
        ms,
        at,
        cpuLimit: Number.POSITIVE_INFINITY,
        limit: Number.POSITIVE_INFINITY,
        reject,
        onTimeout,
        own: undefined,
        timedOut: false,
        list: undefined,
        prev: undefined,
        next: undefined,
      };
      if (extraMs === 0) {
        this.#waiting.append(entry);
        if (this.#timer === undefined) this.#arm(ms);
      } else {
        const armedCpu = this.#cpu();
        entry.own = this.#clock.setTimeout(() => {
          entry.own = undefined;
          this.#pass(entry, this.#heldUpSince(entry.at, armedCpu));
        }, ms);
      }
      promise.then(
        (value) => {
          this.#forget(entry);
          if (entry.timedOut) onLate?.({ ok: true });
          else resolve(value);
        },
        (error: unknown) => {
          this.#forget(entry);
          if (entry.timedOut) onLate?.({ ok: false, error });
          else reject(error);
        },
      );
    });
  }

  /** Calls not yet settled nor timed out (before or past their deadline): for tests. */
  get pending(): number {
    return this.#waiting.length + this.#draining.length;
  }

  /** The call settled: it leaves whichever list holds it, and its own timer stops. */
  #forget(entry: Pending): void {
    if (entry.own !== undefined) {
      this.#clock.clearTimeout(entry.own);
      entry.own = undefined;
    }
    entry.list?.remove(entry);
  }

  /**
   * True when a timer due at `dueAt` fired late ({@link HELD_UP_MS}) while the process used CPU since `armedCpu` for at
   * least half of the lateness: work held it up, and a reply may have arrived meanwhile. Late with
   * less CPU used, the process was descheduled (a loaded machine): nothing of ours held a reply
   * back. (The process's CPU includes V8's background threads, compiling and collecting; half the
   * lateness keeps a few ms of theirs from passing for a blocked loop.)
   */
  #heldUpSince(dueAt: number, armedCpu: number): boolean {
    const late = this.#clock.now() - dueAt;
    return late > HELD_UP_MS && this.#cpu() - armedCpu >= late / 2;
  }

  /** The deadline passed: wait for a quiet turn before rejecting. */
  #pass(entry: Pending, heldUp: boolean): void {
    // From when its timer ran: a loop blocked past the deadline left nothing to decide meanwhile.
    entry.cpuLimit = this.#cpu() + entry.ms * this.#busyFactor;
    entry.limit = this.#clock.now() + entry.ms * HARD_STOP_FACTOR;
    this.#draining.append(entry);
    if (heldUp) this.#heldUp = true;
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    this.#turnCpu = this.#cpu();
    this.#turnStart = this.#clock.now();
    setImmediate(this.#turn);
  }

  /**
   * One turn of the event loop after deadlines passed (its poll phase has read what arrived): a
   * call times out on a quiet turn once the loop has been quiet for its grace, or once its limit
   * passed. While turns are busy, the next one is awaited; during a grace, a timer.
   */
  readonly #turn = (): void => {
    const [now, cpu] = [this.#clock.now(), this.#cpu()];
    // Busy in CPU and in clock time both: CPU alone counts V8's background threads (a turn of
    // 0.1 ms cannot hold 1 ms of the loop's work), clock time alone a process that was descheduled.
    const busy = this.#heldUp || (cpu - this.#turnCpu > QUIET_TURN_MS && now - this.#turnStart > QUIET_TURN_MS);
    if (busy) this.#busySeenAt = now;
    this.#heldUp = false;
    this.#turnCpu = cpu;
    this.#turnStart = now;
    let wakeAt = Number.POSITIVE_INFINITY;
    for (let entry = this.#draining.head; entry !== undefined; ) {
      const next = entry.next;
      const quietUntil = this.#busySeenAt + entry.ms * QUIET_GRACE_SHARE;
      if (cpu >= entry.cpuLimit || now >= entry.limit || (!busy && now >= quietUntil)) {
        this.#draining.remove(entry);
        entry.timedOut = true;
        entry.reject(entry.onTimeout());
      } else {
        wakeAt = Math.min(wakeAt, quietUntil, entry.limit);
      }
      entry = next;
    }
    if (this.#draining.head === undefined) {
      this.#turnScheduled = false;
    } else if (busy) {
      setImmediate(this.#turn);
    } else {
      // Quiet, within a grace: sleep until it ends rather than spin.
      this.#clock.setTimeout(() => {
        if (this.#heldUpSince(wakeAt, cpu)) this.#heldUp = true;
        this.#turnCpu = this.#cpu();
        this.#turnStart = this.#clock.now();
        setImmediate(this.#turn);
      }, wakeAt - now);
    }
  };

  #arm(ms: number): void {
    this.#armedCpu = this.#cpu();
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, ms));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    const heldUp = this.#waiting.head !== undefined && this.#heldUpSince(this.#waiting.head.at, this.#armedCpu);
    for (let entry = this.#waiting.head; entry !== undefined && entry.at <= now; entry = this.#waiting.head) {
      this.#waiting.remove(entry);
      this.#pass(entry, heldUp);
    }
    if (this.#waiting.head !== undefined) this.#arm(this.#waiting.head.at - now);
  };
}
