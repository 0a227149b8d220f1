import { type Machine, machineLine } from '../lib/machine.js';
import { int, mdTable, textTable, us, writeResults } from '../lib/report.js';
import { latencyChart } from './chart.js';
import type { Findings, PayloadName, Row, Skip } from './types.js';

/** Everything one run produced: what latest.json holds and the other outputs are rendered from. */
export interface Report {
  readonly startedAt: string;
  readonly wallSeconds: number;
  readonly quick: boolean;
  readonly filter: string | undefined;
  readonly redis: string;
  readonly timing: { warmupMs: number; durationMs: number; minOps: number; rounds: number; timerOverheadNs: number };
  readonly machine: Machine;
  readonly payloads: readonly PayloadName[];
  readonly headlines: ReadonlyArray<{ metric: string; target: string; values: Record<string, string> }>;
  readonly rows: readonly Row[];
  readonly findings: Findings;
  readonly skipped: readonly Skip[];
  readonly failures: readonly string[];
}

type Field = 'p50Us' | 'opsPerSec';
const find = (rows: readonly Row[], scenario: string, subject: string, payload: string, mode = 'sequential') =>
  rows.find((r) => r.scenario === scenario && r.subject === subject && r.payload === payload && r.mode === mode);
const times = (value: number | undefined, digits = 2): string | undefined =>
  value === undefined || !Number.isFinite(value) ? undefined : `${value.toFixed(digits)}×`;

/** Fills `p50Ratio` and `opsRatio` of every row that names a baseline measured in the same run. */
export function applyRatios(rows: Row[]): void {
  for (const row of rows) {
    const base = row.baseline && find(rows, row.scenario, row.baseline, row.payload, row.mode);
    if (base) [row.p50Ratio, row.opsRatio] = [row.p50Us / base.p50Us, row.opsPerSec / base.opsPerSec];
  }
}

/** The issue's targets, each with this run's figure per payload. */
export function headlines(rows: readonly Row[], findings: Findings, payloads: readonly PayloadName[]) {
  const ratio = (scenario: string, ours: string, base: string, field: Field, mode?: string) => (p: string) => {
    const [a, b] = [find(rows, scenario, ours, p, mode), find(rows, scenario, base, p, mode)];
    return a && b ? a[field] / b[field] : undefined;
  };
  const overhead = (subject: string) => (p: string) => {
    const pct = ratio('memory get', subject, 'Keyv + lru-cache store', 'p50Us')(p);
    return pct === undefined ? undefined : `${pct >= 1 ? '+' : ''}${((pct - 1) * 100).toFixed(1)} %`;
  };
  // The fastest neighbour L1 hit is the bar "5x faster than the neighbours" is set against.
  const vsNeighbours = (subject: string) => (p: string) => {
    const neighbours = rows.filter((r) => r.scenario === 'memory get' && r.role === 'neighbour' && r.payload === p);
    const best = neighbours.sort((a, b) => a.p50Us - b.p50Us)[0];
    const value = best && times(ratio('memory get', best.subject, subject, 'p50Us')(p));
    return value && `${value} (vs ${best?.subject})`;
  };
  const redis =
    (scenario: string, field: Field, mode = 'sequential', subject = 'TieredStore primary-first') =>
    (p: string) =>
      times(ratio(scenario, subject, 'Keyv + @keyv/redis', field, mode)(p));
  // Issue 13: the fast mode through Redis, against the plain stack and against every neighbour.
  const objects = "TieredStore primary-first, serialization: 'store'";
  const aheadOfNeighbours = (field: Field, mode: string) => (p: string) => {
    const neighbours = rows.filter((r) => r.scenario === 'redis get' && r.role === 'neighbour' && r.payload === p);
    const ours = find(rows, 'redis get', objects, p, mode);
    const rivals = neighbours.filter((r) => r.mode === mode);
    if (ours === undefined || rivals.length === 0) return undefined;
    // Below 1 (p50) or above 1 (ops/s) is ahead; the closest neighbour is the one named.
    const better =
      field === 'p50Us' ? (a: Row, b: Row) => a.p50Us - b.p50Us : (a: Row, b: Row) => b.opsPerSec - a.opsPerSec;
    const best = rivals.sort(better)[0] as Row;
    return `${times(ours[field] / best[field])} (vs ${best.subject})`;
  };
  const downP99 = (scenario: string) => (p: string) =>
    find(rows, scenario, 'TieredStore, Redis down', p)?.p99Us.toFixed(1).concat(' µs');
  const batch = (p: string) => {
    const faster = times(ratio('batch get', 'TieredStore 100 × get', 'TieredStore getMany(100)', 'p50Us')(p), 1);
    const calls = findings.batchCalls as Array<{ payload: string; call: string; roundTrips: number }> | undefined;
    const trips = calls?.find((c) => c.payload === p && c.call === 'getMany(100)')?.roundTrips;
    return faster && `${faster} faster${trips === undefined ? '' : `, ${trips} round trip(s)`}`;
  };
  const far1ms = (field: Field) => redis('rtt 1ms get', field, '64 in flight');
  const farBatch = (p: string) =>
    times(ratio('rtt 1ms batch get', 'TieredStore 100 × get', 'TieredStore getMany(100)', 'p50Us')(p), 1)?.concat(
      ' faster',
    );
  type Phase = { worstMs: number; stoppedWaitingAfterMs: number | null; calls: number; waited: number };
  const hung = findings.hungRedis as { payload: PayloadName; get: Phase } | undefined;
  const hungValue = (p: string) => {
    if (hung?.payload !== p) return undefined;
    const { worstMs, waited, calls, stoppedWaitingAfterMs: after } = hung.get;
    const stopped = after === null ? 'calls never stopped waiting' : `calls stopped waiting ${after} ms after SIGSTOP`;
    return `worst ${worstMs} ms; ${waited} of ${calls} calls waited; ${stopped}`;
  };
  // Issue 11: the near-cache hit against the memory-first one (same serialization), and the lag.
  const nearVsMemoryFirst = (suffix: string) => (p: string) =>
    times(ratio('memory get', `TieredStore near-cache${suffix}`, `TieredStore memory-first${suffix}`, 'p50Us')(p));
  type Lag = { label: string; lag: { p50Ms: number; p99Ms: number; maxMs: number } };
  const nearLag = (findings.invalidationLag as { policies: Lag[] } | undefined)?.policies[0];
  // The lag has no payload (the value written is a small integer): shown in the first column run.
  const lagValue = (p: string) =>
    nearLag && p === payloads[0]
      ? `p99 ${nearLag.lag.p99Ms} ms (p50 ${nearLag.lag.p50Ms}, max ${nearLag.lag.maxMs}; small values)`
      : undefined;
  const [fiveX, lru, keyvRedis] = ['≥ 5× with a faster mode', 'Keyv + lru-cache store', 'Keyv + @keyv/redis'];
  const list: Array<[string, string, (p: string) => string | undefined]> = [
    [`memory-first hit p50 vs ${lru}`, '≤ +5 %', overhead('TieredStore memory-first')],
    [`fallback hit (Redis down) p50 vs ${lru}`, '≤ +5 %', overhead('TieredStore, Redis down')],
    ['fastest neighbour L1 hit p50 ÷ memory-first hit p50', fiveX, vsNeighbours('TieredStore memory-first')],
    ["same, with serialization: 'store'", fiveX, vsNeighbours("TieredStore memory-first, serialization: 'store'")],
    [
      "memory-first hit p50, serialization: 'store' ÷ Keyv + lru-cache store, serialize off",
      '≤ 1.1×',
      (p) =>
        times(
          ratio(
            'memory get',
            "TieredStore memory-first, serialization: 'store'",
            'Keyv + lru-cache store, serialize off',
            'p50Us',
          )(p),
        ),
    ],
    [`primary-first get p50 ÷ ${keyvRedis} (sequential)`, '≤ 1.0× (issue 13)', redis('redis get', 'p50Us')],
    [`primary-first get ops/s ÷ ${keyvRedis} (64 in flight)`, '≥ 1×', redis('redis get', 'opsPerSec', '64 in flight')],
    [
      `serialization: 'store' Redis get ops/s ÷ ${keyvRedis} (64 in flight)`,
      '≥ 3× at 1 KB',
      redis('redis get', 'opsPerSec', '64 in flight', objects),
    ],
    [
      "serialization: 'store' Redis get p50 ÷ closest neighbour (sequential)",
      '< 1×',
      aheadOfNeighbours('p50Us', 'sequential'),
    ],
    [
      "serialization: 'store' Redis get ops/s ÷ closest neighbour (64 in flight)",
      '> 1×',
      aheadOfNeighbours('opsPerSec', '64 in flight'),
    ],
    [`primary-first set p50 ÷ ${keyvRedis} (sequential)`, '', redis('redis set', 'p50Us')],
    [`primary-first set ops/s ÷ ${keyvRedis} (64 in flight)`, '', redis('redis set', 'opsPerSec', '64 in flight')],
    ['Redis down: get p99', 'tens of µs', downP99('memory get')],
    ['Redis down: set p99', 'tens of µs', downP99('memory set')],
    ['getMany(100) vs 100 sequential gets', '≥ 10×, 1 round trip', batch],
    ['hung Redis, sequential gets', 'one deadline, then fast', hungValue],
    ['near-cache hit p50 ÷ memory-first hit p50', '≤ 1.1×', nearVsMemoryFirst('')],
    ["same, with serialization: 'store'", '≤ 1.1×', nearVsMemoryFirst(", serialization: 'store'")],
    ['near-cache invalidation lag, loopback, reads every 0.25 ms', 'p99 < 2 ms', lagValue],
    // The same targets with Redis 1 ms away (the rtt scenario's 1ms link, 1 KB values only).
    [`Redis 1 ms away: primary-first get p50 ÷ ${keyvRedis}`, '≤ 1.05×', redis('rtt 1ms get', 'p50Us')],
    [`Redis 1 ms away: primary-first get ops/s ÷ ${keyvRedis} (64 in flight)`, '≥ 1×', far1ms('opsPerSec')],
    ['Redis 1 ms away: getMany(100) vs 100 sequential gets', '≥ 10×', farBatch],
  ];
  return list
    .map(([metric, target, value]) => {
      const values = payloads.flatMap((p) => (value(p) === undefined ? [] : [[p, value(p) as string]]));
      return { metric, target, values: Object.fromEntries(values) };
    })
    .filter((headline) => Object.keys(headline.values).length > 0);
}

const COLUMNS = ['scenario', 'payload', 'mode', 'subject', 'ops/s', 'p50 µs', 'p99 µs', 'p50 ×base', 'ops ×base'];
const cells = (r: Row): string[] => {
  const ratios = [times(r.p50Ratio) ?? '', times(r.opsRatio) ?? ''];
  return [r.scenario, r.payload, r.mode, r.subject, int(r.opsPerSec), us(r.p50Us), us(r.p99Us), ...ratios];
};

/** The stdout table, a blank line between scenarios. */
export function consoleTable(rows: readonly Row[]): string {
  const lines = rows.flatMap((row, i) =>
    i > 0 && rows[i - 1]?.scenario !== row.scenario ? [null, cells(row)] : [cells(row)],
  );
  return textTable(COLUMNS, lines, 4);
}

/**
 * latest.md: the machine, the targets, the chart, every row, the findings (`sections`, rendered by
 * the scenarios that found them, in this order: Redis far away, hung Redis, batch calls, memory bound), what was
 * skipped and what failed.
 */
function markdown(report: Report, sections: Readonly<Record<string, readonly string[]>>): string {
  const { timing: t, rows, payloads } = report;
  const byScenario = [...new Set(rows.map((r) => r.scenario))].map((scenario) => {
    const lines = rows.filter((r) => r.scenario === scenario).map((r) => [...cells(r).slice(1), r.note ?? '']);
    return `### ${scenario}\n\n${mdTable([...COLUMNS.slice(1), 'note'], lines, 3)}`;
  });
  const targets = report.headlines.map((h) => [h.metric, h.target, ...payloads.map((p) => h.values[p] ?? '')]);
  const skipped = report.skipped.map((s) => `- **${s.scenario}**: ${s.reason}`);
  const failures = report.failures.map((f) => `- ${f}`);
  const list = (title: string, items: readonly string[]) => (items.length ? [title, items.join('\n')] : []);
  return `${[
    `# keyv-failsafe benchmark, ${report.quick ? 'quick' : 'full'} run${report.filter ? ` (filter "${report.filter}")` : ''}`,
    `${report.startedAt}, ${report.wallSeconds.toFixed(1)} s. Redis: ${report.redis}. ${machineLine(report.machine)}`,
    `Each row: ${t.warmupMs} ms warm-up, then at least ${t.durationMs} ms and ${t.minOps} calls in ${t.rounds} rounds ` +
      `taken in turn with the other rows of its group, every call timed (timer cost ≈ ${Math.round(t.timerOverheadNs)} ns, ` +
      'included). p50/p99 from an HDR histogram in ns; ops/s from wall time. "×base" divides by the baseline row named ' +
      'in the scenario, measured in this run (p50 below 1 and ops above 1 are better). See benchmarks/README.md.',
    '## Targets',
    mdTable(['target (issues 4, 11, 13, 14)', 'wanted', ...payloads], targets),
    '## Latency chart',
    '![p50 and p99 latency per path and library](latency.svg)',
    '## All rows',
    ...byScenario,
    '## Invalidation lag, getOrSet, Redis far away, degraded, batches, memory bound',
    ...['invalidationLag', 'getOrSet', 'farRedis', 'hungRedis', 'batchCalls', 'memoryBound'].flatMap(
      (name) => sections[name] ?? [],
    ),
    ...list('## Skipped', skipped),
    ...list('## Failures', failures),
  ].join('\n\n')}\n`;
}

/** latest.json, latest.md and the chart (1 KB values, or the only payload run) under `directory`. */
export function writeReport(directory: string, report: Report, sections: Readonly<Record<string, readonly string[]>>) {
  const { machine: m, payloads } = report;
  const about = `${m.cpu}, ${m.cores} cores, Node ${m.node}, redis-server ${m.redisServer}`;
  const subtitle = `${about}, ${report.startedAt.slice(0, 10)}${report.quick ? ', quick run' : ''}`;
  const chart = latencyChart(report.rows, payloads.includes('1KB') ? '1KB' : (payloads[0] ?? '1KB'), subtitle);
  const files = { 'latest.json': `${JSON.stringify(report, null, 2)}\n`, 'latest.md': markdown(report, sections) };
  return writeResults(directory, { ...files, 'latency.svg': chart });
}
