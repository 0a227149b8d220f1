import { describe, expect, it } from 'vitest';
import { Deadlines } from '../src/deadline.js';
import { PrimaryTimeoutError } from '../src/index.js';
import { ManualClock } from './helpers/manual-clock.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('Deadlines (injected clock)', () => {
  it('rejects with the given error when the clock passes the deadline, not before', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const bounded = deadlines.bound(new Promise<never>(() => {}), () => new PrimaryTimeoutError('get', 100));
    let settled = false;
    bounded.catch(() => {
      settled = true;
    });
    clock.advance(99);
    await flush();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(bounded).rejects.toMatchObject({
      name: 'PrimaryTimeoutError',
      code: 'E_PRIMARY_TIMEOUT',
      timeoutMs: 100,
    });
  });

  it('expires each promise at its own deadline under one timer', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    const expired: string[] = [];
    const never = () => new Promise<never>(() => {});
    deadlines.bound(never(), () => new Error('a')).catch((e: Error) => expired.push(e.message));
    clock.advance(30);
    deadlines.bound(never(), () => new Error('b')).catch((e: Error) => expired.push(e.message));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(70);
    await flush();
    expect(expired).toEqual(['a']);
    clock.advance(29);
    await flush();
    expect(expired).toEqual(['a']);
    clock.advance(1);
    await flush();
    expect(expired).toEqual(['a', 'b']);
    expect(clock.pendingTimers).toBe(0);
    expect(deadlines.pending).toBe(0);
  });

  it('settles with the promise and forgets the call at once; the timer then stops', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(100, clock);
    await expect(deadlines.bound(Promise.resolve(7), () => new Error('late'))).resolves.toBe(7);
    await expect(deadlines.bound(Promise.reject(new Error('boom')), () => new Error('late'))).rejects.toThrow('boom');
    expect(deadlines.pending).toBe(0);
    clock.advance(100);
    expect(clock.pendingTimers).toBe(0);
  });

  it('swallows a rejection that arrives after the deadline (no unhandled rejection)', async () => {
    const clock = new ManualClock();
    const deadlines = new Deadlines(10, clock);
    let reject!: (e: Error) => void;
    const late = new Promise<never>((_, r) => {
      reject = r;
    });
    const bounded = deadlines.bound(late, () => new Error('deadline'));
    clock.advance(10);
    await expect(bounded).rejects.toThrow('deadline');
    reject(new Error('too late'));
    await flush();
  });
});
