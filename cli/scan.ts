// The one way the CLI walks keys: SCAN with a modest COUNT, bounded, with progress on stderr.
// Never KEYS: on a large database KEYS blocks Redis for every client until it has walked them all.
import type { RedisSession } from './connect.js';
import type { Progress } from './progress.js';

/**
 * Keys per SCAN call. A hint to Redis, which then walks about this many slots per call: small
 * enough that one call costs the server well under a millisecond, large enough to keep round trips few.
 */
export const SCAN_COUNT = 500;

/** How {@link scanKeys} walks the keyspace. */
export interface ScanOptions {
  /** SCAN MATCH pattern, e.g. `keyv::keyv:price:*`. */
  readonly pattern: string;
  /** Stop once this many keys were found. */
  readonly limit: number;
  /** Reported to every 1000 keys found and at least once a second while scanning. */
  readonly progress: Progress;
}

/** What a scan found and whether it stopped early. */
export interface ScanResult {
  /** Distinct keys, at most `limit`. */
  readonly keys: string[];
  /** True when the scan stopped at `limit` before the end of the keyspace: more keys may match. */
  readonly truncated: boolean;
  /** Number of SCAN round trips. */
  readonly calls: number;
}

/** Walks the keyspace with SCAN until the cursor is back at 0 or `limit` keys were found. */
export async function scanKeys(session: RedisSession, options: ScanOptions): Promise<ScanResult> {
  const { pattern, limit, progress } = options;
  // SCAN may return a key more than once (while the table is rehashed): count each once.
  const found = new Set<string>();
  let cursor = '0';
  let calls = 0;
  let nextReport = 1_000;
  let truncated = false;
  do {
    const reply = await session.run('SCAN', (client) => client.scan(cursor, { MATCH: pattern, COUNT: SCAN_COUNT }));
    calls++;
    cursor = String(reply.cursor);
    for (let i = 0; i < reply.keys.length; i++) {
      found.add(String(reply.keys[i]));
      if (found.size >= limit) {
        truncated = i < reply.keys.length - 1 || cursor !== '0';
        break;
      }
    }
    if (found.size >= nextReport) {
      nextReport = (Math.floor(found.size / 1_000) + 1) * 1_000;
      progress.report(`scanning: ${found.size} keys found, ${calls} SCAN calls`, true);
    } else {
      progress.report(`scanning: ${found.size} keys found, ${calls} SCAN calls`, false);
    }
  } while (cursor !== '0' && found.size < limit);
  progress.done();
  return { keys: [...found], truncated, calls };
}
