/**
 * What the orchestrator (run.ts) and a pair's child process (worker.ts) say to each other over the
 * fork IPC channel, and the shapes of the results. Plain data only: it crosses a process boundary.
 */

export const LIBRARY_NAMES = ['tiered-store', 'keyv-redis', 'cacheable', 'cache-manager', 'bentocache'] as const;
export type LibraryName = (typeof LIBRARY_NAMES)[number];

export const SCENARIO_NAMES = [
  'never-started',
  'killed-empty',
  'killed-snapshot',
  'hung',
  'flapping',
  'oom',
  'wrong-password',
  'slow',
  'blackhole',
  'reset',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Every duration of a run, in one place so `--quick` can shrink them together. */
export interface Timings {
  /** Healthy load before the outage. */
  readonly warmupMs: number;
  /** How long the server is down, out of memory or refusing the password. */
  readonly outageMs: number;
  /** How long the server stays stopped (SIGSTOP) in the hung scenario. */
  readonly hangMs: number;
  /** Flapping: kill/restart cycles, and how long each down and up period lasts. */
  readonly flaps: number;
  readonly flapDownMs: number;
  readonly flapUpMs: number;
  /** Proxy scenarios: the delay added to every chunk in `slow`; resets and the gap between them in `reset`. */
  readonly proxyDelayMs: number;
  readonly resets: number;
  readonly resetGapMs: number;
  /** Load keeps running at least this long after the server is back. */
  readonly afterMs: number;
  /** The recovery probe gives up after this long: "never back" in the report. */
  readonly recoveryCapMs: number;
  /** A call not settled this long after it was made is hung; nobody waits for it any more. */
  readonly callCapMs: number;
  /** A settled call slower than this is counted as slow (a web request would have timed out). */
  readonly slowMs: number;
  /** Pause between the end of the load and the staleness check, so that late writes can land. */
  readonly quiesceMs: number;
  /** Pause between two calls of one load worker. */
  readonly thinkMs: number;
  readonly workers: number;
  readonly keys: number;
}

/** One (library, scenario) pair, run in its own child process against its own redis-server. */
export interface Job {
  readonly library: LibraryName;
  readonly scenario: ScenarioName;
  /** The redis-server's own port: the harness's raw client (probes, fill, fix) always talks to it. */
  readonly port: number;
  /** The port the library is given: a TCP proxy in front of the server in the proxy scenarios, else `port`. */
  readonly libraryPort: number;
  /** The password the library is given (a wrong one in the wrong-password scenario). */
  readonly clientPassword: string | undefined;
  /** The password the raw probe client needs once the outage is over. */
  readonly probePassword: string | undefined;
  readonly timings: Timings;
}

/** What the child may ask the orchestrator to do to the pair's redis-server, or to the proxy in front of it. */
export type ControlAction =
  | 'start'
  | 'kill'
  | 'hang'
  | 'resume'
  | 'save'
  | 'fill-memory'
  | 'free-memory'
  | 'fix-password'
  | 'proxy-pass'
  | 'proxy-slow'
  | 'proxy-blackhole'
  | 'proxy-reset';

export type ToChild =
  | { readonly type: 'job'; readonly job: Job }
  | { readonly type: 'control-done'; readonly id: number; readonly error?: string };

export type ToParent =
  | { readonly type: 'control'; readonly id: number; readonly action: ControlAction }
  | { readonly type: 'phase'; readonly phase: string }
  | { readonly type: 'result'; readonly result: PairResult };

export interface LatencySummary {
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

/** Calls of one phase of the load (or of all of it). */
export interface CallStats {
  readonly made: number;
  /** Resolved or rejected within `callCapMs`. */
  readonly settled: number;
  /** Not settled within `callCapMs`. */
  readonly hung: number;
  /** Settled, but slower than `slowMs`. */
  readonly slow: number;
  /** Rejected (an error thrown at the caller). */
  readonly rejected: number;
  /** `set` resolved with `false`: the library said the write failed. */
  readonly writesReportedFailed: number;
  readonly latency: LatencySummary;
}

export type Phase = 'before' | 'outage' | 'after';

/** A read of every key after recovery, compared with the newest write or delete this process made. */
export interface StaleCheck {
  /** False when the reading instance could not be brought to Redis first (then the counts mean little). */
  readonly reachedRedis: boolean;
  readonly checked: number;
  readonly fresh: number;
  readonly misses: number;
  /** Older version than the newest this process wrote, or a value for a key it deleted last. */
  readonly stale: number;
  readonly resurrected: number;
  /** Stale, by what the library said about the key's newest write or delete. */
  readonly staleAfterAcked: number;
  readonly staleAfterFailed: number;
  readonly staleAfterHung: number;
  /** A version newer than any written, or a value of the wrong shape: a harness bug if ever seen. */
  readonly anomalies: number;
  readonly unanswered: number;
  readonly rejected: number;
}

export interface RecoveryResult {
  /** From the server being back to the first probe answered from Redis; null if it never was. */
  readonly ms: number | null;
  readonly probes: number;
}

export interface PairResult {
  readonly library: LibraryName;
  readonly scenario: ScenarioName;
  /** Set when the harness itself failed for this pair (child crashed or was killed at the hard cap). */
  readonly harnessError?: string;
  readonly durationMs: number;
  readonly calls: CallStats;
  readonly phases: Record<Phase, CallStats>;
  readonly errorSamples: readonly string[];
  /** 'error' events the library emitted (listened to, as the READMEs advise, so they cannot crash). */
  readonly errorEvents: number;
  readonly unhandledRejections: number;
  readonly uncaughtExceptions: number;
  readonly recovery: RecoveryResult;
  readonly staleSameInstance: StaleCheck | null;
  readonly staleFreshInstance: StaleCheck | null;
  /** States the circuit breaker went through, when the library has one we can read. */
  readonly circuit: { readonly transitions: readonly string[]; readonly final: string | undefined } | null;
  /** The library's own counters at the end, when it has them. */
  readonly libraryStats: unknown;
  readonly stderrTail?: string;
}
