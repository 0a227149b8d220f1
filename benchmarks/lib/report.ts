import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ops, ratio, us } from './format.js';
import type { Headline } from './headline.js';
import type { Machine } from './machine.js';
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
  readonly headlines: readonly Headline[];
  readonly rows: readonly Row[];
  readonly findings: Findings;
  readonly skipped: readonly Skip[];
  readonly failures: readonly string[];
}

const COLUMNS = ['scenario', 'payload', 'mode', 'subject', 'ops/s', 'p50 µs', 'p99 µs', 'p50 ×base', 'ops ×base'];

function cells(row: Row): string[] {
  return [
    row.scenario,
    row.payload,
    row.mode,
    row.subject,
    ops(row.opsPerSec),
    us(row.p50Us),
    us(row.p99Us),
    ratio(row.p50Ratio),
    ratio(row.opsRatio),
  ];
}

/** The stdout table: fixed-width columns, numbers right-aligned, a blank line between scenarios. */
export function consoleTable(rows: readonly Row[]): string {
  const body = rows.map(cells);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...body.map((line) => (line[i] ?? '').length)));
  const numeric = (i: number): boolean => i >= 4;
  const render = (line: readonly string[]): string =>
    line
      .map((cell, i) => (numeric(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [render(COLUMNS), render(widths.map((w) => '-'.repeat(w)))];
  rows.forEach((row, i) => {
    if (i > 0 && rows[i - 1]?.scenario !== row.scenario) out.push('');
    out.push(render(body[i] ?? []));
  });
  return out.join('\n');
}

function markdownTable(header: readonly string[], lines: ReadonlyArray<readonly string[]>, rightFrom = 99): string {
  const escapeCell = (cell: string): string => cell.replaceAll('|', '\\|');
  return [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `|${header.map((_h, i) => (i >= rightFrom ? '---:' : '---')).join('|')}|`,
    ...lines.map((line) => `| ${line.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

function headlineSection(report: Report): string {
  const header = ['target (issue 4)', 'wanted', ...report.payloads];
  const lines = report.headlines.map((h) => [h.metric, h.target, ...report.payloads.map((p) => h.values[p] ?? '')]);
  return markdownTable(header, lines);
}

function rowsSection(rows: readonly Row[]): string {
  const parts: string[] = [];
  for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
    const group = rows.filter((r) => r.scenario === scenario);
    const lines = group.map((row) => [...cells(row).slice(1), row.note ?? '']);
    parts.push(`### ${scenario}\n\n${markdownTable([...COLUMNS.slice(1), 'note'], lines, 4)}`);
  }
  return parts.join('\n\n');
}

function findingsSection(findings: Findings): string {
  const parts: string[] = [];
  const hung = findings.hungRedis as Record<string, unknown> | undefined;
  if (hung !== undefined) {
    const phase = (name: string) => {
      const p = hung[name] as Record<string, unknown>;
      return [
        name,
        String(p.calls),
        String(p.waited),
        `${p.worstMs} ms`,
        `${p.p50Ms} ms`,
        p.waited === 0
          ? 'no call waited'
          : p.stoppedWaitingAfterMs === null
            ? 'never'
            : `${p.stoppedWaitingAfterMs} ms after SIGSTOP`,
        p.afterStopP99Ms === null ? '' : `${p.afterStopP99Ms} ms`,
      ];
    };
    const burst = hung.concurrent64 as { wallMs: number; worstMs: number; waited: number };
    const circuit = hung.circuit as { stateWhileHung: string; transitions: unknown[] };
    const neighbours = hung.neighbours as Array<{ subject: string; outcome: string; ms: number }>;
    parts.push(
      `### hung Redis (SIGSTOP), operationTimeoutMs ${hung.operationTimeoutMs}, ${hung.payload} values`,
      markdownTable(
        ['calls', 'n', 'waited ≥ ½ deadline', 'worst', 'p50', 'stopped waiting after', 'p99 after that'],
        [phase('get'), phase('set')],
      ),
      `64 gets at once: all settled after ${burst.wallMs} ms, worst ${burst.worstMs} ms, ${burst.waited} waited. ` +
        `Circuit while hung: ${circuit.stateWhileHung}; transitions: ${JSON.stringify(circuit.transitions)}. ` +
        `First get after SIGCONT: ${hung.firstGetAfterResumeMs} ms.`,
      markdownTable(
        ['neighbour, one get on the hung server', 'outcome', 'ms'],
        neighbours.map((n) => [n.subject, n.outcome, String(n.ms)]),
      ),
    );
  }
  const calls = findings.batchCalls as
    | Array<{
        payload: string;
        call: string;
        roundTrips: number;
        commands: Record<string, number> | string;
        health?: string;
      }>
    | undefined;
  if (calls !== undefined) {
    parts.push(
      '### round trips and commands per batch call (TieredStore through Keyv)',
      markdownTable(
        ['payload', 'call', 'round trips', 'commands', 'note'],
        calls.map((c) => [
          c.payload,
          c.call,
          String(c.roundTrips),
          typeof c.commands === 'string'
            ? c.commands
            : Object.entries(c.commands)
                .map(([name, n]) => `${name} ${n}`)
                .join(', '),
          c.health ?? '',
        ]),
      ),
    );
  }
  const bound = findings.memoryBound as Record<string, unknown> | undefined;
  if (bound !== undefined) {
    const before = bound.before as { heapUsedMiB: number; rssMiB: number };
    const after = bound.after as { heapUsedMiB: number; rssMiB: number };
    const fallback = bound.fallback as { max: number; maxSizeMiB: number };
    parts.push(
      `### memory bound: ${Number(bound.keys).toLocaleString('en-US')} distinct keys, ${bound.payloadBytes} B values, Redis ${bound.redis}`,
      markdownTable(
        [
          'fallback',
          'sets/s',
          'heap before → after',
          'RSS before → after',
          'entries held',
          'counted size',
          'evictions',
        ],
        [
          [
            `max ${fallback.max.toLocaleString('en-US')}, maxSize ${fallback.maxSizeMiB} MiB`,
            ops(Number(bound.setsPerSec)),
            `${before.heapUsedMiB} → ${after.heapUsedMiB} MiB`,
            `${before.rssMiB} → ${after.rssMiB} MiB`,
            Number(bound.entriesHeld).toLocaleString('en-US'),
            `${bound.calculatedSizeMiB} MiB`,
            Number(bound.evictions).toLocaleString('en-US'),
          ],
        ],
      ),
    );
  }
  return parts.join('\n\n');
}

/** latest.md: the machine, the headline ratios, every row, the findings and what was skipped. */
export function markdown(report: Report): string {
  const m = report.machine;
  const packages = Object.entries(m.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const sections = [
    `# keyv-failsafe benchmark, ${report.quick ? 'quick run' : 'full run'}${report.filter ? ` (filter "${report.filter}")` : ''}`,
    `${report.startedAt}, ${report.wallSeconds.toFixed(1)} s. ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; ` +
      `Node ${m.node}; redis-server ${m.redisServer} (${report.redis}); load average at start ${m.loadAverage}. ${packages}.`,
    `Each row: ${report.timing.warmupMs} ms warm-up, then at least ${report.timing.durationMs} ms and ` +
      `${report.timing.minOps} calls in ${report.timing.rounds} rounds taken in turn with the other rows of its group, every call timed (timer cost ≈ ${Math.round(report.timing.timerOverheadNs)} ns, ` +
      'included). p50/p99 from an HDR histogram in ns; ops/s from wall time. "×base" divides by the baseline row named in ' +
      'the scenario, measured in this run (p50 below 1 and ops above 1 are better). See benchmarks/README.md.',
    '## Targets',
    headlineSection(report),
    '## Latency chart',
    '![p50 and p99 latency per path and library](latency.svg)',
    '## All rows',
    rowsSection(report.rows),
    '## Degraded, batches, memory bound',
    findingsSection(report.findings),
  ];
  if (report.skipped.length > 0) {
    sections.push('## Skipped', report.skipped.map((s) => `- **${s.scenario}**: ${s.reason}`).join('\n'));
  }
  if (report.failures.length > 0) {
    sections.push('## Failures', report.failures.map((f) => `- ${f}`).join('\n'));
  }
  return `${sections.join('\n\n')}\n`;
}

export function writeReport(directory: string, report: Report, svg: string): string[] {
  mkdirSync(directory, { recursive: true });
  const files = {
    'latest.json': `${JSON.stringify(report, null, 2)}\n`,
    'latest.md': markdown(report),
    'latency.svg': svg,
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(directory, name), content);
  return Object.keys(files).map((name) => join(directory, name));
}
