import { describe, expect, it } from 'vitest';
import { withDeadline } from '../src/deadline.js';
import { PrimaryTimeoutError } from '../src/index.js';
import { ManualClock } from './helpers/manual-clock.js';

describe('withDeadline (injected clock)', () => {
  it('rejects with the given error when the clock passes the deadline', async () => {
    const clock = new ManualClock();
    const never = new Promise<never>(() => {});
    const bounded = withDeadline(never, 100, clock, () => new PrimaryTimeoutError('get', 100));
    clock.advance(99);
    let settled = false;
    bounded.catch(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(bounded).rejects.toMatchObject({
      name: 'PrimaryTimeoutError',
      code: 'E_PRIMARY_TIMEOUT',
      timeoutMs: 100,
    });
  });

  it('settles with the promise and clears its timer', async () => {
    const clock = new ManualClock();
    await expect(withDeadline(Promise.resolve(7), 100, clock, () => new Error('late'))).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('boom')), 100, clock, () => new Error('late'))).rejects.toThrow(
      'boom',
    );
    expect(clock.pendingTimers).toBe(0);
  });

  it('swallows a rejection that arrives after the deadline (no unhandled rejection)', async () => {
    const clock = new ManualClock();
    let reject!: (e: Error) => void;
    const late = new Promise<never>((_, r) => {
      reject = r;
    });
    const bounded = withDeadline(late, 10, clock, () => new Error('deadline'));
    clock.advance(10);
    await expect(bounded).rejects.toThrow('deadline');
    reject(new Error('too late'));
    await new Promise((resolve) => setImmediate(resolve));
  });
});
