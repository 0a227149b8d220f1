import { LIBRARIES, type LibraryName } from '../lib/libraries.js';
import { type Machine, machineLine } from '../lib/machine.js';
import { formatJson, mdTable, ms, textTable } from '../lib/report.js';
import type { StaleCheck } from './checks.js';
import { SCENARIOS, type ScenarioName, type Timings } from './scenarios.js';
import type { PairResult } from './worker.js';

/** A pair's result, or what went wrong with the harness for it (its child crashed or hit the hard cap). */
export type Outcome =
  | PairResult
  | { library: LibraryName; scenario: ScenarioName; harnessError: string; durationMs: number; stderrTail: string };

/** One run of the matrix. */
export interface Report {
  readonly mode: 'full' | 'quick';
  readonly filters: { readonly libraries: readonly string[]; readonly scenarios: readonly string[] } | null;
  readonly machine: Machine;
  readonly timings: Timings;
  readonly totalMs: number;
  readonly results: readonly Outcome[];
}

const HEADERS = ['scenario', 'library', 'made', 'settled', 'hung', 'slow', 'errors', 'p50 ms', 'p99 ms', 'max ms'];
HEADERS.push('stale (same)', 'stale (fresh)', 'back after');

/** Stale count, with how many were deleted keys come back; '?' when the reader never reached Redis. */
function staleCell(c: StaleCheck): string {
  const [unread, deleted] = [c.unanswered + c.rejected, c.resurrected > 0 ? ` (${c.resurrected} del)` : ''];
  return `${c.stale}${deleted}${c.reachedRedis ? '' : '?'}${unread > 0 ? ` +${unread} unread` : ''}`;
}

function row(r: Outcome, t: Timings): string[] {
  if ('harnessError' in r) return [r.scenario, r.library, `harness: ${r.harnessError}`];
  const { made, settled, hung, slow, rejected, latency } = r.calls;
  const back = r.recovery.ms === null ? `never (${t.recoveryCapMs / 1000} s)` : `${r.recovery.ms} ms`;
  const figures = [...[made, settled, hung, slow, rejected].map(String), ms(latency.p50Ms), ms(latency.p99Ms)];
  const stale = [staleCell(r.staleSameInstance), staleCell(r.staleFreshInstance)];
  return [r.scenario, r.library, ...figures, ms(latency.maxMs), ...stale, back];
}

/** The one table, aligned for a terminal. */
export const textReport = (report: Report): string => textTable(HEADERS, rows(report));
const rows = (report: Report): string[][] => report.results.map((r) => row(r, report.timings));

const definitions = (t: Timings): string =>
  [
    `- **made / settled / hung**: load calls made; settled (resolved or rejected) within ${t.callCapMs / 1000} s; still pending at ${t.callCapMs / 1000} s (nobody waits for them further).`,
    `- **slow**: settled, but after more than ${t.slowMs} ms. **errors**: calls that rejected.`,
    '- **p50 / p99 / max**: latency of settled calls over the whole pair (healthy, outage and after).',
    '- **stale (same)**: after recovery, every key read through the instance that lived through the outage; **stale (fresh)**: through a new instance, i.e. what Redis now holds for every other instance. Stale = an older version than the newest this process wrote, or a value for a key it deleted last; a miss is never stale. `(n del)`: deleted keys that came back. `?`: that reader never read a probe from Redis, so its figures say little.',
    `- **back after**: from the server being usable again to the first read through the library that returned a value written to Redis after that moment by a raw client, under a key no tier had seen (probes every 25 ms, each not waiting for the previous). \`never\`: not within ${t.recoveryCapMs / 1000} s.`,
  ].join('\n');

/** Per pair: the outage's latency, what the library said, stale reads by that, events, the breaker. */
function details(results: readonly Outcome[]): string {
  const split = (c: StaleCheck): string => `${c.staleAfterAcked} / ${c.staleAfterFailed} / ${c.staleAfterHung}`;
  const rows = results.flatMap((r) => {
    if ('harnessError' in r) return [];
    const { p99Ms, maxMs } = r.phases.outage.latency;
    const circuit = r.circuit === null ? '-' : `${r.circuit.final} (${r.circuit.transitions.length} transitions)`;
    const said = [`${ms(p99Ms)} / ${ms(maxMs)}`, String(r.calls.writesReportedFailed)];
    const stale = [split(r.staleSameInstance), split(r.staleFreshInstance), String(r.staleFreshInstance.misses)];
    const events = [String(r.errorEvents), String(r.unhandledRejections + r.uncaughtExceptions), circuit];
    return [[r.scenario, r.library, ...said, ...stale, ...events, r.errorSamples.slice(0, 2).join('; ') || '-']];
  });
  const header = ['scenario', 'library', 'outage p99 / max ms (settled)', 'writes said failed'];
  header.push('stale same: acked / failed / hung', 'stale fresh: acked / failed / hung', 'fresh misses');
  return mdTable([...header, 'error events', 'unhandled', 'circuit', 'first errors'], rows);
}

/** latest.md (or partial.md): the machine, the load, the table, the definitions, the details, scenarios and libraries. */
export function reportMarkdown(report: Report): string {
  const { machine, timings: t, filters } = report;
  const run = `npx tsx benchmarks/resilience/run.ts${report.mode === 'quick' ? ' --quick' : ''}`;
  const load = `Load: ${t.workers} workers, ${t.keys} keys, 60 % get / 30 % set / 10 % delete (after recovery odd keys are only read), ${t.thinkMs} ms pause between a worker's calls.`;
  const phases = `Warm-up ${t.warmupMs} ms, outage ${t.outageMs} ms (hang ${t.hangMs} ms; flapping ${t.flaps} × ${t.flapDownMs} ms down / ${t.flapUpMs} ms up; proxy delay ${t.proxyDelayMs} ms a chunk; ${t.resets} resets ${t.resetGapMs} ms apart), at least ${t.afterMs} ms of load after recovery.`;
  const filtered =
    filters && `Filtered run: libraries ${filters.libraries.join(', ')}; scenarios ${filters.scenarios.join(', ')}.`;
  const list = (entries: Array<[string, string]>): string =>
    entries.map(([name, text]) => `- **${name}**: ${text}`).join('\n');
  return [
    '# Resilience report',
    `Generated by \`${run}\` on ${machine.date} (${Math.round(report.totalMs / 1000)} s). Method and definitions: [../README.md](../README.md).`,
    `Machine: ${machineLine(machine)}`,
    `${load} ${phases}`,
    ...(filtered ? [filtered] : []),
    mdTable(HEADERS, rows(report)),
    definitions(t),
    '## Details',
    details(report.results),
    '## Scenarios',
    list(Object.entries(SCENARIOS).map(([name, s]) => [name, `${s.description}.`])),
    '## Libraries',
    list(Object.entries(LIBRARIES).map(([name, l]) => [name, `\`${l.configuredAs}\``])),
  ]
    .join('\n\n')
    .concat('\n');
}

/** latest.json (or partial.json): the report, with how each library was configured and what each scenario does. */
export function reportJson(report: Report): string {
  const libraries = Object.fromEntries(Object.entries(LIBRARIES).map(([name, l]) => [name, l.configuredAs]));
  const scenarios = Object.fromEntries(Object.entries(SCENARIOS).map(([name, s]) => [name, s.description]));
  return `${formatJson({ ...report, libraries, scenarios })}\n`;
}
