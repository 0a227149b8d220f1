// `keyv-failsafe stats`: key count, bytes and TTL spread per category (or per first key segment),
// and the server's memory, from one bounded SCAN pass (over every master, on a cluster).
import { Command, Option } from 'commander';
import { formatRanges, type SlotRange } from '../cluster.js';
import type { RedisSession } from '../connect.js';
import { addConnectionFlags, addScanFlags, type ConnectionFlags, integerInRange, MAX_KEYS } from '../flags.js';
import { formatBytes, formatDuration, printableKey, quantile, renderTable } from '../format.js';
import { readInfo } from '../info.js';
import { type DetailResult, type KeyDetail, readDetails, type SizeSource, sizeSourceOf } from '../key-details.js';
import {
  applicationKey,
  type Categorizer,
  firstSegment,
  keyPrefix,
  NO_CATEGORY,
  NO_SEGMENT,
  scanPattern,
} from '../keys.js';
import type { Progress } from '../progress.js';
import { type NodeScanResult, scanKeys, scanNodes } from '../scan.js';
import {
  type ClusterRun,
  type ClusterSummary,
  clusterLine,
  clusterSummary,
  everyMaster,
  masters,
  runScanCommand,
} from '../session.js';

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

/** Keys summarised per group (sorted by bytes, largest first), and in total. */
function groupDetails(
  details: readonly KeyDetail[],
  prefix: string,
  categorize: Categorizer | undefined,
): { groups: GroupStats[]; total: GroupStats } {
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
  return {
    groups: [...groups]
      .map(([key, group]) =>
        summarise(group.nameBytes === undefined ? key : Buffer.from(key, 'latin1').toString('utf8'), group),
      )
      .sort((a, b) => b.bytes - a.bytes || b.keys - a.keys),
    total: summarise('total', total),
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
  const { groups, total } = groupDetails(details, prefix, categorize);
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
    groups,
    total,
    server: memoryOf(memory, scan.dbsize),
  };
}

/** One master in a cluster's {@link ClusterStatsReport}. */
export interface StatsNodeReport {
  /** The master's address as the cluster announces it, credentials hidden. */
  readonly url: string;
  readonly id: string | null;
  readonly slots: number;
  readonly slotRanges: readonly SlotRange[];
  /** Keys of the namespace summarised from this master. */
  readonly scanned: number;
  readonly bytes: number;
  readonly scanCalls: number;
  /** True when the run's `--max-keys` stopped this master's scan before its end. */
  readonly truncated: boolean;
  readonly sizeSource: SizeSource;
  /** Keys its SCAN returned whose slot had moved to another master by the lookup (MOVED/ASK). */
  readonly moved: number;
  readonly server: ServerMemory;
}

/**
 * `stats` on a cluster: the {@link StatsReport} over every master (groups and total of all their
 * keys, `server` summed), the cluster's state, and one entry per master.
 */
export interface ClusterStatsReport extends Omit<StatsReport, 'sizeSource'> {
  /** `mixed` when some masters allowed MEMORY USAGE and others did not: see each node's. */
  readonly sizeSource: SizeSource | 'mixed';
  readonly cluster: ClusterSummary;
  readonly nodes: StatsNodeReport[];
}

/** The sum of every master's memory; a field is `null` when some master's is unknown. */
function sumMemory(nodes: readonly ServerMemory[]): ServerMemory {
  const sum = (field: 'usedMemory' | 'maxmemory' | 'dbsize') =>
    nodes.some((node) => node[field] === null) ? null : nodes.reduce((total, node) => total + (node[field] ?? 0), 0);
  const usedMemory = sum('usedMemory');
  // One master without a limit leaves the cluster without one.
  const maxmemory = nodes.some((node) => node.maxmemory === 0) ? 0 : sum('maxmemory');
  const policies = [...new Set(nodes.map((node) => node.maxmemoryPolicy))];
  return {
    usedMemory,
    usedMemoryHuman: usedMemory === null ? null : formatBytes(usedMemory),
    maxmemory,
    maxmemoryHuman: maxmemory === null || maxmemory === 0 ? null : formatBytes(maxmemory),
    maxmemoryPolicy: policies.includes(null) ? null : policies.join(', '),
    dbsize: sum('dbsize'),
  };
}

/** One SCAN pass over the namespace on every master (at most `maxKeys` keys in all), summarised per group. */
export async function statsCluster(run: ClusterRun, options: StatsOptions): Promise<ClusterStatsReport> {
  const sessions = everyMaster(run);
  const pattern = scanPattern(options.namespace, undefined);
  const prefix = keyPrefix(options.namespace);
  const { progress, categorize } = options;
  const scan = await scanNodes(sessions, { pattern, limit: options.maxKeys, maxCalls: options.maxScanCalls, progress });
  const all = scan.nodes.reduce((sum, node) => sum + node.keys.length, 0);
  const done = sessions.map(() => 0);
  // Each master's keys are looked up on that master: it is the one that holds them.
  const results = await Promise.all(
    sessions.map((session, i) =>
      readDetails(session, scan.nodes[i]?.keys ?? [], (count) => {
        done[i] = count;
        const sum = done.reduce((a, b) => a + b, 0);
        progress.report(`reading TTL and size: ${sum}/${all} keys`, count % 5_000 === 0);
      }),
    ),
  );
  progress.done();
  const memories = await Promise.all(sessions.map((session) => readInfo(session, 'memory')));
  const details = results.flatMap((result) => result.details);
  const { groups, total } = groupDetails(details, prefix, categorize);
  const nodes = run.masters.map((node, i): StatsNodeReport => {
    const result = results[i] as DetailResult;
    const walk = scan.nodes[i] as NodeScanResult;
    return {
      url: node.safeUrl,
      id: node.master.id,
      slots: node.master.slots,
      slotRanges: node.master.ranges,
      scanned: result.details.length,
      bytes: result.details.reduce((sum, detail) => sum + (detail.bytes ?? 0), 0),
      scanCalls: walk.calls,
      truncated: walk.truncated,
      sizeSource: result.sizeSource,
      moved: result.moved,
      server: memoryOf(memories[i], walk.dbsize),
    };
  });
  return {
    url: run.safeUrl,
    namespace: options.namespace,
    pattern,
    groupedBy: categorize === undefined ? 'segment' : 'category',
    scanned: details.length,
    maxKeys: options.maxKeys,
    truncated: scan.truncated,
    sizeSource: sizeSourceOf(nodes),
    groups,
    total,
    server: sumMemory(nodes.map((node) => node.server)),
    cluster: clusterSummary(run),
    nodes,
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

/** A server's memory and key count, without a label; every value the server wrote is escaped. */
function memoryText(s: ServerMemory, where: string): string {
  const keys = s.dbsize === null ? 'DBSIZE denied' : `${s.dbsize} keys in ${where}`;
  if (s.usedMemory === null) return `${keys} (INFO memory denied)`;
  const shown = (value: string | null, fallback = 'unknown') => (value === null ? fallback : printableKey(value, 64));
  const limit =
    s.maxmemory === null ? 'unknown' : s.maxmemory === 0 ? 'none' : shown(s.maxmemoryHuman, String(s.maxmemory));
  return `used_memory ${shown(s.usedMemoryHuman)}, maxmemory ${limit}, policy ${shown(s.maxmemoryPolicy)}, ${keys}`;
}

/** The server's memory and key count. */
function serverLine(s: ServerMemory): string {
  return `Server: ${memoryText(s, 'this database')}.`;
}

/** The table: a row per group and the total. */
function statsTable(report: StatsReport | ClusterStatsReport): string {
  const row = (g: GroupStats) => [
    groupCell(g),
    String(g.keys),
    formatBytes(g.bytes),
    ttlCell(g.ttlMinMs),
    ttlCell(g.ttlMedianMs),
    ttlCell(g.ttlMaxMs),
    String(g.withoutTtl),
  ];
  return renderTable(
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
}

/** How sizes were measured, as the summary line says it. */
function sizesText(source: SizeSource): string {
  return source === 'memory-usage' ? 'MEMORY USAGE' : 'STRLEN (MEMORY USAGE denied)';
}

/** The text rendering of a {@link StatsReport}: a table per group, a total, and the server's memory. */
export function renderStats(report: StatsReport): string {
  const lines = [
    statsTable(report),
    '',
    `${report.scanned} keys under ${printableKey(report.pattern)}; sizes from ${sizesText(report.sizeSource)}.`,
    serverLine(report.server),
  ];
  if (report.truncated) lines.push(`Stopped at --max-keys ${report.maxKeys}: totals cover part of the namespace.`);
  return lines.join('\n');
}

/**
 * The text rendering of a {@link ClusterStatsReport}: the table over every master, the cluster's
 * state, one line per master, and the masters' memory summed.
 */
export function renderClusterStats(report: ClusterStatsReport): string {
  const sizes =
    report.sizeSource === 'mixed'
      ? report.nodes
          .map((node) => node.sizeSource)
          .filter((source, i, all) => all.indexOf(source) === i)
          .map(
            (source) =>
              `${sizesText(source)} on ${masters(report.nodes.filter((node) => node.sizeSource === source).length)}`,
          )
          .join(', ')
      : sizesText(report.sizeSource);
  const lines = [
    statsTable(report),
    '',
    `${report.scanned} keys under ${printableKey(report.pattern)} on ${masters(report.nodes.length)}; sizes from ${sizes}.`,
    clusterLine(report.cluster),
    ...report.nodes.map(
      (node) =>
        `Node ${node.url} (slots ${formatRanges(node.slotRanges)}): ${node.scanned} keys, ${formatBytes(node.bytes)}, ${node.scanCalls} SCAN calls; ${memoryText(node.server, 'this database')}.`,
    ),
    `All masters: ${memoryText(report.server, 'their databases')}.`,
  ];
  const moved = report.nodes.reduce((sum, node) => sum + node.moved, 0);
  if (moved > 0) {
    lines.push(
      `${moved} keys had moved to another master by the time they were looked up (resharding or failover): not counted.`,
    );
  }
  if (report.truncated) {
    lines.push(
      `Stopped at --max-keys ${report.maxKeys}: totals cover part of the namespace, taken from every master alike.`,
    );
  }
  return lines.join('\n');
}

/** The `stats` command. */
export function statsCommand(): Command {
  const command = new Command('stats').description(
    'summarise key count, bytes and TTL spread per category, and server memory (one bounded SCAN pass; read-only)',
  );
  addScanFlags(addConnectionFlags(command))
    .addOption(
      new Option('--max-keys <n>', 'summarise at most this many keys (in all, on a cluster)')
        .argParser(integerInRange(1, MAX_KEYS))
        .default(100_000),
    )
    .addHelpText(
      'after',
      `
Without --config, keys are grouped by their first segment (price:crypto:BTC -> "price:").
On a cluster node, every master is scanned; --max-keys and --max-scan-calls are for the whole run.

Examples:
  $ keyv-failsafe stats --url redis://127.0.0.1:6379
  $ keyv-failsafe stats --url redis://127.0.0.1:6379 --config ./ttl.config.mjs --json
  $ REDIS_URL=redis://:secret@10.0.0.5:6379 keyv-failsafe stats --namespace app --max-keys 20000`,
    )
    .action((flags: StatsFlags) =>
      runScanCommand(
        flags,
        (categorize, progress): StatsOptions => ({
          namespace: flags.namespace,
          maxKeys: flags.maxKeys,
          maxScanCalls: flags.maxScanCalls,
          categorize,
          progress,
        }),
        { standalone: stats, cluster: statsCluster, render: renderStats, renderCluster: renderClusterStats },
      ),
    );
  return command;
}
