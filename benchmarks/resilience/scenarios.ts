import type { RedisServer } from '../../harness/redis-server.js';
import { RespError, sendCommands } from '../../harness/resp.js';
import type { TcpProxy } from '../../harness/tcp-proxy.js';
import { sleep } from '../lib/measure.js';

/** The full run's durations (about 5 minutes for the matrix on 2 cores): outages outlast `callCapMs`. */
export const FULL = {
  ...{ warmupMs: 800, outageMs: 3_200, hangMs: 2_000, flaps: 4, flapDownMs: 300, flapUpMs: 300 },
  /** Load after recovery, at least; the recovery probe's cap ("never back"); the pause before the stale checks. */
  ...{ afterMs: 800, recoveryCapMs: 6_000, quiesceMs: 300 },
  // 3 s: 30x TieredStore's deadline and far above any healthy call on a loaded 2-core machine; a
  // call not settled by then is hung (nobody waits any more). Settled after `slowMs`: slow.
  ...{ callCapMs: 3_000, slowMs: 1_000, workers: 32 },
  // 1000 keys at ~3,000 calls/s: a few calls per key per second, so an outage leaves keys whose
  // newest call was a write (with 200 keys nearly every key is also deleted, which hides staleness).
  // A fixed pause between a worker's calls offers every library the same load, not the fastest more.
  ...{ keys: 1_000, thinkMs: 10 },
  // 300 ms a chunk: 3x TieredStore's deadline, far below the call cap, so a library that waits is
  // slow, not hung. Resets ~300 ms apart: each reconnect has time to complete first.
  ...{ proxyDelayMs: 300, resets: 3, resetGapMs: 300 },
};
/** Every duration of a run, in one place so `--quick` shrinks them together. */
export type Timings = typeof FULL;

/** `--quick`: the same shape in under 2 minutes; outages are shorter than `callCapMs`. */
export const QUICK: Timings = {
  ...FULL,
  ...{ warmupMs: 300, outageMs: 800, hangMs: 1_200, flaps: 3, flapDownMs: 200, flapUpMs: 200 },
  ...{ afterMs: 400, recoveryCapMs: 4_000, quiesceMs: 200 },
};

/** The orchestrator kills a pair's child after this long: every phase is bounded, so only a harness bug gets there. */
export function hardCapMs(t: Timings): number {
  const outage = Math.max(t.outageMs, t.hangMs, t.flaps * (t.flapDownMs + t.flapUpMs), t.resets * t.resetGapMs);
  // Seed, drain and the stale checks (each at most 2 caps, plus the fresh instance reaching Redis)
  // are bounded by the call cap; then closes, and child start-up and restarts on a busy machine.
  return t.warmupMs + outage + Math.max(t.recoveryCapMs, t.afterMs) + t.quiesceMs + t.callCapMs * 7 + 19_000;
}

const FILLER = 'resilience:filler:';

/**
 * Writes 64 KB filler values until Redis answers OOM, then pins `maxmemory` 1 MB below the usage,
 * so that the library's own deletes (allowed under OOM) cannot reopen writes.
 */
async function fillMemory(server: RedisServer): Promise<void> {
  for (let batch = 0; batch < 20; batch++) {
    const commands = Array.from({ length: 64 }, (_, i) => ['SET', `${FILLER}${batch}:${i}`, 'x'.repeat(65_536)]);
    const replies = await sendCommands(server.port, commands, { password: server.password, timeoutMs: 5_000 });
    if (!replies.some((reply) => reply instanceof RespError && reply.message.startsWith('OOM'))) continue;
    const used = Number(/used_memory:(\d+)/.exec(String(await server.command(['INFO', 'memory'])))?.[1]);
    if (!Number.isFinite(used)) throw new Error('INFO memory has no used_memory');
    return void (await server.command(['CONFIG', 'SET', 'maxmemory', String(used - 1024 * 1024)]));
  }
  throw new Error('redis never answered OOM while being filled');
}

/** What a pair's server and proxy (proxied scenarios only) are, for the actions below. */
export type Target = {
  server: RedisServer;
  proxy?: TcpProxy | undefined;
  clientPassword?: string | undefined;
  timings: Timings;
};
const proxied = (target: Target): TcpProxy => {
  if (target.proxy === undefined) throw new Error('a proxy action needs a proxied scenario');
  return target.proxy;
};

/** What a child may ask the orchestrator to do, carried out there: the orchestrator owns every server. */
export const ACTIONS = {
  start: ({ server }: Target) => server.restart(),
  kill: ({ server }: Target) => server.kill(),
  hang: ({ server }: Target) => server.hang(),
  resume: ({ server }: Target) => server.resume(),
  save: ({ server }: Target) => server.save(),
  'fill-memory': ({ server }: Target) => fillMemory(server),
  // What an operator would do: the filler deleted, and the limit lifted.
  'free-memory': async ({ server }: Target) => {
    const keys = await server.command(['KEYS', `${FILLER}*`]);
    if (Array.isArray(keys) && keys.length > 0) await server.command(['DEL', ...keys.map(String)]);
    await server.command(['CONFIG', 'SET', 'maxmemory', '0']);
  },
  // An operator correcting the secret: the server now takes the password the library was given.
  'fix-password': ({ server, clientPassword }: Target) => server.setPassword(String(clientPassword)),
  'proxy-pass': (target: Target) => proxied(target).setMode('pass'),
  'proxy-slow': (target: Target) => proxied(target).setMode('slow', target.timings.proxyDelayMs),
  // Only connections opened from then on pass: the black-holed ones stay silent until the library drops them.
  'proxy-blackhole': (target: Target) => proxied(target).setMode('blackhole'),
  'proxy-reset': (target: Target) => proxied(target).resetAll(),
};
export type ControlAction = keyof typeof ACTIONS;
/** Asks the orchestrator to act on the pair's server or proxy; resolves once it has. */
export type Control = (action: ControlAction) => Promise<void>;

/**
 * A failure done to a pair's server, from the start of the outage until the server is usable
 * again: `steps` are actions, and pauses named by a duration of `Timings`. `startsHealthy: false`:
 * the library is built against a server it cannot use (no seeding, no healthy warm-up);
 * `startsDown`: no server when it is built; `proxied`: the library reaches the server through the
 * orchestrator's TCP proxy (the harness's raw client does not).
 */
export interface Scenario {
  readonly description: string;
  readonly steps: (t: Timings) => ReadonlyArray<ControlAction | keyof Timings>;
  readonly startsHealthy?: false;
  readonly startsDown?: true;
  readonly proxied?: true;
  readonly serverArgs?: readonly string[];
  readonly serverPassword?: string;
  readonly clientPassword?: string;
}

type Step = ControlAction | keyof Timings;
/** `steps` `times` over, with the pause `gap` between two rounds. */
const repeat = (times: number, steps: Step[], gap: Step): Step[] =>
  Array.from({ length: times }, (_, i) => (i === 0 ? steps : [gap, ...steps])).flat();

export const SCENARIOS = {
  'never-started': {
    description: 'no server when the library is built; started after the outage time',
    ...{ startsHealthy: false, startsDown: true, steps: () => ['outageMs', 'start'] },
  },
  'killed-empty': {
    description: 'SIGKILL mid-load, restarted empty after the outage time',
    steps: () => ['kill', 'outageMs', 'start'],
  },
  'killed-snapshot': {
    description: 'SAVE, then SIGKILL mid-load; restarted from that snapshot (it missed every later write)',
    steps: () => ['save', 'kill', 'outageMs', 'start'],
  },
  hung: {
    description: 'SIGSTOP mid-load, SIGCONT after the hang time (writes already sent land late)',
    steps: () => ['hang', 'hangMs', 'resume'],
  },
  flapping: {
    description: 'killed and restarted empty several times within seconds',
    steps: (t) => repeat(t.flaps, ['kill', 'flapDownMs', 'start'], 'flapUpMs'),
  },
  oom: {
    description: 'maxmemory 16mb + noeviction, filled until writes fail (reads work); then the filler is deleted',
    serverArgs: ['--maxmemory', '16mb', '--maxmemory-policy', 'noeviction'],
    steps: () => ['fill-memory', 'outageMs', 'free-memory'],
  },
  'wrong-password': {
    description: 'server requires a password, the library has a wrong one; then the server is given that one',
    ...{ serverPassword: 'resilience-right-secret', clientPassword: 'resilience-wrong-secret', startsHealthy: false },
    steps: () => ['outageMs', 'fix-password'],
  },
  slow: {
    description: 'through a TCP proxy: every chunk delayed by 300 ms for the outage time, then passed at once again',
    ...{ proxied: true, steps: () => ['proxy-slow', 'outageMs', 'proxy-pass'] },
  },
  blackhole: {
    description:
      'through a TCP proxy: the open connections drop everything, forever (no reset); new connections pass again after the outage time',
    ...{ proxied: true, steps: () => ['proxy-blackhole', 'outageMs', 'proxy-pass'] },
  },
  reset: {
    description: 'through a TCP proxy: every connection reset (RST) 3 times, 300 ms apart',
    ...{ proxied: true, steps: (t) => repeat(t.resets, ['proxy-reset'], 'resetGapMs') },
  },
} satisfies Record<string, Scenario>;
export type ScenarioName = keyof typeof SCENARIOS;
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];

/** Runs a scenario's outage: its actions through `control`, its pauses as sleeps. */
export async function runOutage(scenario: Scenario, control: Control, t: Timings): Promise<void> {
  for (const step of scenario.steps(t)) {
    await (step in t ? sleep(t[step as keyof Timings]) : control(step as ControlAction));
  }
}
