// Time bounds: one per wait (connect, each command), and one for the whole run (`--max-time`), so
// that a server answering each command just in time cannot hold the CLI for rounds without end.

/** Thrown by {@link withDeadline} when the time is up. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  /** What was being waited for: `connect`, `SCAN`, `loading --config`. */
  readonly what: string;
  readonly ms: number;
  /** The flag that set the bound: `--connect-timeout`, `--timeout` or `--max-time`. */
  readonly flag: string;

  constructor(what: string, ms: number, flag: string) {
    super(`${what} did not complete within ${ms} ms (${flag})`);
    this.what = what;
    this.ms = ms;
    this.flag = flag;
  }
}

/**
 * Settles like `promise`, or rejects with a {@link DeadlineError} after `ms`. node-redis stops
 * timing a command once it is on the socket, so a hung server would otherwise hold the CLI forever.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string, flag: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms, flag)), ms);
    // A timer that outlives its command must not keep the process alive.
    timer.unref();
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The wall-clock budget of one CLI run (`--max-time`), shared by every wait of the run. */
export class Budget {
  /** The whole budget, ms. */
  readonly ms: number;
  readonly #endsAt: number;

  constructor(ms: number) {
    this.ms = ms;
    this.#endsAt = Date.now() + ms;
  }

  /**
   * Waits for `promise` at most `stepMs` (set by `stepFlag`), or less when the run has less left:
   * the error then names `--max-time`, the bound that actually stopped it.
   * @throws {DeadlineError} when the time is up, at once when the budget is spent already.
   */
  async wait<T>(
    promise: Promise<T>,
    what: string,
    stepMs: number = Number.POSITIVE_INFINITY,
    stepFlag = '--max-time',
  ): Promise<T> {
    const left = this.#endsAt - Date.now();
    const [ms, flag] = left < stepMs ? [left, '--max-time'] : [stepMs, stepFlag];
    if (ms <= 0) {
      // Nothing will wait for it: keep an eventual rejection from being reported as unhandled.
      promise.catch(() => {});
      throw new DeadlineError(what, flag === '--max-time' ? this.ms : ms, flag);
    }
    try {
      return await withDeadline(promise, ms, what, flag);
    } catch (error) {
      // Report the flag's value, not the few milliseconds that were left of it.
      if (error instanceof DeadlineError && error.flag === '--max-time') throw new DeadlineError(what, this.ms, flag);
      throw error;
    }
  }
}
