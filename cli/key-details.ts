// Remaining TTL and size of keys, read in pipelined batches: one round trip per batch instead of
// two per key, each batch under the command deadline.

import { isServerReply } from '../adapters/redis-primary.js';
import type { RedisClient, RedisSession } from './connect.js';
import { expectInteger } from './replies.js';

/** Keys per pipeline: 2 commands each, a few kilobytes on the wire, far below any deadline. */
export const DETAIL_BATCH = 250;

/** How sizes are measured. */
export type SizeSource = 'memory-usage' | 'strlen';

/** A key's remaining TTL and size. */
export interface KeyDetail {
  /** The key as Redis holds it: bytes, as a key need not be UTF-8. */
  readonly redisKey: Buffer;
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
  /**
   * Keys the server no longer holds because their slot moved to another cluster master between
   * SCAN and the lookup (it answered `MOVED` or `ASK`): a resharding or a failover during the run.
   */
  readonly moved: number;
}

/**
 * Sends `commands` as one pipeline and answers every reply in order, an error reply in its place.
 * node-redis writes all commands issued in the same tick in one socket write (that is how its own
 * `execAsPipeline` works), but `execAsPipeline` rejects with the first error reply and drops the
 * rest; here a refused `MEMORY USAGE` must not hide the `PTTL` beside it.
 */
async function pipeline(client: RedisClient, commands: ReadonlyArray<ReadonlyArray<string | Buffer>>) {
  const settled = await Promise.allSettled(commands.map((args) => client.sendCommand(args)));
  return settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : outcome.reason));
}

/** True when the server refuses `MEMORY USAGE` (ACL, renamed command) rather than the key. */
function memoryDenied(reply: unknown): boolean {
  return isServerReply(reply) && /^(NOPERM|ERR unknown command)/i.test((reply as Error).message);
}

/** `MOVED` or `ASK`: a cluster node saying the key's slot is served elsewhere now. */
const redirect = /^(MOVED|ASK) /;

/** What {@link checkPttl} answers for a key whose slot moved to another master: see {@link DetailResult.moved}. */
const MOVED = -3;

/**
 * A PTTL reply: -2 (gone), -1 (no TTL) or the remaining milliseconds; {@link MOVED} for a
 * redirection. A refused PTTL (ACL) fails the command, thrown here so that the session explains
 * it; any other reply is a protocol error.
 */
function checkPttl(reply: unknown): number {
  if (isServerReply(reply) && redirect.test((reply as Error).message)) return MOVED;
  if (reply instanceof Error) throw reply;
  return expectInteger(reply, -2);
}

/**
 * A size reply: an integer, `null` (MEMORY USAGE of a key that vanished) or an error reply (STRLEN
 * of a key that is not a string: WRONGTYPE), the last two as unknown.
 */
function checkSize(reply: unknown): number | null {
  if (reply === null || isServerReply(reply)) return null;
  if (reply instanceof Error) throw reply;
  return expectInteger(reply, 0);
}

/** The commands of one batch: PTTL and a size for each key. */
function batchCommands(batch: readonly Buffer[], source: SizeSource): Array<Array<string | Buffer>> {
  return batch.flatMap((key) => [
    ['PTTL', key],
    source === 'memory-usage' ? ['MEMORY', 'USAGE', key] : ['STRLEN', key],
  ]);
}

/** Sends one batch and checks its replies; `undefined` when MEMORY USAGE is denied (switch to STRLEN). */
function sendBatch(session: RedisSession, batch: readonly Buffer[], source: SizeSource) {
  const command = source === 'memory-usage' ? 'PTTL + MEMORY USAGE' : 'PTTL + STRLEN';
  return session.run(command, async (client) => {
    const replies = await pipeline(client, batchCommands(batch, source));
    if (source === 'memory-usage' && replies.some((reply, i) => i % 2 === 1 && memoryDenied(reply))) return undefined;
    return batch.map((_, i) => ({ pttl: checkPttl(replies[2 * i]), bytes: checkSize(replies[2 * i + 1]) }));
  });
}

/**
 * PTTL and size of every key, `MEMORY USAGE` when allowed, else `STRLEN` (a read-only ACL user
 * may lack `MEMORY`). Progress goes to `onBatch` with the number of keys done.
 */
export async function readDetails(
  session: RedisSession,
  keys: readonly Buffer[],
  onBatch: (done: number) => void = () => {},
): Promise<DetailResult> {
  let sizeSource: SizeSource = 'memory-usage';
  const details: KeyDetail[] = [];
  let vanished = 0;
  let moved = 0;
  for (let start = 0; start < keys.length; start += DETAIL_BATCH) {
    const batch = keys.slice(start, start + DETAIL_BATCH);
    let replies = await sendBatch(session, batch, sizeSource);
    if (replies === undefined) {
      // Once denied, always denied for this connection: switch for the rest of the run.
      sizeSource = 'strlen';
      replies = await sendBatch(session, batch, sizeSource);
    }
    for (const [i, redisKey] of batch.entries()) {
      const { pttl, bytes } = replies?.[i] ?? { pttl: -2, bytes: null };
      if (pttl === -2) vanished++;
      else if (pttl === MOVED) moved++;
      else details.push({ redisKey, ttlMs: pttl === -1 ? null : pttl, bytes });
    }
    onBatch(Math.min(keys.length, start + batch.length));
  }
  return { details, sizeSource, vanished, moved };
}

/** How the sizes of every master were measured: alike, or `mixed`. */
export function sizeSourceOf(nodes: ReadonlyArray<{ readonly sizeSource: SizeSource }>): SizeSource | 'mixed' {
  const sources = new Set(nodes.map((node) => node.sizeSource));
  return sources.size === 1 ? ([...sources][0] as SizeSource) : sources.size === 0 ? 'memory-usage' : 'mixed';
}
