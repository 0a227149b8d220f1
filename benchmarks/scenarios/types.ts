import type { Cleanup, MeasureOptions, Sample } from '../lib/measure.js';
import type { Link } from './links.js';

/** Payload sizes (JSON values of about this many bytes). */
export type PayloadName = '100B' | '1KB' | '64KB';
/** Who a row measures: our store, a floor it is compared with, or what a user would pick instead. */
export type Role = 'keyv-failsafe' | 'baseline' | 'neighbour';
/** One call awaited at a time, or many outstanding at once. */
export type Mode = 'sequential' | `${number} in flight`;
/** Findings that do not fit a latency row (degraded runs, memory bound, round trips), by name. */
export type Findings = Record<string, unknown>;
/** A scenario that was not run, and why, so that a partial report says so instead of looking complete. */
export type Skip = { scenario: string; reason: string };

/**
 * One measured line of the report. `baseline` names the row (same scenario, payload and mode) it
 * is divided by: `p50Ratio` below 1 and `opsRatio` above 1 are faster.
 */
export interface Row extends Sample {
  readonly scenario: string;
  readonly subject: string;
  readonly role: Role;
  readonly payload: PayloadName;
  readonly mode: Mode;
  readonly baseline?: string;
  p50Ratio?: number;
  opsRatio?: number;
  readonly note?: string;
}

/**
 * One thing measured, reduced to the calls every scenario makes (a plain value for a synchronous
 * floor). `afterPreload` runs once the keys are written (e.g. kills the server); `health` counts the
 * calls that got no Redis answer, so that a Redis-path row says when some did not.
 */
export interface Subject {
  readonly name: string;
  readonly role: Role;
  note?: string;
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
  afterPreload?(): Promise<void>;
  /** Untimed, before each of its rounds, with the keys the round reads (the near-cache revalidates its copies). */
  beforeRound?(keys: readonly string[]): Promise<unknown>;
  health?(): Record<string, number>;
  close(): Promise<unknown>;
}

/** What every scenario gets from run.ts. */
export interface BenchContext {
  readonly quick: boolean;
  readonly payloads: readonly PayloadName[];
  /** One measurement's warm-up, duration and sample floor; `inFlight` is chosen per row. */
  readonly timing: Omit<MeasureOptions, 'inFlight'>;
  /** A row's time is split into this many rounds, taken in turn with its group, so that a noisy spell lands on all. */
  readonly rounds: number;
  /** The server the Redis-path scenarios share (ours, or REDIS_URL), and whether it is ours (INFO deltas are our traffic). */
  readonly redisUrl: string | undefined;
  readonly redisIsOurs: boolean;
  /** redis-server is on the PATH: a scenario may start a server of its own to kill or hang. */
  readonly canStartRedis: boolean;
  /** Where the `rtt` scenario puts Redis, one link after the other (`--rtt`). */
  readonly links: readonly Link[];
  /** Unique per run: namespaces and keys carry it, so that a shared REDIS_URL is never clobbered. */
  readonly runId: string;
  progress(line: string): void;
}

export type ScenarioResult = { rows: Row[]; findings?: Findings; sections?: Record<string, string[]> };

/** A scenario of `npm run bench`: `requires` any Redis (`redis`), one it starts to kill or hang (`own-redis`), or none. */
export interface Scenario {
  /** Matched by `--filter`. */
  readonly name: string;
  readonly requires?: 'redis' | 'own-redis';
  /** Rows, findings for latest.json, and their Markdown sections by finding. */
  run(context: BenchContext, cleanup: Cleanup): Promise<ScenarioResult>;
}
