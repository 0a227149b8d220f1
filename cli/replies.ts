// Checks on what the server answered. The CLI sends raw commands and trusts no reply's shape: a
// proxy, a half-compatible server or a hostile one must produce a clear error, never a crash
// deep in a loop, a wrong report or a scan that never ends.
import { printableKey } from './format.js';

/** The server answered a command with a reply of the wrong type or out of range. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  /** @param description what was wrong, e.g. `a simple string "OK" instead of an array`. */
  constructor(description: string) {
    super(description);
  }
}

/** A short, escaped account of a reply, for an error message. */
export function describeReply(reply: unknown): string {
  if (reply === null || reply === undefined) return 'a null reply';
  if (Buffer.isBuffer(reply) || typeof reply === 'string') return `the string ${printableKey(reply, 40)}`;
  if (typeof reply === 'number' || typeof reply === 'bigint') return `the integer ${reply}`;
  if (Array.isArray(reply)) return `an array of ${reply.length} ${reply.length === 1 ? 'item' : 'items'}`;
  return `a reply of type ${reply.constructor?.name ?? typeof reply}`;
}

/** A reply is an integer: `min` or more. */
export function expectInteger(reply: unknown, min: number): number {
  if (typeof reply === 'number' && Number.isSafeInteger(reply) && reply >= min) return reply;
  throw new ProtocolError(`${describeReply(reply)} instead of an integer >= ${min}`);
}

/** A reply is a string (bulk or simple). */
export function expectText(reply: unknown): string {
  if (typeof reply === 'string') return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  throw new ProtocolError(`${describeReply(reply)} instead of text`);
}

/** A SCAN reply: the next cursor and a page of keys, as bytes. */
export interface ScanPage {
  /** Decimal, `0` when the walk is over. */
  readonly cursor: string;
  readonly keys: readonly Buffer[];
}

/** Redis cursors are unsigned 64-bit integers: at most 20 decimal digits. */
const CURSOR = /^\d{1,20}$/;

/** A reply is `[cursor, [key, ...]]` with a decimal cursor and bulk-string keys. */
export function expectScanPage(reply: unknown): ScanPage {
  if (!Array.isArray(reply) || reply.length !== 2) {
    throw new ProtocolError(`${describeReply(reply)} instead of [cursor, [keys]]`);
  }
  const [cursor, keys] = reply as [unknown, unknown];
  const text = Buffer.isBuffer(cursor) || typeof cursor === 'string' ? cursor.toString() : undefined;
  if (text === undefined || !CURSOR.test(text)) {
    throw new ProtocolError(`a cursor that is ${describeReply(cursor)} instead of a decimal number`);
  }
  if (!Array.isArray(keys)) throw new ProtocolError(`keys that are ${describeReply(keys)} instead of an array`);
  // Keys are asked for as bytes: a simple string or a number is not what Redis sends.
  const bad = keys.find((key) => !Buffer.isBuffer(key));
  if (bad !== undefined) throw new ProtocolError(`a key that is ${describeReply(bad)} instead of a bulk string`);
  // Normalised, so that `007` and `7` are one cursor for the loop check.
  return { cursor: BigInt(text).toString(), keys: keys as Buffer[] };
}
