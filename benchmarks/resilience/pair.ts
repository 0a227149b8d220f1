import { performance } from 'node:perf_hooks';
import { CallRecorder } from './call-stats.js';
import { KeyModel } from './key-model.js';
import { LIBRARIES } from './libraries/index.js';
import type { CacheClient, LibraryAdapter } from './libraries/types.js';
import { Load } from './load.js';
import { bounded, sleep } from './outcome.js';
import type { Job, PairResult, RecoveryResult, StaleCheck } from './protocol.js';
import { measureRecovery, type ProbeTarget, reachRedis } from './recovery.js';
import { type Control, SCENARIOS } from './scenarios.js';
import { checkStaleness } from './staleness.js';

/** Process-wide failures a library may cause; counted, never allowed to end the pair. */
export interface CrashCounters {
  unhandledRejections: number;
  uncaughtExceptions: number;
}

function urlFor(job: Job): string {
  const auth = job.clientPassword === undefined ? '' : `:${encodeURIComponent(job.clientPassword)}@`;
  return `redis://${auth}127.0.0.1:${job.libraryPort}`;
}

/**
 * One library through one scenario: build it, seed and warm up (when the server starts healthy),
 * break the server under load, bring it back, measure how long until the library reads Redis
 * again, stop the load, then read every key through the same instance and through a fresh one.
 */
export async function runPair(
  job: Job,
  control: Control,
  crashes: CrashCounters,
  onPhase: (phase: string) => void,
): Promise<PairResult> {
  const started = performance.now();
  const adapter = await LIBRARIES[job.library].load();
  const scenario = SCENARIOS[job.scenario];
  const { timings } = job;
  const url = urlFor(job);
  const target: ProbeTarget = { port: job.port, password: job.probePassword };
  const model = new KeyModel(timings.keys);
  const recorder = new CallRecorder(timings.slowMs);

  const client = adapter.create(url);
  const load = new Load(client, model, recorder, timings);
  if (scenario.startsHealthy) {
    onPhase('seed');
    await load.seed();
    load.start();
    onPhase('warmup');
    await sleep(timings.warmupMs);
  } else {
    // The outage starts at construction: the very first calls belong to it.
    load.phase = 'outage';
    load.start();
  }

  onPhase('outage');
  load.phase = 'outage';
  await scenario.outage(control, timings);
  const backAt = performance.now();
  load.phase = 'after';

  onPhase('recovery');
  const [recovery] = await Promise.all([
    measureRecovery(adapter, client, target, backAt, timings.recoveryCapMs),
    sleep(timings.afterMs),
  ]);

  onPhase('drain');
  await load.stop();
  await sleep(timings.quiesceMs);

  onPhase('stale-same');
  const staleSameInstance = await checkStaleness(
    client,
    model,
    timings.callCapMs,
    timings.workers,
    recovery.ms !== null,
  );

  onPhase('stale-fresh');
  const staleFreshInstance = await freshInstanceCheck(adapter, job, target, model);

  const circuit = client.circuitState
    ? { transitions: client.circuitTransitions?.() ?? [], final: client.circuitState() }
    : null;
  const libraryStats = client.stats?.();
  onPhase('close');
  await bounded(() => client.close(), 2_000);

  return {
    library: job.library,
    scenario: job.scenario,
    durationMs: Math.round(performance.now() - started),
    calls: recorder.total(),
    phases: recorder.phases(),
    errorSamples: recorder.errorSamples(),
    errorEvents: client.errorEvents(),
    unhandledRejections: crashes.unhandledRejections,
    uncaughtExceptions: crashes.uncaughtExceptions,
    recovery: recovery satisfies RecoveryResult,
    staleSameInstance,
    staleFreshInstance,
    circuit,
    libraryStats,
  };
}

/**
 * What another instance (or this one after a restart) reads: a new instance with an empty memory
 * tier, first brought to Redis, then asked every key. It shows what the outage left in Redis.
 */
async function freshInstanceCheck(
  adapter: LibraryAdapter,
  job: Job,
  target: ProbeTarget,
  model: KeyModel,
): Promise<StaleCheck> {
  let fresh: CacheClient | undefined;
  try {
    fresh = adapter.create(urlFor(job));
    const reached = await reachRedis(adapter, fresh, target, job.timings.callCapMs);
    return await checkStaleness(fresh, model, job.timings.callCapMs, job.timings.workers, reached);
  } finally {
    const instance = fresh;
    if (instance) await bounded(() => instance.close(), 2_000);
  }
}
