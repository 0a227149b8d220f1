import type { Timings } from './protocol.js';

const common = {
  // 3 s: 30x TieredStore's deadline and far above any healthy call on a loaded 2-core machine.
  callCapMs: 3_000,
  slowMs: 1_000,
  workers: 32,
  // 1000 keys at ~3,000 calls/s: a few calls per key per second, so an outage leaves keys whose
  // newest call was a write (with 200 keys nearly every key is also deleted during each outage,
  // which hides staleness).
  keys: 1_000,
  // A fixed pause makes the offered load the same for every library (about 32 x 90 calls/s while
  // calls are fast) instead of rewarding the fastest with more calls.
  thinkMs: 10,
  // 300 ms per chunk: 3x TieredStore's deadline, yet far below the call cap, so a library that
  // waits shows as slow, not hung. Resets ~300 ms apart: each reconnect has time to complete first.
  proxyDelayMs: 300,
  resets: 3,
  resetGapMs: 300,
} as const;

/**
 * The full run: about 5 minutes for the whole matrix on 2 cores. Outages outlast `callCapMs`, so a
 * library that waits for Redis to come back shows hung calls, not just slow ones.
 */
export const FULL: Timings = {
  ...common,
  warmupMs: 800,
  outageMs: 3_200,
  hangMs: 2_000,
  flaps: 4,
  flapDownMs: 300,
  flapUpMs: 300,
  afterMs: 800,
  recoveryCapMs: 6_000,
  quiesceMs: 300,
};

/** `--quick`: shorter phases, same shape, under 2 minutes; outages are shorter than `callCapMs`. */
export const QUICK: Timings = {
  ...common,
  warmupMs: 300,
  outageMs: 800,
  hangMs: 1_200,
  flaps: 3,
  flapDownMs: 200,
  flapUpMs: 200,
  afterMs: 400,
  recoveryCapMs: 4_000,
  quiesceMs: 200,
};

/**
 * The orchestrator kills a pair's child after this long: every phase is bounded, so only a harness
 * bug or a library blocking the event loop gets there.
 */
export function hardCapMs(timings: Timings): number {
  const phases =
    timings.callCapMs + // seed
    timings.warmupMs +
    Math.max(
      timings.outageMs,
      timings.hangMs,
      timings.flaps * (timings.flapDownMs + timings.flapUpMs),
      timings.resets * timings.resetGapMs,
    ) +
    Math.max(timings.recoveryCapMs, timings.afterMs) +
    timings.callCapMs + // drain
    timings.quiesceMs +
    timings.callCapMs * 5 + // stale checks (each at most 2 caps), fresh instance reaching Redis
    4_000; // closes
  return phases + 15_000; // child start-up (tsx) and server restarts on a busy machine
}
