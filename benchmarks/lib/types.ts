/** Payload sizes every scenario runs with (JSON values of about this many bytes). */
export type PayloadName = '100B' | '1KB' | '64KB';

/** Who a row measures: our store, a floor it is compared with, or what a user would pick instead. */
export type Role = 'keyv-failsafe' | 'baseline' | 'neighbour';

/** How calls are issued: one awaited at a time, or many outstanding at once. */
export type Mode = 'sequential' | `${number} in flight`;

/** One latency distribution and the throughput it came with. */
export interface Sample {
  readonly count: number;
  readonly opsPerSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** One measured line of the report. */
export interface Row extends Sample {
  /** The scenario kind, e.g. `memory path`, `redis get`, `batch`. */
  readonly scenario: string;
  readonly subject: string;
  readonly role: Role;
  readonly payload: PayloadName;
  readonly mode: Mode;
  /** Name of the row this one is compared with; same scenario, payload and mode. */
  readonly baseline?: string;
  /** This row's p50 divided by the baseline's (below 1 is faster). */
  p50Ratio?: number;
  /** This row's throughput divided by the baseline's (above 1 is faster). */
  opsRatio?: number;
  readonly note?: string;
}

/** A scenario that was not run, and why, so a partial report says so instead of looking complete. */
export interface Skip {
  readonly scenario: string;
  readonly reason: string;
}

/** Scenario-specific findings that do not fit a latency row (degraded runs, memory bound, round trips). */
export type Findings = Record<string, unknown>;
