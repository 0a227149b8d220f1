// `keyv-failsafe inspect`: the keys under a namespace with their remaining TTL, size and category.
// Replaces `redis-cli KEYS price:*` + `TTL key`: SCAN instead of KEYS, a limit, pipelined lookups.
import { Command, Option } from 'commander';
import { formatRanges, type SlotRange } from '../cluster.js';
import type { RedisSession } from '../connect.js';
import {
  addConnectionFlags,
  addScanFlags,
  type ConnectionFlags,
  integerInRange,
  MAX_KEYS,
  nonEmpty,
} from '../flags.js';
import { formatBytes, formatDuration, printableKey, renderTable } from '../format.js';
import { type KeyDetail, readDetails, type SizeSource, sizeSourceOf } from '../key-details.js';
import { applicationKey, type Categorizer, keyPrefix, scanPattern } from '../keys.js';
import type { Progress } from '../progress.js';
import { scanKeys, scanNodes } from '../scan.js';
import {
  type ClusterRun,
  type ClusterSummary,
  clusterLine,
  clusterSummary,
  everyMaster,
  masters,
  runScanCommand,
} from '../session.js';

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

/** A key as the report shows it. */
function inspectedKey(detail: KeyDetail, prefix: string, categorize: Categorizer | undefined): InspectedKey {
  const keyBytes = applicationKey(detail.redisKey, prefix);
  const key = keyBytes.toString('utf8');
  const category = categorize?.(key);
  return {
    key,
    redisKey: detail.redisKey.toString('utf8'),
    keyBytes,
    ttlMs: detail.ttlMs,
    bytes: detail.bytes,
    category: category?.name ?? null,
    categoryTtlMs: category?.ttlMs ?? null,
  };
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
    .map((detail) => inspectedKey(detail, prefix, options.categorize))
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

/** A key of a cluster's {@link ClusterInspectReport}: the master holding it besides. */
export interface ClusterInspectedKey extends InspectedKey {
  /** The master whose SCAN returned it (its URL, credentials hidden); its TTL and size were read there. */
  readonly node: string;
  /** The master's `host:port`, for the table; not in `--json`. */
  readonly nodeAddress?: Uint8Array;
}

/** One master in a cluster's {@link ClusterInspectReport}. */
export interface InspectNodeReport {
  readonly url: string;
  readonly id: string | null;
  readonly slots: number;
  readonly slotRanges: readonly SlotRange[];
  /** Keys reported from this master. */
  readonly found: number;
  readonly scanCalls: number;
  /** True when the run's `--limit` stopped this master's scan before its end. */
  readonly truncated: boolean;
  readonly sizeSource: SizeSource;
  /** Keys its SCAN returned whose slot had moved to another master by the lookup (MOVED/ASK). */
  readonly moved: number;
}

/** `inspect` on a cluster: the {@link InspectReport} over every master, and one entry per master. */
export interface ClusterInspectReport extends Omit<InspectReport, 'keys' | 'sizeSource'> {
  /** `mixed` when some masters allowed MEMORY USAGE and others did not: see each node's. */
  readonly sizeSource: SizeSource | 'mixed';
  readonly keys: ClusterInspectedKey[];
  readonly cluster: ClusterSummary;
  readonly nodes: InspectNodeReport[];
}

/**
 * Scans up to `limit` keys in all matching `match` under `namespace` on every master of a cluster,
 * and reads each key's TTL and size on the master whose SCAN returned it.
 */
export async function inspectCluster(run: ClusterRun, options: InspectOptions): Promise<ClusterInspectReport> {
  const sessions = everyMaster(run);
  const pattern = scanPattern(options.namespace, options.match);
  const prefix = keyPrefix(options.namespace);
  const scan = await scanNodes(sessions, {
    pattern,
    limit: options.limit,
    maxCalls: options.maxScanCalls,
    progress: options.progress,
  });
  const results = await Promise.all(sessions.map((session, i) => readDetails(session, scan.nodes[i]?.keys ?? [])));
  const keys = results
    .flatMap((result, i) => {
      const node = run.masters[i] as ClusterRun['masters'][number];
      const nodeAddress = Buffer.from(node.master.address);
      return result.details.map(
        (detail): ClusterInspectedKey => ({
          ...inspectedKey(detail, prefix, options.categorize),
          node: node.safeUrl,
          nodeAddress,
        }),
      );
    })
    .sort((a, b) => Buffer.compare(a.keyBytes, b.keyBytes));
  const nodes = run.masters.map(
    (node, i): InspectNodeReport => ({
      url: node.safeUrl,
      id: node.master.id,
      slots: node.master.slots,
      slotRanges: node.master.ranges,
      found: results[i]?.details.length ?? 0,
      scanCalls: scan.nodes[i]?.calls ?? 0,
      truncated: scan.nodes[i]?.truncated ?? false,
      sizeSource: results[i]?.sizeSource ?? 'memory-usage',
      moved: results[i]?.moved ?? 0,
    }),
  );
  return {
    url: run.safeUrl,
    namespace: options.namespace,
    pattern,
    limit: options.limit,
    truncated: scan.truncated,
    sizeSource: sizeSourceOf(nodes),
    keys,
    cluster: clusterSummary(run),
    nodes,
  };
}

/** The category cell: the name and the category's own TTL, beside the key's remaining one. */
function categoryCell(key: InspectedKey): string {
  if (key.category === null) return '';
  const name = printableKey(key.category);
  return key.categoryTtlMs === null ? name : `${name} (${formatDuration(key.categoryTtlMs)})`;
}

/** How sizes were measured, as the summary line says it. */
function sizesText(source: SizeSource): string {
  return source === 'memory-usage' ? 'MEMORY USAGE' : 'STRLEN (MEMORY USAGE denied)';
}

/** The table: a row per key; a NODE column with the master's address on a cluster. */
function keyTable(keys: ReadonlyArray<InspectedKey | ClusterInspectedKey>, withNode: boolean): string {
  return renderTable(
    [
      { header: 'KEY' },
      { header: 'TTL', alignRight: true },
      { header: 'SIZE', alignRight: true },
      ...(withNode ? [{ header: 'NODE' }] : []),
      { header: 'CATEGORY' },
    ],
    keys.map((k) => [
      printableKey(k.keyBytes),
      k.ttlMs === null ? 'no TTL' : formatDuration(k.ttlMs),
      k.bytes === null ? '?' : formatBytes(k.bytes),
      ...(withNode ? [printableKey(('nodeAddress' in k && k.nodeAddress) || '?')] : []),
      categoryCell(k),
    ]),
  );
}

/** The text rendering of an {@link InspectReport}: a table and a one-line summary. */
export function renderInspect(report: InspectReport): string {
  const pattern = printableKey(report.pattern);
  if (report.keys.length === 0) return `No keys match ${pattern}.`;
  const table = keyTable(report.keys, false);
  const sizes = sizesText(report.sizeSource);
  const summary = `${report.keys.length} ${report.keys.length === 1 ? 'key' : 'keys'} matching ${pattern}, sizes from ${sizes}`;
  const more = report.truncated ? `\nStopped at --limit ${report.limit}: more keys may match.` : '';
  return `${table}\n\n${summary}${more}`;
}

/**
 * The text rendering of a {@link ClusterInspectReport}: the table with the master of each key, a
 * summary, the cluster's state and one line per master.
 */
export function renderClusterInspect(report: ClusterInspectReport): string {
  const pattern = printableKey(report.pattern);
  const all = masters(report.nodes.length);
  const sizes =
    report.sizeSource === 'mixed'
      ? report.nodes.map((node) => `${node.url} ${sizesText(node.sizeSource)}`).join(', ')
      : sizesText(report.sizeSource);
  const lines =
    report.keys.length === 0
      ? [`No keys match ${pattern} on any of the ${all}.`]
      : [
          keyTable(report.keys, true),
          '',
          `${report.keys.length} ${report.keys.length === 1 ? 'key' : 'keys'} matching ${pattern} on ${all}, sizes from ${sizes}`,
        ];
  lines.push(clusterLine(report.cluster));
  for (const node of report.nodes) {
    const moved = node.moved > 0 ? `, ${node.moved} moved to another master before their lookup` : '';
    lines.push(
      `Node ${node.url} (slots ${formatRanges(node.slotRanges)}): ${node.found} ${node.found === 1 ? 'key' : 'keys'}, ${node.scanCalls} SCAN calls${moved}`,
    );
  }
  if (report.truncated) lines.push(`Stopped at --limit ${report.limit}: more keys may match, on every master alike.`);
  return lines.join('\n');
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
      new Option('-l, --limit <n>', 'stop after this many keys (in all, on a cluster)')
        .argParser(integerInRange(1, MAX_KEYS))
        .default(100),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ keyv-failsafe inspect --url redis://127.0.0.1:6379 --match 'price:*'
  $ keyv-failsafe inspect --url redis://127.0.0.1:6379 --match 'price:crypto:*' --config ./ttl.config.mjs
  $ REDIS_URL=redis://:secret@10.0.0.5:6379 keyv-failsafe inspect --namespace app --limit 20 --json

On a cluster node, every master is scanned; --limit and --max-scan-calls are for the whole run.

The config module default-exports (or exports as \`ttl\`) the object the application passes as
TieredStore's \`ttl\` option, e.g.:
  export default { categories: defineTtlCategories({ priceCrypto: '30s' }),
                   rules: [{ match: 'price:crypto:*', category: 'priceCrypto' }] };`,
    )
    .action((flags: InspectFlags) =>
      runScanCommand(
        flags,
        (categorize, progress): InspectOptions => ({
          namespace: flags.namespace,
          match: flags.match,
          limit: flags.limit,
          maxScanCalls: flags.maxScanCalls,
          categorize,
          progress,
        }),
        { standalone: inspect, cluster: inspectCluster, render: renderInspect, renderCluster: renderClusterInspect },
      ),
    );
  return command;
}
