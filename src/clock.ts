/**
 * The one source of time for deadlines, TTLs and (later) the circuit breaker.
 *
 * Injected so that tests drive time instead of sleeping, in the spirit of
 * lru-cache's `perf` option and p-timeout's `customTimers`.
 */
export interface Clock {
  /** Monotonic milliseconds. Only differences between two readings mean anything. */
  now(): number;
  /** Schedules `fn` after `ms`. The timer must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer returned by {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
  /**
   * CPU time the process has used, in ms. Deadlines tell a busy event loop (one that may hold a
   * reply back) from a process that was merely descheduled on a loaded machine by it; without it,
   * they go by {@link Clock.now}.
   */
  cpuNow?(): number;
}

/** The real clock: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    // A deadline must never be the reason a process stays up.
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
  cpuNow() {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  },
};
