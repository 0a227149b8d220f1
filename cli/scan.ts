// The one way the CLI walks keys: SCAN with a modest COUNT, bounded, with progress on stderr.
// Never KEYS: on a large database KEYS blocks Redis for every client until it has walked them all.
import { isServerReply } from '../adapters/redis-primary.js';
import type { RedisSession } from './connect.js';
import type { Progress } from './progress.js';
import { expectInteger, expectScanPage, ProtocolError, type ScanPage } from './replies.js';

/**
 * Keys per SCAN call. A hint to Redis, which then walks about this many slots per call: small
 * enough that one call costs the server well under a millisecond, large enough to keep round trips few.
 */
export const SCAN_COUNT = 500;

/** SCAN calls allowed whatever the database size: enough for 5 million empty hash-table slots. */
export const SCAN_CALLS_BASE = 1_000;

/** SCAN calls allowed when `DBSIZE` is refused (an ACL without it): 50 million keys at 500 a call. */
export const SCAN_CALLS_WITHOUT_DBSIZE = 100_000;

/**
 * The default bound on SCAN calls for a database of `dbsize` keys. Redis ends a SCAN call once it
 * has collected COUNT keys (before MATCH filters them) or walked 10 × COUNT hash-table slots, so a
 * full pass takes about `dbsize / COUNT` calls, plus one per 5000 empty slots of a sparse table.
 * Twice that, plus {@link SCAN_CALLS_BASE}, leaves room for keys added during the pass and for
 * duplicates while the table is rehashed; a healthy server never comes near it. A server (or proxy)
 * whose cursor never returns to 0 hits it in seconds instead of looping until `--max-time`.
 */
export function defaultScanCalls(dbsize: number | undefined): number {
  if (dbsize === undefined) return SCAN_CALLS_WITHOUT_DBSIZE;
  return SCAN_CALLS_BASE + 2 * Math.ceil(dbsize / SCAN_COUNT);
}

/** How {@link scanKeys} walks the keyspace. */
export interface ScanOptions {
  /** SCAN MATCH pattern, e.g. `keyv::keyv:price:*`. */
  readonly pattern: string;
  /** Stop once this many keys were found. */
  readonly limit: number;
  /** Give up after this many SCAN calls; `undefined` for {@link defaultScanCalls}. */
  readonly maxCalls: number | undefined;
  /** Reported to every 1000 keys found and at least once a second while scanning. */
  readonly progress: Progress;
}

/** What a scan found and whether it stopped early. */
export interface ScanResult {
  /** Distinct keys as Redis holds them (bytes: a key need not be UTF-8), at most `limit`. */
  readonly keys: Buffer[];
  /** True when the scan stopped at `limit` before the end of the keyspace: more keys may match. */
  readonly truncated: boolean;
  /** Number of SCAN round trips. */
  readonly calls: number;
  /** `DBSIZE` before the scan (every namespace of the database); `undefined` when refused. */
  readonly dbsize: number | undefined;
}

/** `DBSIZE`, or `undefined` when the ACL refuses it (or it was renamed away). */
async function readDbsize(session: RedisSession): Promise<number | undefined> {
  try {
    return await session.run('DBSIZE', async (client) => expectInteger(await client.sendCommand(['DBSIZE']), 0));
  } catch (error) {
    const cause = error instanceof Error ? error.cause : undefined;
    if (isServerReply(cause) && /^(NOPERM|ERR unknown command)/i.test((cause as Error).message)) return undefined;
    throw error;
  }
}

/** Raw bytes: a key that is not UTF-8 must come back as it is, to be looked up and shown as it is. */
const BYTES = { 36: Buffer } as const;

/** One SCAN call, its reply checked. */
function scanPage(session: RedisSession, cursor: string, pattern: string): Promise<ScanPage> {
  return session.run('SCAN', async (client) =>
    expectScanPage(
      await client.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT)], { typeMapping: BYTES }),
    ),
  );
}

/**
 * Walks the keyspace with SCAN until the cursor is back at 0 or `limit` keys were found. The whole
 * walk is bounded, not only each call: by `limit`, by `maxCalls`, by `--max-time` (through the
 * session), and by the cursor itself: a cursor that comes back means the walk would never end.
 * @throws {CliError} when the server's SCAN does not walk the keyspace (see above).
 */
export async function scanKeys(session: RedisSession, options: ScanOptions): Promise<ScanResult> {
  const { pattern, limit, progress } = options;
  const dbsize = await readDbsize(session);
  const maxCalls = options.maxCalls ?? defaultScanCalls(dbsize);
  // SCAN may return a key more than once (while the table is rehashed): count each once.
  const found = new Map<string, Buffer>();
  // Redis's cursor only moves forward through the table, so no value can come back within a pass.
  const seen = new Set<string>(['0']);
  let cursor = '0';
  let calls = 0;
  let nextReport = 1_000;
  let truncated = false;
  do {
    if (calls === maxCalls) {
      throw session.fail(
        'SCAN',
        new ProtocolError(
          `a cursor that was not back at 0 after ${calls} SCAN calls (DBSIZE ${dbsize ?? 'refused'}; raise --max-scan-calls if the keyspace is that sparse)`,
        ),
      );
    }
    const page = await scanPage(session, cursor, pattern);
    calls++;
    if (page.cursor !== '0' && seen.has(page.cursor)) {
      throw session.fail('SCAN', new ProtocolError(`the cursor ${page.cursor} again, which would loop forever`));
    }
    seen.add(page.cursor);
    cursor = page.cursor;
    for (const [i, key] of page.keys.entries()) {
      // latin1 maps each byte to one character: a lossless Map key for any key.
      found.set(key.toString('latin1'), key);
      if (found.size >= limit) {
        truncated = i < page.keys.length - 1 || cursor !== '0';
        break;
      }
    }
    const milestone = found.size >= nextReport;
    if (milestone) nextReport = (Math.floor(found.size / 1_000) + 1) * 1_000;
    progress.report(`scanning: ${found.size} keys found, ${calls} SCAN calls`, milestone);
  } while (cursor !== '0' && found.size < limit);
  progress.done();
  return { keys: [...found.values()], truncated, calls, dbsize };
}
