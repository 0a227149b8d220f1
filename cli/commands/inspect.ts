// `keyv-failsafe inspect`: the keys under a namespace with their remaining TTL, size and category.
// Replaces `redis-cli KEYS price:*` + `TTL key`: SCAN instead of KEYS, a limit, pipelined lookups.
import { Command, Option } from 'commander';
import { loadConfig } from '../config.js';
import type { RedisSession } from '../connect.js';
import { Budget } from '../deadline.js';
import {
  addConnectionFlags,
  addScanFlags,
  type ConnectionFlags,
  integerInRange,
  MAX_KEYS,
  nonEmpty,
} from '../flags.js';
import { formatBytes, formatDuration, printableKey, renderTable } from '../format.js';
import { readDetails, type SizeSource } from '../key-details.js';
import { applicationKey, type Categorizer, keyPrefix, scanPattern } from '../keys.js';
import { type Progress, silentProgress, streamProgress } from '../progress.js';
import { scanKeys } from '../scan.js';
import { output, withSession } from '../session.js';
import { parseRedisUrl } from '../target.js';

/** Flags of `inspect`. */
export interface InspectFlags extends ConnectionFlags {
  readonly namespace: string;
  readonly match?: string;
  readonly limit: number;
  readonly maxScanCalls?: number;
  readonly config?: string;
  readonly json?: boolean;
}

/** One key in the `inspect` report. */
export interface InspectedKey {
  /** The key as the application wrote it (`price:crypto:BTC`), read as UTF-8. */
  readonly key: string;
  /** The key in Redis (`keyv::keyv:price:crypto:BTC`), read as UTF-8. */
  readonly redisKey: string;
  /** The application key's bytes, for the text rendering (a key need not be UTF-8); not in `--json`. */
  readonly keyBytes: Uint8Array;
  /** Remaining TTL in ms, `null` for a key without TTL. */
  readonly ttlMs: number | null;
  /** Bytes (see `sizeSource`), `null` when unknown. */
  readonly bytes: number | null;
  /** Category from `--config`; `null` when no rule covers the key or no config was given. */
  readonly category: string | null;
  /** The category's full TTL in ms, to compare with `ttlMs`; `null` without a category. */
  readonly categoryTtlMs: number | null;
}

/** What `inspect` reports; also its `--json` shape (without the `keyBytes`). */
export interface InspectReport {
  readonly url: string;
  readonly namespace: string;
  readonly pattern: string;
  readonly limit: number;
  /** True when the scan stopped at `limit` before the end: more keys may match. */
  readonly truncated: boolean;
  readonly sizeSource: SizeSource;
  readonly keys: InspectedKey[];
}

/** What {@link inspect} needs besides the session. */
export interface InspectOptions {
  readonly namespace: string;
  readonly match: string | undefined;
  readonly limit: number;
  /** Bound on SCAN calls; `undefined` for the default derived from DBSIZE. */
  readonly maxScanCalls?: number | undefined;
  readonly categorize: Categorizer | undefined;
  readonly progress: Progress;
}

/** Scans up to `limit` keys matching `match` under `namespace` and reads their TTL and size. */
export async function inspect(session: RedisSession, options: InspectOptions): Promise<InspectReport> {
  const pattern = scanPattern(options.namespace, options.match);
  const prefix = keyPrefix(options.namespace);
  const scan = await scanKeys(session, {
    pattern,
    limit: options.limit,
    maxCalls: options.maxScanCalls,
    progress: options.progress,
  });
  const { details, sizeSource } = await readDetails(session, scan.keys);
  const keys = details
    .map((detail): InspectedKey => {
      const keyBytes = applicationKey(detail.redisKey, prefix);
      const key = keyBytes.toString('utf8');
      const category = options.categorize?.(key);
      return {
        key,
        redisKey: detail.redisKey.toString('utf8'),
        keyBytes,
        ttlMs: detail.ttlMs,
        bytes: detail.bytes,
        category: category?.name ?? null,
        categoryTtlMs: category?.ttlMs ?? null,
      };
    })
    .sort((a, b) => Buffer.compare(a.keyBytes, b.keyBytes));
  return {
    url: session.safeUrl,
    namespace: options.namespace,
    pattern,
    limit: options.limit,
    truncated: scan.truncated,
    sizeSource,
    keys,
  };
}

/** The category cell: the name and the category's own TTL, beside the key's remaining one. */
function categoryCell(key: InspectedKey): string {
  if (key.category === null) return '';
  const name = printableKey(key.category);
  return key.categoryTtlMs === null ? name : `${name} (${formatDuration(key.categoryTtlMs)})`;
}

/** The text rendering of an {@link InspectReport}: a table and a one-line summary. */
export function renderInspect(report: InspectReport): string {
  const pattern = printableKey(report.pattern);
  if (report.keys.length === 0) return `No keys match ${pattern}.`;
  const table = renderTable(
    [
      { header: 'KEY' },
      { header: 'TTL', alignRight: true },
      { header: 'SIZE', alignRight: true },
      { header: 'CATEGORY' },
    ],
    report.keys.map((k) => [
      printableKey(k.keyBytes),
      k.ttlMs === null ? 'no TTL' : formatDuration(k.ttlMs),
      k.bytes === null ? '?' : formatBytes(k.bytes),
      categoryCell(k),
    ]),
  );
  const sizes = report.sizeSource === 'memory-usage' ? 'MEMORY USAGE' : 'STRLEN (MEMORY USAGE denied)';
  const summary = `${report.keys.length} ${report.keys.length === 1 ? 'key' : 'keys'} matching ${pattern}, sizes from ${sizes}`;
  const more = report.truncated ? `\nStopped at --limit ${report.limit}: more keys may match.` : '';
  return `${table}\n\n${summary}${more}`;
}

/** The `inspect` command. */
export function inspectCommand(): Command {
  const command = new Command('inspect').description(
    'list keys with remaining TTL, size and category (SCAN, never KEYS; read-only)',
  );
  addScanFlags(addConnectionFlags(command))
    .addOption(
      new Option(
        '-m, --match <glob>',
        "Redis glob over the application key, e.g. 'price:*' (default: all keys)",
      ).argParser(nonEmpty('a glob such as price:* (leave --match out for all keys)')),
    )
    .addOption(
      new Option('-l, --limit <n>', 'stop after this many keys').argParser(integerInRange(1, MAX_KEYS)).default(100),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ keyv-failsafe inspect --url redis://127.0.0.1:6379 --match 'price:*'
  $ keyv-failsafe inspect --url redis://127.0.0.1:6379 --match 'price:crypto:*' --config ./ttl.config.mjs
  $ REDIS_URL=redis://:secret@10.0.0.5:6379 keyv-failsafe inspect --namespace app --limit 20 --json

The config module default-exports (or exports as \`ttl\`) the object the application passes as
TieredStore's \`ttl\` option, e.g.:
  export default { categories: defineTtlCategories({ priceCrypto: '30s' }),
                   rules: [{ match: 'price:crypto:*', category: 'priceCrypto' }] };`,
    )
    .action(async (flags: InspectFlags) => {
      // A bad URL is reported before a config module is run.
      parseRedisUrl(flags.url);
      const budget = new Budget(flags.maxTime);
      const categorize = flags.config === undefined ? undefined : await loadConfig(flags.config, budget);
      const progress = flags.quiet ? silentProgress : streamProgress(process.stderr);
      // Cleared however the run ends, so that an error starts on a line of its own on a terminal.
      const report = await withSession(flags, budget, (session) =>
        inspect(session, {
          namespace: flags.namespace,
          match: flags.match,
          limit: flags.limit,
          maxScanCalls: flags.maxScanCalls,
          categorize,
          progress,
        }),
      ).finally(() => progress.done());
      output(report, flags.json, renderInspect);
    });
  return command;
}
