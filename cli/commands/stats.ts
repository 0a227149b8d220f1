// `keyv-failsafe stats`: key count, bytes and TTL spread per category (or per first key segment),
// and the server's memory, from one bounded SCAN pass.
import { Command, Option } from 'commander';
import { loadConfig } from '../config.js';
import { parseRedisUrl, type RedisSession } from '../connect.js';
import { addConnectionFlags, type ConnectionFlags, integerAtLeast } from '../flags.js';
import { formatBytes, formatDuration, quantile, renderTable } from '../format.js';
import { readInfo } from '../info.js';
import { readDetails, type SizeSource } from '../key-details.js';
import { applicationKey, type Categorizer, firstSegment, keyPrefix, NO_CATEGORY, scanPattern } from '../keys.js';
import { type Progress, silentProgress, streamProgress } from '../progress.js';
import { scanKeys } from '../scan.js';
import { output, withSession } from '../session.js';

/** Flags of `stats`. */
export interface StatsFlags extends ConnectionFlags {
  readonly namespace: string;
  readonly maxKeys: number;
  readonly config?: string;
  readonly json?: boolean;
}

/** Totals of one group of keys. TTLs in ms, over the keys that have one. */
export interface GroupStats {
  /** Category name, `(none)`, or a first segment such as `price:`. */
  readonly name: string;
  readonly keys: number;
  readonly bytes: number;
  readonly ttlMinMs: number | null;
  readonly ttlMedianMs: number | null;
  readonly ttlMaxMs: number | null;
  /** Keys without a TTL: they live until evicted or deleted. */
  readonly withoutTtl: number;
  /** The category's TTL, when grouped by category. */
  readonly categoryTtlMs: number | null;
}

/** The server's memory, from `INFO memory`; `null` fields when INFO is denied. */
export interface ServerMemory {
  readonly usedMemory: number | null;
  readonly usedMemoryHuman: string | null;
  /** 0 means no limit. */
  readonly maxmemory: number | null;
  readonly maxmemoryHuman: string | null;
  readonly maxmemoryPolicy: string | null;
  /** Keys in the selected database, all namespaces (`DBSIZE`). */
  readonly dbsize: number;
}

/** What `stats` reports; also its `--json` shape. */
export interface StatsReport {
  readonly url: string;
  readonly namespace: string;
  readonly pattern: string;
  readonly groupedBy: 'category' | 'segment';
  /** Keys summarised (at most `maxKeys`). */
  readonly scanned: number;
  readonly maxKeys: number;
  /** True when the scan stopped at `maxKeys`: the totals cover part of the namespace. */
  readonly truncated: boolean;
  readonly sizeSource: SizeSource;
  /** Sorted by bytes, largest first. */
  readonly groups: GroupStats[];
  readonly total: GroupStats;
  readonly server: ServerMemory;
}

/** What {@link stats} needs besides the session. */
export interface StatsOptions {
  readonly namespace: string;
  readonly maxKeys: number;
  readonly categorize: Categorizer | undefined;
  readonly progress: Progress;
}

interface Accumulator {
  keys: number;
  bytes: number;
  ttls: number[];
  withoutTtl: number;
  categoryTtlMs: number | null;
}

function summarise(name: string, group: Accumulator): GroupStats {
  const ttls = group.ttls.sort((a, b) => a - b);
  return {
    name,
    keys: group.keys,
    bytes: group.bytes,
    ttlMinMs: ttls[0] ?? null,
    ttlMedianMs: quantile(ttls, 0.5) ?? null,
    ttlMaxMs: ttls[ttls.length - 1] ?? null,
    withoutTtl: group.withoutTtl,
    categoryTtlMs: group.categoryTtlMs,
  };
}

function memoryOf(info: Record<string, string> | undefined, dbsize: number): ServerMemory {
  const number = (field: string) => (info?.[field] === undefined ? null : Number(info[field]));
  return {
    usedMemory: number('used_memory'),
    usedMemoryHuman: info?.used_memory_human ?? null,
    maxmemory: number('maxmemory'),
    maxmemoryHuman: info?.maxmemory_human ?? null,
    maxmemoryPolicy: info?.maxmemory_policy ?? null,
    dbsize,
  };
}

/** One SCAN pass over the namespace (at most `maxKeys` keys), summarised per group. */
export async function stats(session: RedisSession, options: StatsOptions): Promise<StatsReport> {
  const pattern = scanPattern(options.namespace, undefined);
  const prefix = keyPrefix(options.namespace);
  const { progress, categorize } = options;
  const scan = await scanKeys(session, { pattern, limit: options.maxKeys, progress });
  const { details, sizeSource } = await readDetails(session, scan.keys, (done) =>
    progress.report(`reading TTL and size: ${done}/${scan.keys.length} keys`, done % 5_000 === 0),
  );
  progress.done();

  const groups = new Map<string, Accumulator>();
  const total: Accumulator = { keys: 0, bytes: 0, ttls: [], withoutTtl: 0, categoryTtlMs: null };
  for (const detail of details) {
    const key = applicationKey(detail.redisKey, prefix);
    const category =
      categorize === undefined ? undefined : (categorize(key) ?? { name: NO_CATEGORY, ttlMs: undefined });
    const name = category?.name ?? firstSegment(key);
    let group = groups.get(name);
    if (group === undefined) {
      group = { keys: 0, bytes: 0, ttls: [], withoutTtl: 0, categoryTtlMs: category?.ttlMs ?? null };
      groups.set(name, group);
    }
    for (const target of [group, total]) {
      target.keys++;
      target.bytes += detail.bytes ?? 0;
      if (detail.ttlMs === null) target.withoutTtl++;
      else target.ttls.push(detail.ttlMs);
    }
  }

  const memory = await readInfo(session, 'memory');
  const dbsize = await session.run('DBSIZE', (client) => client.dbSize());
  return {
    url: session.safeUrl,
    namespace: options.namespace,
    pattern,
    groupedBy: categorize === undefined ? 'segment' : 'category',
    scanned: details.length,
    maxKeys: options.maxKeys,
    truncated: scan.truncated,
    sizeSource,
    groups: [...groups]
      .map(([name, group]) => summarise(name, group))
      .sort((a, b) => b.bytes - a.bytes || b.keys - a.keys),
    total: summarise('total', total),
    server: memoryOf(memory, dbsize),
  };
}

const ttlCell = (ms: number | null) => (ms === null ? '-' : formatDuration(ms));

/** The text rendering of a {@link StatsReport}: a table per group, a total, and the server's memory. */
export function renderStats(report: StatsReport): string {
  const row = (g: GroupStats) => [
    g.categoryTtlMs === null ? g.name : `${g.name} (${formatDuration(g.categoryTtlMs)})`,
    String(g.keys),
    formatBytes(g.bytes),
    ttlCell(g.ttlMinMs),
    ttlCell(g.ttlMedianMs),
    ttlCell(g.ttlMaxMs),
    String(g.withoutTtl),
  ];
  const table = renderTable(
    [
      { header: report.groupedBy === 'category' ? 'CATEGORY' : 'PREFIX' },
      { header: 'KEYS', alignRight: true },
      { header: 'BYTES', alignRight: true },
      { header: 'TTL MIN', alignRight: true },
      { header: 'TTL MEDIAN', alignRight: true },
      { header: 'TTL MAX', alignRight: true },
      { header: 'NO TTL', alignRight: true },
    ],
    [...report.groups.map(row), row(report.total)],
  );
  const s = report.server;
  const limit =
    s.maxmemory === null ? 'unknown' : s.maxmemory === 0 ? 'none' : (s.maxmemoryHuman ?? String(s.maxmemory));
  const lines = [
    table,
    '',
    `${report.scanned} keys under ${report.pattern}; sizes from ${report.sizeSource === 'memory-usage' ? 'MEMORY USAGE' : 'STRLEN (MEMORY USAGE denied)'}.`,
    s.usedMemory === null
      ? `Server: ${s.dbsize} keys in this database (INFO memory denied).`
      : `Server: used_memory ${s.usedMemoryHuman}, maxmemory ${limit}, policy ${s.maxmemoryPolicy}, ${s.dbsize} keys in this database.`,
  ];
  if (report.truncated) lines.push(`Stopped at --max-keys ${report.maxKeys}: totals cover part of the namespace.`);
  return lines.join('\n');
}

/** The `stats` command. */
export function statsCommand(): Command {
  const command = new Command('stats').description(
    'summarise key count, bytes and TTL spread per category, and server memory (one bounded SCAN pass; read-only)',
  );
  addConnectionFlags(command)
    .option('--namespace <name>', "Keyv namespace ('' for keys without a prefix)", 'keyv')
    .addOption(
      new Option('--max-keys <n>', 'summarise at most this many keys').argParser(integerAtLeast(1)).default(100_000),
    )
    .option('-c, --config <file>', 'ES module exporting the { categories, rules } given to TieredStore({ ttl })')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Without --config, keys are grouped by their first segment (price:crypto:BTC -> "price:").

Examples:
  $ keyv-failsafe stats --url redis://127.0.0.1:6379
  $ keyv-failsafe stats --url redis://127.0.0.1:6379 --config ./ttl.config.mjs --json
  $ REDIS_URL=redis://:secret@10.0.0.5:6379 keyv-failsafe stats --namespace app --max-keys 20000`,
    )
    .action(async (flags: StatsFlags) => {
      parseRedisUrl(flags.url);
      const categorize = flags.config === undefined ? undefined : await loadConfig(flags.config);
      const report = await withSession(flags, (session) =>
        stats(session, {
          namespace: flags.namespace,
          maxKeys: flags.maxKeys,
          categorize,
          progress: flags.quiet ? silentProgress : streamProgress(process.stderr),
        }),
      );
      output(report, flags.json, renderStats);
    });
  return command;
}
