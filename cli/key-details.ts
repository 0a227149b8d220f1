// Remaining TTL and size of keys, read in pipelined batches: one round trip per batch instead of
// two per key, each batch under the command deadline.

import { isServerReply } from '../adapters/redis-primary.js';
import type { RedisClient, RedisSession } from './connect.js';

/** Keys per pipeline: 2 commands each, a few kilobytes on the wire, far below any deadline. */
export const DETAIL_BATCH = 250;

/** How sizes are measured. */
export type SizeSource = 'memory-usage' | 'strlen';

/** A key's remaining TTL and size. */
export interface KeyDetail {
  readonly redisKey: string;
  /** Remaining TTL in ms; `null` when the key has none. */
  readonly ttlMs: number | null;
  /** Bytes: `MEMORY USAGE` (key, value and overhead) or `STRLEN` (value only); `null` if unknown. */
  readonly bytes: number | null;
}

/** The details of keys that still exist, and how sizes were measured. */
export interface DetailResult {
  readonly details: KeyDetail[];
  readonly sizeSource: SizeSource;
  /** Keys that expired or were deleted between SCAN and the lookup. */
  readonly vanished: number;
}

/**
 * Sends `commands` as one pipeline and answers every reply in order, an error reply in its place.
 * node-redis writes all commands issued in the same tick in one socket write (that is how its own
 * `execAsPipeline` works), but `execAsPipeline` rejects with the first error reply and drops the
 * rest; here a refused `MEMORY USAGE` must not hide the `PTTL` beside it.
 */
async function pipeline(client: RedisClient, commands: (client: RedisClient) => Array<Promise<unknown>>) {
  const settled = await Promise.allSettled(commands(client));
  return settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : outcome.reason));
}

/** True when the server refuses `MEMORY USAGE` (ACL, renamed command) rather than the key. */
function memoryDenied(reply: unknown): boolean {
  return isServerReply(reply) && /^(NOPERM|ERR unknown command)/i.test((reply as Error).message);
}

/**
 * PTTL and size of every key, `MEMORY USAGE` when allowed, else `STRLEN` (a read-only ACL user
 * may lack `MEMORY`). Progress goes to `onBatch` with the number of keys done.
 */
export async function readDetails(
  session: RedisSession,
  keys: readonly string[],
  onBatch: (done: number) => void = () => {},
): Promise<DetailResult> {
  let sizeSource: SizeSource = 'memory-usage';
  const details: KeyDetail[] = [];
  let vanished = 0;
  for (let start = 0; start < keys.length; start += DETAIL_BATCH) {
    const batch = keys.slice(start, start + DETAIL_BATCH);
    const send = (source: SizeSource) =>
      session.run(source === 'memory-usage' ? 'PTTL + MEMORY USAGE' : 'PTTL + STRLEN', async (client) => {
        const replies = await pipeline(client, (c) =>
          batch.flatMap((key) => [c.pTTL(key), source === 'memory-usage' ? c.memoryUsage(key) : c.strLen(key)]),
        );
        // A refused PTTL (ACL) fails the command; thrown here so that the session explains it.
        const refused = replies.find((reply, i) => i % 2 === 0 && typeof reply !== 'number');
        if (refused !== undefined)
          throw refused instanceof Error ? refused : new Error(`unexpected PTTL reply ${String(refused)}`);
        return replies;
      });
    let replies = await send(sizeSource);
    if (sizeSource === 'memory-usage' && replies.some((reply, i) => i % 2 === 1 && memoryDenied(reply))) {
      // Once denied, always denied for this connection: switch for the rest of the run.
      sizeSource = 'strlen';
      replies = await send(sizeSource);
    }
    batch.forEach((redisKey, i) => {
      const pttl = replies[2 * i] as number;
      const size = replies[2 * i + 1];
      if (pttl === -2) {
        vanished++;
        return;
      }
      // STRLEN of a non-string key answers WRONGTYPE, MEMORY USAGE of a vanished key null.
      const bytes = typeof size === 'number' ? size : null;
      details.push({ redisKey, ttlMs: pttl === -1 ? null : pttl, bytes });
    });
    onBatch(Math.min(keys.length, start + batch.length));
  }
  return { details, sizeSource, vanished };
}
