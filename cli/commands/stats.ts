// `keyv-failsafe stats`: key count, bytes and TTL spread per category (or per first key segment),
// and the server's memory, from one bounded SCAN pass.
import { Command, Option } from 'commander';
import { loadConfig } from '../config.js';
import type { RedisSession } from '../connect.js';
import { Budget } from '../deadline.js';
import { addConnectionFlags, addScanFlags, type ConnectionFlags, integerInRange, MAX_KEYS } from '../flags.js';
import { formatBytes, formatDuration, printableKey, quantile, renderTable } from '../format.js';
import { readInfo } from '../info.js';
import { readDetails, type SizeSource } from '../key-details.js';
import {
  applicationKey,
  type Categorizer,
  firstSegment,
  keyPrefix,
  NO_CATEGORY,
  NO_SEGMENT,
  scanPattern,
} from '../keys.js';
import { type Progress, silentProgress, streamProgress } from '../progress.js';
import { scanKeys } from '../scan.js';
import { output, withSession } from '../session.js';
import { parseRedisUrl } from '../target.js';

/** Flags of `stats`. */
export interface StatsFlags extends ConnectionFlags {
  readonly namespace: string;
  readonly maxKeys: number;
  readonly maxScanCalls?: number;
  readonly config?: string;
  readonly json?: boolean;
}

/** Totals of one group of keys. TTLs in ms, over the keys that have one. */
export interface GroupStats {
  /** Category name, `(none)`, or a first segment such as `price:` (read as UTF-8). */
  readonly name: string;
  /** The first segment's bytes, for the text rendering (a key need not be UTF-8); not in `--json`. */
  readonly nameBytes?: Uint8Array;
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
  /** Keys in the selected database, all namespaces (`DBSIZE` before the scan); `null` when refused. */
  readonly dbsize: number | null;
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
  /** Bound on SCAN calls; `undefined` for the default derived from DBSIZE. */
  readonly maxScanCalls?: number | undefined;
  readonly categorize: Categorizer | undefined;
  readonly progress: Progress;
}

interface Accumulator {
  nameBytes?: Uint8Array;
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
    ...(group.nameBytes === undefined ? {} : { nameBytes: group.nameBytes }),
    keys: group.keys,
    bytes: group.bytes,
    ttlMinMs: ttls[0] ?? null,
    ttlMedianMs: quantile(ttls, 0.5) ?? null,
    ttlMaxMs: ttls[ttls.length - 1] ?? null,
    withoutTtl: group.withoutTtl,
    categoryTtlMs: group.categoryTtlMs,
  };
}

function memoryOf(info: Record<string, string> | undefined, dbsize: number | undefined): ServerMemory {
  // The server wrote these: a field that is not a number is unknown, not NaN.
  const number = (field: string) => {
    const value = Number(info?.[field] ?? Number.NaN);
    return Number.isFinite(value) && value >= 0 ? value : null;
  };
  return {
    usedMemory: number('used_memory'),
    usedMemoryHuman: info?.used_memory_human ?? null,
    maxmemory: number('maxmemory'),
    maxmemoryHuman: info?.maxmemory_human ?? null,
    maxmemoryPolicy: info?.maxmemory_policy ?? null,
    dbsize: dbsize ?? null,
  };
}

/** One SCAN pass over the namespace (at most `maxKeys` keys), summarised per group. */
export async function stats(session: RedisSession, options: StatsOptions): Promise<StatsReport> {
  const pattern = scanPattern(options.namespace, undefined);
  const prefix = keyPrefix(options.namespace);
  const { progress, categorize } = options;
  const scan = await scanKeys(session, { pattern, limit: options.maxKeys, maxCalls: options.maxScanCalls, progress });
  const { details, sizeSource } = await readDetails(session, scan.keys, (done) =>
    progress.report(`reading TTL and size: ${done}/${scan.keys.length} keys`, done % 5_000 === 0),
  );
  progress.done();

  const groups = new Map<string, Accumulator>();
  const total: Accumulator = { keys: 0, bytes: 0, ttls: [], withoutTtl: 0, categoryTtlMs: null };
  for (const detail of details) {
    const key = applicationKey(detail.redisKey, prefix);
    const { name, nameBytes, ttlMs } = groupOf(key, categorize);
    let group = groups.get(name);
    if (group === undefined) {
      group = { keys: 0, bytes: 0, ttls: [], withoutTtl: 0, categoryTtlMs: ttlMs ?? null };
      if (nameBytes !== undefined) group.nameBytes = nameBytes;
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
      .map(([key, group]) =>
        summarise(group.nameBytes === undefined ? key : Buffer.from(key, 'latin1').toString('utf8'), group),
      )
      .sort((a, b) => b.bytes - a.bytes || b.keys - a.keys),
    total: summarise('total', total),
    server: memoryOf(memory, scan.dbsize),
  };
}

/**
 * The group of an application key: its category with `--config` (`(none)` when no rule covers
 * it), else its first segment; `name` is the Map key (a segment as latin1, one character a byte).
 */
function groupOf(key: Buffer, categorize: Categorizer | undefined) {
  if (categorize !== undefined) {
    const category = categorize(key.toString('utf8')) ?? { name: NO_CATEGORY, ttlMs: undefined };
    return { name: category.name, nameBytes: undefined, ttlMs: category.ttlMs };
  }
  const segment = firstSegment(key);
  if (segment === undefined) return { name: NO_SEGMENT, nameBytes: undefined, ttlMs: undefined };
  return { name: segment.toString('latin1'), nameBytes: segment, ttlMs: undefined };
}

const ttlCell = (ms: number | null) => (ms === null ? '-' : formatDuration(ms));

/** The first cell of a row: the group's name, escaped, with the category's TTL. */
function groupCell(group: GroupStats): string {
  const name = printableKey(group.nameBytes ?? group.name);
  return group.categoryTtlMs === null ? name : `${name} (${formatDuration(group.categoryTtlMs)})`;
}

/** The server's memory and key count; every value the server wrote is escaped. */
function serverLine(s: ServerMemory): string {
  const keys = s.dbsize === null ? 'DBSIZE denied' : `${s.dbsize} keys in this database`;
  if (s.usedMemory === null) return `Server: ${keys} (INFO memory denied).`;
  const shown = (value: string | null, fallback = 'unknown') => (value === null ? fallback : printableKey(value, 64));
  const limit =
    s.maxmemory === null ? 'unknown' : s.maxmemory === 0 ? 'none' : shown(s.maxmemoryHuman, String(s.maxmemory));
  return `Server: used_memory ${shown(s.usedMemoryHuman)}, maxmemory ${limit}, policy ${shown(s.maxmemoryPolicy)}, ${keys}.`;
}

/** The text rendering of a {@link StatsReport}: a table per group, a total, and the server's memory. */
export function renderStats(report: StatsReport): string {
  const row = (g: GroupStats) => [
    groupCell(g),
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
  const lines = [
    table,
    '',
    `${report.scanned} keys under ${printableKey(report.pattern)}; sizes from ${report.sizeSource === 'memory-usage' ? 'MEMORY USAGE' : 'STRLEN (MEMORY USAGE denied)'}.`,
    serverLine(report.server),
  ];
  if (report.truncated) lines.push(`Stopped at --max-keys ${report.maxKeys}: totals cover part of the namespace.`);
  return lines.join('\n');
}

/** The `stats` command. */
export function statsCommand(): Command {
  const command = new Command('stats').description(
    'summarise key count, bytes and TTL spread per category, and server memory (one bounded SCAN pass; read-only)',
  );
  addScanFlags(addConnectionFlags(command))
    .addOption(
      new Option('--max-keys <n>', 'summarise at most this many keys')
        .argParser(integerInRange(1, MAX_KEYS))
        .default(100_000),
    )
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
      // A bad URL is reported before a config module is run.
      parseRedisUrl(flags.url);
      const budget = new Budget(flags.maxTime);
      const categorize = flags.config === undefined ? undefined : await loadConfig(flags.config, budget);
      const progress = flags.quiet ? silentProgress : streamProgress(process.stderr);
      // Cleared however the run ends, so that an error starts on a line of its own on a terminal.
      const report = await withSession(flags, budget, (session) =>
        stats(session, {
          namespace: flags.namespace,
          maxKeys: flags.maxKeys,
          maxScanCalls: flags.maxScanCalls,
          categorize,
          progress,
        }),
      ).finally(() => progress.done());
      output(report, flags.json, renderStats);
    });
  return command;
}
