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
 * SCAN calls shared by several walks (one per cluster master): `--max-scan-calls` bounds the whole
 * run, not each node. Each call takes one; a walk that finds none left fails.
 */
export interface ScanCallPool {
  /** Calls not yet made. */
  left: number;
  /** The flag's value, for the message. */
  readonly total: number;
  /** The walks sharing it, for the message. */
  readonly walks: number;
}

/**
 * The SCAN pass over one server: one call at a time, each checked. The pass is bounded by
 * `maxCalls` (or a shared {@link ScanCallPool}) and by the cursor itself: Redis's cursor only moves
 * forward through the table, so a value that comes back within a pass means it would never end.
 */
export class ScanWalk {
  readonly session: RedisSession;
  readonly pattern: string;
  /** `DBSIZE` before the walk; `undefined` when refused. */
  readonly dbsize: number | undefined;
  readonly #maxCalls: number;
  readonly #pool: ScanCallPool | undefined;
  readonly #seen = new Set<string>(['0']);
  #cursor = '0';
  #calls = 0;

  private constructor(
    session: RedisSession,
    pattern: string,
    dbsize: number | undefined,
    maxCalls: number,
    pool: ScanCallPool | undefined,
  ) {
    this.session = session;
    this.pattern = pattern;
    this.dbsize = dbsize;
    this.#maxCalls = maxCalls;
    this.#pool = pool;
  }

  /**
   * Reads `DBSIZE` and gets ready to walk. Bounded by `maxCalls` when given, else by `pool` when
   * given, else by {@link defaultScanCalls} of this server's `DBSIZE`.
   */
  static async start(
    session: RedisSession,
    pattern: string,
    maxCalls: number | undefined,
    pool?: ScanCallPool,
  ): Promise<ScanWalk> {
    const dbsize = await readDbsize(session);
    const bound = maxCalls ?? (pool === undefined ? defaultScanCalls(dbsize) : Number.POSITIVE_INFINITY);
    return new ScanWalk(session, pattern, dbsize, bound, pool);
  }

  /** SCAN round trips so far. */
  get calls(): number {
    return this.#calls;
  }

  /** True once the cursor is back at 0: the pass is complete. */
  get done(): boolean {
    return this.#calls > 0 && this.#cursor === '0';
  }

  /**
   * One SCAN call: the keys of the next page (possibly none, possibly seen before).
   * @throws {CliError} when the walk has used up its calls, or the server's cursor comes back.
   */
  async next(): Promise<readonly Buffer[]> {
    if (this.#calls === this.#maxCalls) {
      throw this.#fail(
        `a cursor that was not back at 0 after ${this.#calls} SCAN calls (DBSIZE ${this.dbsize ?? 'refused'}; raise --max-scan-calls if the keyspace is that sparse)`,
      );
    }
    if (this.#pool !== undefined) {
      if (this.#pool.left === 0) {
        const { total, walks } = this.#pool;
        // Not a protocol error: more likely a bound too low for this many masters.
        throw this.session.say(
          `Redis at ${this.session.safeUrl}: the SCAN pass was not over when the ${walks} masters had used up --max-scan-calls ${total} together (${this.#calls} calls on this one, DBSIZE ${this.dbsize ?? 'refused'}; raise --max-scan-calls, or leave it out for a bound per master from its DBSIZE)`,
        );
      }
      this.#pool.left--;
    }
    const page = await scanPage(this.session, this.#cursor, this.pattern);
    this.#calls++;
    if (page.cursor !== '0' && this.#seen.has(page.cursor)) {
      throw this.#fail(`the cursor ${page.cursor} again, which would loop forever`);
    }
    this.#seen.add(page.cursor);
    this.#cursor = page.cursor;
    return page.keys;
  }

  #fail(description: string) {
    return this.session.fail('SCAN', new ProtocolError(description));
  }
}

/**
 * Walks the keyspace with SCAN until the cursor is back at 0 or `limit` keys were found. The whole
 * walk is bounded, not only each call: by `limit`, by `maxCalls`, by `--max-time` (through the
 * session), and by the cursor itself: a cursor that comes back means the walk would never end.
 * @throws {CliError} when the server's SCAN does not walk the keyspace (see above).
 */
export async function scanKeys(session: RedisSession, options: ScanOptions): Promise<ScanResult> {
  const { pattern, limit, progress } = options;
  const walk = await ScanWalk.start(session, pattern, options.maxCalls);
  // SCAN may return a key more than once (while the table is rehashed): count each once.
  const found = new Map<string, Buffer>();
  let nextReport = 1_000;
  let truncated = false;
  do {
    const keys = await walk.next();
    for (const [i, key] of keys.entries()) {
      // latin1 maps each byte to one character: a lossless Map key for any key.
      found.set(key.toString('latin1'), key);
      if (found.size >= limit) {
        truncated = i < keys.length - 1 || !walk.done;
        break;
      }
    }
    const milestone = found.size >= nextReport;
    if (milestone) nextReport = (Math.floor(found.size / 1_000) + 1) * 1_000;
    progress.report(`scanning: ${found.size} keys found, ${walk.calls} SCAN calls`, milestone);
  } while (!walk.done && found.size < limit);
  progress.done();
  return { keys: [...found.values()], truncated, calls: walk.calls, dbsize: walk.dbsize };
}

/** What the walk of one cluster master found. */
export interface NodeScanResult {
  /** Distinct keys this master's SCAN returned (and no other master's before it). */
  readonly keys: Buffer[];
  /** True when this master's walk was stopped by the run's limit before its end. */
  readonly truncated: boolean;
  readonly calls: number;
  readonly dbsize: number | undefined;
}

/** What {@link scanNodes} found, per node and in all. */
export interface MultiScanResult {
  /** In the order of the sessions. */
  readonly nodes: NodeScanResult[];
  /** True when the run stopped at `limit` before the end of some master's keyspace. */
  readonly truncated: boolean;
  readonly calls: number;
}

/**
 * Walks several servers at once (the masters of a cluster, each holding its own keys), one SCAN
 * call per unfinished server per round, the calls of a round in flight together. `limit` is for the
 * whole run: each round's pages are taken a key from each in turn, so a run cut short by `limit`
 * samples every master alike rather than the first one only. `maxCalls`, when given, is shared by
 * every walk ({@link ScanCallPool}); without it each master has its own default bound, from its own
 * `DBSIZE`. A key returned by two masters (a slot migrating during the run) counts once, for the first.
 */
export async function scanNodes(sessions: readonly RedisSession[], options: ScanOptions): Promise<MultiScanResult> {
  const { pattern, limit, progress } = options;
  const pool =
    options.maxCalls === undefined
      ? undefined
      : { left: options.maxCalls, total: options.maxCalls, walks: sessions.length };
  const walks = await Promise.all(sessions.map((session) => ScanWalk.start(session, pattern, undefined, pool)));
  const seen = new Set<string>();
  const found = walks.map((): Buffer[] => []);
  const cut = walks.map(() => false);
  let nextReport = 1_000;
  let full = false;
  while (!full) {
    const active = walks.flatMap((walk, index) => (walk.done ? [] : [index]));
    if (active.length === 0) break;
    const pages = await Promise.all(active.map((index) => (walks[index] as ScanWalk).next()));
    const longest = Math.max(...pages.map((page) => page.length));
    for (let i = 0; i < longest && !full; i++) {
      for (const [j, page] of pages.entries()) {
        const key = page[i];
        if (key === undefined) continue;
        const id = key.toString('latin1');
        if (seen.has(id)) continue;
        seen.add(id);
        (found[active[j] as number] as Buffer[]).push(key);
        if (seen.size >= limit) {
          full = true;
          break;
        }
      }
    }
    if (full) {
      // A master whose page was not taken whole, or whose walk is not over, may hold more keys.
      for (const [j, page] of pages.entries()) {
        cut[active[j] as number] = page.some((key) => !seen.has(key.toString('latin1')));
      }
      for (const [index, walk] of walks.entries()) if (!walk.done) cut[index] = true;
    }
    const calls = walks.reduce((sum, walk) => sum + walk.calls, 0);
    const milestone = seen.size >= nextReport;
    if (milestone) nextReport = (Math.floor(seen.size / 1_000) + 1) * 1_000;
    progress.report(`scanning: ${seen.size} keys found, ${calls} SCAN calls on ${walks.length} masters`, milestone);
  }
  progress.done();
  return {
    nodes: walks.map((walk, index) => ({
      keys: found[index] as Buffer[],
      truncated: cut[index] as boolean,
      calls: walk.calls,
      dbsize: walk.dbsize,
    })),
    truncated: cut.some(Boolean),
    calls: walks.reduce((sum, walk) => sum + walk.calls, 0),
  };
}
