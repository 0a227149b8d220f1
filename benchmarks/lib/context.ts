import type { Cleanup } from './cleanup.js';
import type { MeasureOptions } from './histogram.js';
import type { Findings, PayloadName, Row, Skip } from './types.js';

/** What every scenario gets from the orchestrator. */
export interface BenchContext {
  readonly quick: boolean;
  readonly payloads: readonly PayloadName[];
  /** Warm-up, duration and sample floor of one measurement; `inFlight` is chosen per row. */
  readonly timing: Omit<MeasureOptions, 'inFlight'>;
  /**
   * Each row's duration is split into this many rounds, the subjects of a group taking turns, so
   * that a noisy spell on a shared machine lands on all of them rather than on one.
   */
  readonly rounds: number;
  /** The server the Redis-path scenarios share: ours, or REDIS_URL. Undefined when there is none. */
  readonly redisUrl: string | undefined;
  /** True when the shared server is one we started, so that INFO deltas are only our traffic. */
  readonly redisIsOurs: boolean;
  /** True when redis-server is on the PATH, so that a scenario can start a server to kill or hang. */
  readonly canStartRedis: boolean;
  /** Unique per run: namespaces and key prefixes carry it, so that a shared REDIS_URL is never clobbered. */
  readonly runId: string;
  progress(line: string): void;
}

/** What a scenario hands back. */
export interface ScenarioResult {
  readonly rows: Row[];
  readonly findings?: Findings;
  readonly skipped?: Skip[];
}

export interface Scenario {
  /** Matched by `--filter`. */
  readonly name: string;
  /**
   * `redis`: any Redis server (ours or REDIS_URL); `own-redis`: a redis-server this run starts, to
   * hang or kill. Undefined: runs in-process.
   */
  readonly requires?: 'redis' | 'own-redis';
  run(context: BenchContext, cleanup: Cleanup): Promise<ScenarioResult>;
}
