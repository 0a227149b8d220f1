/**
 * A pair's child process (forked by run.ts): one (library, scenario) pair per process, so that a
 * library that hangs, leaks reconnect loops or crashes cannot affect the next. The orchestrator
 * owns the redis-server: this process asks it to act over IPC, reports one result, and exits (a
 * library's reconnect timers would otherwise keep it alive).
 */
import { type Client, LIBRARIES, type LibraryName } from '../lib/libraries.js';
import { bounded, describeError, sleep } from '../lib/measure.js';
import { checkStaleness, measureRecovery, prober, reachRedis } from './checks.js';
import { Load } from './load.js';
import type { Control, ControlAction, Scenario, ScenarioName, Timings } from './scenarios.js';
import { runOutage, SCENARIOS } from './scenarios.js';

/**
 * One (library, scenario) pair, run in a child process of its own against a redis-server of its
 * own. `port` is the server's (the harness's raw client always talks to it), `libraryPort` the one
 * the library is given (the TCP proxy's in the proxied scenarios), `clientPassword` the library's.
 */
export type Job = { library: LibraryName; scenario: ScenarioName; port: number; libraryPort: number } & {
  clientPassword: string | undefined;
  timings: Timings;
};

/** Process-wide failures a library may cause; counted, never allowed to end the pair. */
export const crashes = { unhandledRejections: 0, uncaughtExceptions: 0 };

/** TieredStore only: its breaker's transitions and the events that say it reconciled or saw a restart. */
function watchStore(client: Client) {
  const { store } = client;
  if (store === undefined) return () => ({ circuit: null, libraryStats: undefined });
  const transitions: string[] = [];
  const seen = { reconcileDoneEvents: 0, restartEvents: 0 };
  store.on('circuit:state', ({ from, to }) => transitions.push(`${from}>${to}`));
  store.on('reconcile:done', () => seen.reconcileDoneEvents++);
  store.on('primary:restart', () => seen.restartEvents++);
  return () => ({ circuit: { transitions, final: store.circuitState }, libraryStats: { ...store.stats(), ...seen } });
}

/**
 * One library through one scenario: build it, seed and warm up (when the server starts healthy),
 * break the server under load, bring it back, measure how long until the library reads Redis
 * again, stop the load, then read every key through the same instance and through a fresh one.
 */
export async function runPair(job: Job, control: Control, onPhase: (phase: string) => void) {
  const started = performance.now();
  const library = LIBRARIES[job.library];
  const scenario: Scenario = SCENARIOS[job.scenario];
  const { timings } = job;
  const auth = job.clientPassword === undefined ? '' : `:${encodeURIComponent(job.clientPassword)}@`;
  const url = `redis://${auth}127.0.0.1:${job.libraryPort}`;
  // Once the outage is over, the server takes the password the library was given.
  const probe = prober(library, job.port, job.clientPassword);
  const client = library.create(url);
  const watched = watchStore(client);
  const load = new Load(client, timings);
  if (scenario.startsHealthy !== false) {
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
  await runOutage(scenario, control, timings);
  const backAt = performance.now();
  load.phase = 'after';
  onPhase('recovery');
  const [recovery] = await Promise.all([
    measureRecovery(probe, client, backAt, timings.recoveryCapMs),
    sleep(timings.afterMs),
  ]);
  onPhase('drain');
  await load.stop();
  await sleep(timings.quiesceMs);
  onPhase('stale-same');
  const staleSameInstance = await checkStaleness(client, load, timings.callCapMs, recovery.ms !== null);
  onPhase('stale-fresh');
  // What every other instance (or this one after a restart) reads: a new instance with an empty
  // memory tier, first brought to Redis, then asked every key.
  const fresh = library.create(url);
  const reached = await reachRedis(probe, fresh, timings.callCapMs);
  const staleFreshInstance = await checkStaleness(fresh, load, timings.callCapMs, reached);
  await bounded(() => fresh.close(), 2_000);
  const { circuit, libraryStats } = watched();
  onPhase('close');
  await bounded(() => client.close(), 2_000);
  const { total: calls, phases } = load.stats();
  const [durationMs, errorSamples] = [Math.round(performance.now() - started), [...load.errorSamples]];
  const pair = { library: job.library, scenario: job.scenario, durationMs, calls, phases, errorSamples };
  const stale = { staleSameInstance, staleFreshInstance };
  return { ...pair, errorEvents: client.errorEvents(), ...crashes, recovery, ...stale, circuit, libraryStats };
}
export type PairResult = Awaited<ReturnType<typeof runPair>>;

/** What the orchestrator (run.ts) and a child say to each other over the fork IPC channel: plain data only. */
export type ToChild = { type: 'job'; job: Job } | { type: 'control-done'; id: number; error?: string };
export type ToParent =
  | { type: 'control'; id: number; action: ControlAction }
  | { type: 'phase'; phase: string }
  | { type: 'result'; result: PairResult };

const send = (message: ToParent): Promise<void> =>
  new Promise((resolve) => process.send?.(message, undefined, {}, () => resolve()));
const pending = new Map<number, (error?: string) => void>();
let lastId = 0;

process.on('unhandledRejection', () => crashes.unhandledRejections++);
process.on('uncaughtException', (error) => {
  crashes.uncaughtExceptions++;
  process.stderr.write(`uncaught: ${describeError(error)}\n`);
});
process.on('message', (message: ToChild) => {
  if (message.type === 'control-done') {
    pending.get(message.id)?.(message.error);
    return void pending.delete(message.id);
  }
  const control = (action: ControlAction): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = ++lastId;
      pending.set(id, (error) => (error === undefined ? resolve() : reject(new Error(error))));
      void send({ type: 'control', id, action });
    });
  runPair(message.job, control, (phase) => void send({ type: 'phase', phase }))
    .then((result) => send({ type: 'result', result }))
    .then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`pair failed: ${describeError(error)}\n${(error as Error)?.stack ?? ''}\n`);
        process.exit(1);
      },
    );
});
