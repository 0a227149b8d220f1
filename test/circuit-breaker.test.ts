import { describe, expect, it } from 'vitest';
import {
  type BreakerOptions,
  CircuitBreaker,
  type CircuitState,
  defaultBreakerOptions,
} from '../src/circuit-breaker.js';
import { ManualClock } from './helpers/manual-clock.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

function make(options: Partial<BreakerOptions> = {}, probeResults: boolean[] = []) {
  const clock = new ManualClock();
  const transitions: Array<[CircuitState, CircuitState, string]> = [];
  let probes = 0;
  let release: ((ok: boolean) => void) | undefined;
  const breaker = new CircuitBreaker(
    { ...defaultBreakerOptions, ...options },
    clock,
    () => {
      probes++;
      const next = probeResults.shift();
      if (next !== undefined) return Promise.resolve(next);
      return new Promise<boolean>((resolve) => {
        release = resolve;
      });
    },
    (from, to, reason) => transitions.push([from, to, reason]),
  );
  return { clock, breaker, transitions, probes: () => probes, release: (ok: boolean) => release?.(ok) };
}

describe('CircuitBreaker (injected clock)', () => {
  it('opens after failureThreshold failures in a row; a success resets the count', () => {
    const { breaker } = make();
    for (let i = 0; i < 4; i++) breaker.failure();
    breaker.success();
    for (let i = 0; i < 4; i++) breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.closed).toBe(false);
  });

  it('opens on a failure rate over the window once minimumCalls were made', () => {
    const { breaker, transitions } = make({ failureThreshold: 100, minimumCalls: 20, failureRate: 0.5 });
    for (let i = 0; i < 9; i++) {
      breaker.success();
      breaker.failure();
    }
    expect(breaker.state).toBe('closed');
    breaker.success();
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(transitions).toEqual([['closed', 'open', 'failure-rate']]);
  });

  it('forgets failures older than the window', () => {
    const { breaker, clock } = make({ failureThreshold: 100, minimumCalls: 4, failureRate: 0.5, windowMs: 1_000 });
    breaker.failure();
    breaker.failure();
    breaker.failure();
    clock.advance(1_000);
    for (let i = 0; i < 3; i++) breaker.success();
    breaker.failure();
    expect(breaker.state).toBe('closed');
  });

  it('probes once after the cooldown (with jitter), closes on success', async () => {
    const { breaker, clock, probes, release, transitions } = make({ cooldownMs: 1_000 });
    breaker.connectionLost();
    clock.advance(799);
    expect(breaker.state).toBe('open');
    expect(probes()).toBe(0);
    clock.advance(401);
    expect(breaker.state).toBe('half-open');
    expect(probes()).toBe(1);
    // No flood: the connection coming back while probing does not start a second probe.
    breaker.connectionBack();
    expect(probes()).toBe(1);
    release(true);
    await flush();
    expect(breaker.state).toBe('closed');
    expect(transitions.map(([, to, reason]) => `${to}:${reason}`)).toEqual([
      'open:connection-lost',
      'half-open:cooldown',
      'closed:probe-succeeded',
    ]);
  });

  it('doubles the cooldown after a failed probe, up to maxCooldownMs', async () => {
    const { breaker, clock, probes } = make({ cooldownMs: 1_000, maxCooldownMs: 3_000 }, [false, false, false]);
    breaker.connectionLost();
    clock.advance(1_200);
    await flush();
    expect(probes()).toBe(1);
    expect(breaker.state).toBe('open');
    clock.advance(1_599);
    expect(probes()).toBe(1);
    clock.advance(801);
    await flush();
    expect(probes()).toBe(2);
    clock.advance(2_399);
    expect(probes()).toBe(2);
    clock.advance(1_201);
    await flush();
    expect(probes()).toBe(3);
  });

  it('probes at once when the connection comes back, without waiting for the cooldown', async () => {
    const { breaker, clock, probes } = make({ cooldownMs: 10_000 }, [true]);
    breaker.connectionLost();
    breaker.connectionBack();
    expect(probes()).toBe(1);
    await flush();
    expect(breaker.state).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
  });

  it('leaves no timer behind when disposed', () => {
    const { breaker, clock } = make();
    breaker.connectionLost();
    expect(clock.pendingTimers).toBe(1);
    breaker.dispose();
    expect(clock.pendingTimers).toBe(0);
  });
});
