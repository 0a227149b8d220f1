import { performance } from 'node:perf_hooks';
import type { KeyModel } from './key-model.js';
import type { CacheClient } from './libraries/types.js';
import { bounded, type Outcome } from './outcome.js';
import type { StaleCheck } from './protocol.js';

/**
 * Reads every key once through `client` and compares it with the newest write or delete this
 * process made. A miss is never stale (a cache may always forget); an older version, or any value
 * for a key whose newest operation was a delete, is.
 */
export async function checkStaleness(
  client: CacheClient,
  model: KeyModel,
  capMs: number,
  concurrency: number,
  reachedRedis: boolean,
): Promise<StaleCheck> {
  const counts = {
    reachedRedis,
    checked: 0,
    fresh: 0,
    misses: 0,
    stale: 0,
    resurrected: 0,
    staleAfterAcked: 0,
    staleAfterFailed: 0,
    staleAfterHung: 0,
    anomalies: 0,
    unanswered: 0,
    rejected: 0,
  };
  // As many reads in flight as the load had: a burst of 1000 would itself trip a deadline (a
  // timed-out read served as a miss would hide what Redis holds).
  const outcomes = new Array<Outcome<unknown> | undefined>(model.keys.length).fill(undefined);
  // No read starts after `capMs`: through a connection that swallows everything (blackhole) every
  // read hangs, and 1000 keys at 32 in flight would take 1000 / 32 x capMs. Keys never read count
  // as unanswered.
  const deadline = performance.now() + capMs;
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < model.keys.length && performance.now() < deadline) {
      const index = next++;
      const key = model.keys[index] as string;
      outcomes[index] = await bounded(() => client.get(key), capMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, reader));
  outcomes.forEach((outcome, index) => {
    counts.checked++;
    if (outcome === undefined || outcome.status === 'hung') {
      counts.unanswered++;
      return;
    }
    if (outcome.status === 'rejected') {
      counts.rejected++;
      return;
    }
    if (outcome.value === undefined || outcome.value === null) {
      counts.misses++;
      return;
    }
    const value = outcome.value as { k?: unknown; v?: unknown };
    const expected = model.expected(index);
    if (value.k !== model.keys[index] || typeof value.v !== 'number' || value.v > expected.version) {
      counts.anomalies++;
      return;
    }
    if (!expected.deleted && value.v === expected.version) {
      counts.fresh++;
      return;
    }
    counts.stale++;
    if (expected.deleted) counts.resurrected++;
    if (expected.ack === 'acked') counts.staleAfterAcked++;
    else if (expected.ack === 'failed') counts.staleAfterFailed++;
    else counts.staleAfterHung++;
  });
  return counts;
}
