import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { describeError, type Outcome } from './outcome.js';
import type { CallStats, LatencySummary, Phase } from './protocol.js';

/** Most distinct error descriptions kept for the report. */
const MAX_ERROR_SAMPLES = 5;

/** Counters and a latency histogram (microseconds) for one phase. */
class PhaseRecorder {
  made = 0;
  settled = 0;
  hung = 0;
  slow = 0;
  rejected = 0;
  writesReportedFailed = 0;
  readonly histogram: RecordableHistogram = createHistogram();

  summary(): CallStats {
    return {
      made: this.made,
      settled: this.settled,
      hung: this.hung,
      slow: this.slow,
      rejected: this.rejected,
      writesReportedFailed: this.writesReportedFailed,
      latency: latencyOf(this.histogram),
    };
  }
}

function latencyOf(histogram: RecordableHistogram): LatencySummary {
  if (histogram.count === 0) return { p50Ms: null, p99Ms: null, maxMs: null };
  const ms = (us: number): number => Math.round(us) / 1000;
  return { p50Ms: ms(histogram.percentile(50)), p99Ms: ms(histogram.percentile(99)), maxMs: ms(histogram.max) };
}

/** Records every load call by the phase it was made in. */
export class CallRecorder {
  readonly #phases: Record<Phase, PhaseRecorder> = {
    before: new PhaseRecorder(),
    outage: new PhaseRecorder(),
    after: new PhaseRecorder(),
  };
  readonly #slowMs: number;
  readonly #errorSamples = new Set<string>();

  constructor(slowMs: number) {
    this.#slowMs = slowMs;
  }

  record(phase: Phase, outcome: Outcome<unknown>, isWrite: boolean): void {
    const recorder = this.#phases[phase];
    recorder.made++;
    if (outcome.status === 'hung') {
      recorder.hung++;
      return;
    }
    recorder.settled++;
    // Histograms take integers >= 1: microseconds keep sub-millisecond detail.
    recorder.histogram.record(Math.max(1, Math.round(outcome.ms * 1000)));
    if (outcome.ms > this.#slowMs) recorder.slow++;
    if (outcome.status === 'rejected') {
      recorder.rejected++;
      if (this.#errorSamples.size < MAX_ERROR_SAMPLES) this.#errorSamples.add(describeError(outcome.error));
    } else if (isWrite && outcome.value === false) {
      recorder.writesReportedFailed++;
    }
  }

  phases(): Record<Phase, CallStats> {
    return {
      before: this.#phases.before.summary(),
      outage: this.#phases.outage.summary(),
      after: this.#phases.after.summary(),
    };
  }

  total(): CallStats {
    const all = new PhaseRecorder();
    for (const phase of Object.values(this.#phases)) {
      all.made += phase.made;
      all.settled += phase.settled;
      all.hung += phase.hung;
      all.slow += phase.slow;
      all.rejected += phase.rejected;
      all.writesReportedFailed += phase.writesReportedFailed;
      all.histogram.add(phase.histogram);
    }
    return all.summary();
  }

  errorSamples(): string[] {
    return [...this.#errorSamples];
  }
}
