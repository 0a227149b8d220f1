import { describe, expect, it } from 'vitest';
import { BUSY_WAIT_FACTOR, Deadlines } from '../src/deadline.js';
import { type Clock, TieredStore } from '../src/index.js';
import { ManualClock } from './helpers/manual-clock.js';
import { ScriptedPrimary } from './helpers/scripted-primary.js';

// A deadline measures the primary, not the event loop: a deadline that passes while the process is
// busy waits for a quiet turn, bounded by BUSY_WAIT_FACTOR x the deadline. The event loop's turns
// are real (`setImmediate`); how long each takes is told by the manual clock.

const turn = () => new Promise((resolve) => setImmediate(resolve));
const never = () => new Promise<never>(() => {});

/** A reply the test answers when it says so. */
function reply(): { promise: Promise<string>; answer: (value: string) => void } {
  let answer!: (value: string) => void;
  const promise = new Promise<string>((resolve) => {
    answer = resolve;
  });
  return { promise, answer };
}

/**
 * Makes the next `turns` turns of the event loop busy: each moves the clock `ms` before the
 * deadline's own turn runs (queued first, it stays first), then calls `onTurn(n)`. Call it before
 * the clock passes the deadline.
 */
function busyTurns(clock: ManualClock, turns: number, ms: number, onTurn: (n: number) => void = () => {}): void {
  let n = 0;
  const step = () => {
    clock.advance(ms);
    onTurn(++n);
    if (n < turns) setImmediate(step);
  };
  setImmediate(step);
}

/** Records the clock time at which `promise` settled. */
function settledAt(clock: Clock, promise: Promise<unknown>): { at: number | undefined; outcome: string | undefined } {
  const seen: { at: number | undefined; outcome: string | undefined } = { at: undefined, outcome: undefined };
  promise.then(
    (value) => Object.assign(seen, { at: clock.now(), outcome: `value ${String(value)}` }),
    (error: Error) => Object.assign(seen, { at: clock.now(), outcome: error.message }),
  );
  return seen;
}

describe('Deadlines under a busy event loop', () => {
  it('a deadline that passes during busy turns waits: the reply processed in a later turn settles the call', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const { promise: answerable, answer } = reply();
    const seen = settledAt(
      clock,
      deadlines.bound(answerable, () => new Error('timeout')),
    );
    // Three busy turns of 20 ms after the deadline; the reply is read in the third.
    busyTurns(clock, 3, 20, (n) => n === 3 && answer('v'));
    clock.advance(100);
    for (let i = 0; i < 5; i++) await turn();
    expect(seen.outcome).toBe('value v');
    expect(deadlines.pending).toBe(0);
  });

  it('a hung server in an idle process: the first turn after the deadline is quiet and times the call out', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const start = clock.now();
    const seen = settledAt(
      clock,
      deadlines.bound(never(), () => new Error('timeout')),
    );
    clock.advance(100);
    await turn();
    await turn();
    expect(seen).toEqual({ at: start + 100, outcome: 'timeout' });
    expect(deadlines.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('after busy turns, a hung call gets its deadline again in quiet time, then times out', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const start = clock.now();
    const seen = settledAt(
      clock,
      deadlines.bound(never(), () => new Error('timeout')),
    );
    busyTurns(clock, 2, 5);
    clock.advance(100);
    for (let i = 0; i < 6; i++) await turn();
    // Busy until +110; the grace runs to +210 on a timer, not on spinning turns.
    expect(seen.outcome).toBeUndefined();
    expect(clock.pendingTimers).toBe(1);
    clock.advance(99);
    await turn();
    expect(seen.outcome).toBeUndefined();
    clock.advance(1);
    await turn();
    expect(seen).toEqual({ at: start + 210, outcome: 'timeout' });
    expect(deadlines.pending).toBe(0);
  });

  it('a command written when a long block ends gets its grace: its answer is not a timeout', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const { promise: answerable, answer } = reply();
    const seen = settledAt(
      clock,
      deadlines.bound(answerable, () => new Error('timeout')),
    );
    busyTurns(clock, 1, 300);
    clock.advance(100);
    for (let i = 0; i < 4; i++) await turn();
    // Quiet since the block ended; 10 ms later the server's answer arrives.
    clock.advance(10);
    answer('v');
    await turn();
    expect(seen.outcome).toBe('value v');
  });

  it('a process that stays busy holds a hung call no longer than BUSY_WAIT_FACTOR x the deadline', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const start = clock.now();
    const seen = settledAt(
      clock,
      deadlines.bound(never(), () => new Error('timeout')),
    );
    busyTurns(clock, 100, 10);
    clock.advance(100);
    for (let i = 0; i < 60 && seen.at === undefined; i++) await turn();
    expect(seen.outcome).toBe('timeout');
    expect(seen.at).toBe(start + 100 + 100 * BUSY_WAIT_FACTOR);
  });

  it('a timer that fires late counts as a busy turn: a reply read in the turn after is not a timeout', async () => {
    const manual = new ManualClock();
    // Every timer fires 30 ms late, as it does when the loop is blocked past the deadline.
    const clock: Clock = {
      now: () => manual.now(),
      setTimeout: (fn, ms) => manual.setTimeout(fn, ms + 30),
      clearTimeout: (handle) => manual.clearTimeout(handle),
    };
    const deadlines = new Deadlines(100, clock);
    const { promise: answerable, answer } = reply();
    const seen = settledAt(
      clock,
      deadlines.bound(answerable, () => new Error('timeout')),
    );
    // The reply is read one turn after the timer fired (the deadline's first turn comes before it).
    setImmediate(() => setImmediate(() => answer('v')));
    manual.advance(130);
    for (let i = 0; i < 5; i++) await turn();
    expect(seen.outcome).toBe('value v');
  });

  it('calls past their deadline share one turn, and each still times out on its own', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const results: string[] = [];
    for (let i = 0; i < 50; i++)
      deadlines.bound(never(), () => new Error(`t${i}`)).catch((e: Error) => results.push(e.message));
    const { promise, answer } = reply();
    const answered = deadlines.bound(promise, () => new Error('late'));
    busyTurns(clock, 1, 5, () => answer('v'));
    clock.advance(100);
    for (let i = 0; i < 4; i++) await turn();
    expect(await answered).toBe('v');
    expect(results).toHaveLength(0);
    clock.advance(100);
    for (let i = 0; i < 4; i++) await turn();
    expect(results).toHaveLength(50);
    expect(deadlines.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it("a batch's own, longer deadline waits for a quiet turn too, and its timer is cleared when it settles", async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const { promise, answer } = reply();
    const seen = settledAt(
      clock,
      deadlines.bound(promise, () => new Error('timeout'), 400),
    );
    busyTurns(clock, 2, 10, (n) => n === 2 && answer('batch'));
    clock.advance(500);
    for (let i = 0; i < 5; i++) await turn();
    expect(seen.outcome).toBe('value batch');
    await deadlines.bound(Promise.resolve(1), () => new Error('x'), 400);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('the store on a busy event loop (scripted primary)', () => {
  function setup() {
    const clock = new ManualClock();
    const primary = new ScriptedPrimary();
    const store = new TieredStore({ primary, clock, namespace: 'ns' });
    return { clock, primary, store };
  }

  it('64 gets answered while the loop is busy past their deadline: no timeout, the breaker stays closed', async () => {
    const h = setup();
    for (let i = 0; i < 64; i++) h.primary.data.set(`ns::ns:k${i}`, { value: `v${i}`, ttlMs: undefined });
    h.primary.hold();
    const gets = Array.from({ length: 64 }, (_, i) => h.store.get(`ns:k${i}`));
    // The replies arrive, but the process spends 3 ms a turn on each before the next is read.
    busyTurns(h.clock, 10, 3, (n) => n === 8 && h.primary.release());
    h.clock.advance(100);
    const values = await Promise.all(gets);
    expect(values).toEqual(Array.from({ length: 64 }, (_, i) => `v${i}`));
    expect(h.store.stats().timeouts).toBe(0);
    expect(h.store.circuitState).toBe('closed');
  });

  it('a hung primary in an idle process: the get times out on the first quiet turn and memory answers', async () => {
    const h = setup();
    expect(await h.store.set('ns:k', 'v')).toBe(true);
    h.primary.hold();
    const start = h.clock.now();
    const get = h.store.get('ns:k');
    h.clock.advance(100);
    expect(await get).toBe('v');
    expect(h.clock.now()).toBe(start + 100);
    expect(h.store.stats().timeouts).toBe(1);
  });
});
