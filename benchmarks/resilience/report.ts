import { mkdirSync, writeFileSync } from 'node:fs';
import { formatJson } from './json-format.js';
import { LIBRARIES } from './libraries/index.js';
import type { Machine } from './machine.js';
import type { PairResult, StaleCheck, Timings } from './protocol.js';
import { SCENARIOS } from './scenarios.js';

export interface Report {
  readonly mode: 'full' | 'quick';
  readonly filters: { readonly libraries: readonly string[]; readonly scenarios: readonly string[] } | null;
  readonly machine: Machine;
  readonly timings: Timings;
  readonly totalMs: number;
  readonly results: readonly PairResult[];
}

const HEADERS = [
  'scenario',
  'library',
  'made',
  'settled',
  'hung',
  'slow',
  'errors',
  'p50 ms',
  'p99 ms',
  'max ms',
  'stale (same)',
  'stale (fresh)',
  'back after',
];

const ms = (value: number | null): string => (value === null ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(0));

/** Stale count, with how many were deleted keys come back; '?' when the reader never reached Redis. */
function staleCell(check: StaleCheck | null): string {
  if (check === null) return '-';
  const base = check.resurrected > 0 ? `${check.stale} (${check.resurrected} del)` : String(check.stale);
  const unread = check.unanswered + check.rejected;
  return `${base}${check.reachedRedis ? '' : '?'}${unread > 0 ? ` +${unread} unread` : ''}`;
}

function row(result: PairResult, timings: Timings): string[] {
  if (result.harnessError !== undefined) {
    return [result.scenario, result.library, `harness: ${result.harnessError}`, '', '', '', '', '', '', '', '', '', ''];
  }
  const { calls } = result;
  const back = result.recovery.ms === null ? `never (${timings.recoveryCapMs / 1000} s)` : `${result.recovery.ms} ms`;
  return [
    result.scenario,
    result.library,
    String(calls.made),
    String(calls.settled),
    String(calls.hung),
    String(calls.slow),
    String(calls.rejected),
    ms(calls.latency.p50Ms),
    ms(calls.latency.p99Ms),
    ms(calls.latency.maxMs),
    staleCell(result.staleSameInstance),
    staleCell(result.staleFreshInstance),
    back,
  ];
}

/** The one table, aligned for a terminal. */
export function textTable(report: Report): string {
  const rows = [HEADERS, ...report.results.map((result) => row(result, report.timings))];
  const widths = HEADERS.map((_h, column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  return [line(rows[0] as string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join(
    '\n',
  );
}

/** Characters as a reader counts them (code points), for column widths. */
const width = (text: string): number => [...text].length;

/** A Markdown table with padded columns, as Biome formats one, so the committed file passes `biome check`. */
function mdTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const escaped = [headers, ...rows].map((cells) => cells.map((cell) => cell.replaceAll('|', '\\|')));
  const widths = headers.map((_h, i) => Math.max(3, ...escaped.map((cells) => width(cells[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    `| ${widths.map((w, i) => (cells[i] ?? '') + ' '.repeat(w - width(cells[i] ?? ''))).join(' | ')} |`;
  const [head, ...body] = escaped;
  return [line(head ?? []), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function definitions(timings: Timings): string {
  return [
    `- **made / settled / hung**: load calls made; settled (resolved or rejected) within ${timings.callCapMs / 1000} s; still pending at ${timings.callCapMs / 1000} s (nobody waits for them further).`,
    `- **slow**: settled, but after more than ${timings.slowMs} ms. **errors**: calls that rejected.`,
    '- **p50 / p99 / max**: latency of settled calls over the whole pair (healthy, outage and after).',
    '- **stale (same)**: after recovery, every key read through the instance that lived through the outage; **stale (fresh)**: through a new instance, i.e. what Redis now holds for every other instance. Stale = an older version than the newest this process wrote, or a value for a key it deleted last; a miss is never stale. `(n del)`: deleted keys that came back. `?`: that reader never read a probe from Redis, so its figures say little.',
    `- **back after**: from the server being usable again to the first read through the library that returned a value written to Redis after that moment by a raw client, under a key no tier had seen (probes every 25 ms, each not waiting for the previous). \`never\`: not within ${timings.recoveryCapMs / 1000} s.`,
  ].join('\n');
}

function details(report: Report): string {
  const headers = [
    'scenario',
    'library',
    'outage p99 / max ms (settled)',
    'writes said failed',
    'stale same: acked / failed / hung',
    'stale fresh: acked / failed / hung',
    'fresh misses',
    'error events',
    'unhandled',
    'circuit',
    'first errors',
  ];
  const split = (c: StaleCheck | null): string =>
    c === null ? '-' : `${c.staleAfterAcked} / ${c.staleAfterFailed} / ${c.staleAfterHung}`;
  const rows = report.results
    .filter((r) => r.harnessError === undefined)
    .map((r) => {
      const outage = r.phases.outage.latency;
      return [
        r.scenario,
        r.library,
        `${ms(outage.p99Ms)} / ${ms(outage.maxMs)}`,
        String(r.calls.writesReportedFailed),
        split(r.staleSameInstance),
        split(r.staleFreshInstance),
        String(r.staleFreshInstance?.misses ?? '-'),
        String(r.errorEvents),
        String(r.unhandledRejections + r.uncaughtExceptions),
        r.circuit === null ? '-' : `${r.circuit.final} (${r.circuit.transitions.length} transitions)`,
        r.errorSamples.slice(0, 2).join('; ') || '-',
      ];
    });
  return mdTable(headers, rows);
}

export function markdown(report: Report): string {
  const { machine, timings } = report;
  return [
    '# Resilience report',
    '',
    `Generated by \`npx tsx benchmarks/resilience/run.ts${report.mode === 'quick' ? ' --quick' : ''}\` on ${machine.date} (${Math.round(report.totalMs / 1000)} s). Method and definitions: [../README.md](../README.md).`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, load average ${machine.loadAverage} at start (shared machine: absolute figures drift). Node ${machine.node}, redis-server ${machine.redisServer}. Commit ${machine.commit}${machine.uncommittedChanges ? ' with uncommitted changes in src/ or adapters/' : ''}.`,
    '',
    `Packages: ${Object.entries(machine.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    `Load: ${timings.workers} workers, ${timings.keys} keys, 60 % get / 30 % set / 10 % delete (after recovery odd keys are only read), ${timings.thinkMs} ms pause between a worker's calls. Warm-up ${timings.warmupMs} ms, outage ${timings.outageMs} ms (hang ${timings.hangMs} ms; flapping ${timings.flaps} × ${timings.flapDownMs} ms down / ${timings.flapUpMs} ms up; proxy delay ${timings.proxyDelayMs} ms a chunk; ${timings.resets} resets ${timings.resetGapMs} ms apart), at least ${timings.afterMs} ms of load after recovery.`,
    ...(report.filters === null
      ? []
      : [
          '',
          `Filtered run: libraries ${report.filters.libraries.join(', ')}; scenarios ${report.filters.scenarios.join(', ')}.`,
        ]),
    '',
    mdTable(
      HEADERS,
      report.results.map((result) => row(result, timings)),
    ),
    '',
    definitions(timings),
    '',
    '## Details',
    '',
    details(report),
    '',
    '## Scenarios',
    '',
    ...Object.values(SCENARIOS).map((s) => `- **${s.name}**: ${s.description}.`),
    '',
    '## Libraries',
    '',
    ...Object.entries(LIBRARIES).map(([name, l]) => `- **${name}**: \`${l.configuredAs}\``),
    '',
  ].join('\n');
}

/** Writes `<base>.md` and `<base>.json` under results/. */
export function writeReport(directory: string, base: string, report: Report): string[] {
  mkdirSync(directory, { recursive: true });
  const mdPath = `${directory}/${base}.md`;
  const jsonPath = `${directory}/${base}.json`;
  writeFileSync(mdPath, markdown(report));
  const libraries = Object.fromEntries(Object.entries(LIBRARIES).map(([name, l]) => [name, l.configuredAs]));
  const scenarios = Object.fromEntries(Object.values(SCENARIOS).map((s) => [s.name, s.description]));
  writeFileSync(jsonPath, formatJson({ ...report, libraries, scenarios }));
  return [mdPath, jsonPath];
}
