import { percentile } from '../lib/measure.js';
import { mdTable } from '../lib/report.js';
import type { LagReport } from './lag-worker.js';

/** p50, p99 and max of a set of lags, in ms (3 decimals), and how many there were. */
export type LagSummary = { n: number; p50Ms: number; p99Ms: number; maxMs: number };

/** One read policy's figures. */
export interface PolicyLag {
  readonly label: string;
  readonly writes: number;
  /** The writer's `set`, from send to acknowledgement. */
  readonly write: LagSummary;
  /** Cadence readers: acknowledgement to the first read returning the value (or a newer one). */
  readonly lag: LagSummary;
  /** Writes a cadence reader never saw (a newer value counts as seeing it): should be 0. */
  readonly missed: number;
  /** The cadence readers' time between two reads (p50, p99) and their CPU use, in % of a core. */
  readonly cadence: { p50Ms: number; p99Ms: number; cpuPercent: number[]; reads: number };
  /**
   * Near-cache only: from the acknowledgement (and from the write's send) to the copy dropped by
   * the invalidation, and to the read made right then.
   */
  readonly arrival?: { dropped: LagSummary; fromSend: LagSummary; read: LagSummary; missed: number };
  readonly readerStats: Array<Pick<LagReport, 'revalidations' | 'verifiedHits' | 'state'>>;
  readonly notes: string[];
}

/** What latest.json keeps of the scenario. */
export interface LagFinding {
  readonly cadenceMs: number;
  readonly writeEveryMs: number;
  readonly durationMs: number;
  readonly cadenceReaders: number;
  /** The largest offset measured between a reader's clock and the writer's (corrected), and its uncertainty. */
  readonly clockOffsetMs: number;
  readonly clockUncertaintyMs: number;
  readonly policies: PolicyLag[];
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

export function summary(values: readonly number[]): LagSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => round3(percentile(sorted, p));
  return { n: sorted.length, p50Ms: at(50), p99Ms: at(99), maxMs: round3(sorted.at(-1) ?? Number.NaN) };
}

/** A policy's raw measurements reduced to what the report shows. */
export function summarizeLags(measured: {
  label: string;
  writes: number;
  writeMs: number[];
  lags: number[];
  missed: number;
  cadence: readonly LagReport[];
  arrival: { dropped: number[]; fromSend: number[]; read: number[]; missed: number } | undefined;
  notes: string[];
}): PolicyLag {
  const periods = measured.cadence.flatMap((r) => r.periodsMs).sort((a, b) => a - b);
  const { arrival } = measured;
  return {
    label: measured.label,
    writes: measured.writes,
    write: summary(measured.writeMs),
    lag: summary(measured.lags),
    missed: measured.missed,
    cadence: {
      p50Ms: round3(percentile(periods, 50)),
      p99Ms: round3(percentile(periods, 99)),
      cpuPercent: measured.cadence.map((r) => Math.round(r.cpuPercent)),
      reads: measured.cadence.reduce((sum, r) => sum + r.reads, 0),
    },
    ...(arrival && {
      arrival: {
        dropped: summary(arrival.dropped),
        fromSend: summary(arrival.fromSend),
        read: summary(arrival.read),
        missed: arrival.missed,
      },
    }),
    readerStats: measured.cadence.map(({ revalidations, verifiedHits, state }) => ({
      revalidations,
      verifiedHits,
      state,
    })),
    notes: measured.notes,
  };
}

const ms = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(3)} ms` : '-');

/** latest.md's "Invalidation lag" section. */
export function lagSection(finding: LagFinding): string[] {
  const rows = finding.policies.flatMap((p) => {
    const base = [`${p.lag.n} (${p.writes} writes)`, ms(p.lag.p50Ms), ms(p.lag.p99Ms), ms(p.lag.maxMs)];
    const read = `${ms(p.cadence.p50Ms)} (p99 ${ms(p.cadence.p99Ms)}), CPU ${p.cadence.cpuPercent.join(' / ')} %`;
    const write = `writer's set p50 ${ms(p.write.p50Ms)}, p99 ${ms(p.write.p99Ms)}`;
    const note = [read, write, `missed ${p.missed}`, ...p.notes].join('; ');
    const lines = [[p.label, `read every ${finding.cadenceMs} ms`, ...base, note]];
    if (p.arrival) {
      const { dropped, fromSend, read: after, missed } = p.arrival;
      const n = `${dropped.n} (${p.writes} writes)`;
      const negative = 'negative: it arrived before the writer had its acknowledgement';
      lines.push([
        p.label,
        'invalidation arrives',
        n,
        ms(dropped.p50Ms),
        ms(dropped.p99Ms),
        ms(dropped.maxMs),
        negative,
      ]);
      const sent = [ms(fromSend.p50Ms), ms(fromSend.p99Ms), ms(fromSend.maxMs)];
      lines.push([p.label, 'invalidation arrives, from the SET sent', n, ...sent, 'the whole trip: SET, push, drop']);
      const readNote = `one GET after the drop; missed ${missed}`;
      lines.push([p.label, 'read right after it', n, ms(after.p50Ms), ms(after.p99Ms), ms(after.maxMs), readNote]);
    }
    return lines;
  });
  const header = ['read policy', 'measured', 'samples', 'p50', 'p99', 'max', 'reader cadence p50, CPU per reader'];
  const offset = `${ms(finding.clockOffsetMs)} ± ${ms(finding.clockUncertaintyMs)}`;
  return [
    '### Invalidation lag (loopback)',
    `One writer (the benchmark's process) writes one key every ${finding.writeEveryMs} ms for ${finding.durationMs} ms; ` +
      `${finding.cadenceReaders} readers in processes of their own read it every ${finding.cadenceMs} ms (sleeping in ` +
      'between), and for the near-cache one more process reads only when the invalidation drops its copy. A lag is ' +
      "from the writer's acknowledgement to the reader's first read returning that value (or a newer one), on the " +
      `machine's clock, each reader's offset measured over IPC and corrected (largest ${offset}).`,
    mdTable(header, rows),
  ];
}
