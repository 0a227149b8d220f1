import { sleep } from './outcome.js';
import type { ControlAction, ScenarioName, Timings } from './protocol.js';
import { OOM_SERVER_ARGS } from './server-control.js';

/** Asks the orchestrator to act on this pair's redis-server; resolves once it has. */
export type Control = (action: ControlAction) => Promise<void>;

/** The password the server requires in the wrong-password scenario; the library is given another. */
export const SERVER_PASSWORD = 'resilience-right-secret';
export const WRONG_PASSWORD = 'resilience-wrong-secret';

export interface Scenario {
  readonly name: ScenarioName;
  /** One line for the report. */
  readonly description: string;
  /** Extra redis-server arguments. */
  readonly serverArgs: readonly string[];
  readonly serverPassword?: string;
  readonly clientPassword?: string;
  /** False when the library is built against a server it cannot use: no seeding, no healthy warm-up. */
  readonly startsHealthy: boolean;
  /** The server is not running when the library is built; the outage starts it. */
  readonly startsDown?: true;
  /**
   * The library reaches the server through a TCP proxy run by the orchestrator (the failures a kill
   * or a stop cannot make); the harness's raw client still talks to the server directly.
   */
  readonly proxied?: true;
  /** Runs from the start of the outage until the server is usable again. */
  outage(control: Control, timings: Timings): Promise<void>;
}

async function killAndRestart(control: Control, timings: Timings): Promise<void> {
  await control('kill');
  await sleep(timings.outageMs);
  await control('start');
}

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = {
  'never-started': {
    name: 'never-started',
    description: 'no server when the library is built; started after the outage time',
    serverArgs: [],
    startsHealthy: false,
    startsDown: true,
    async outage(control, timings) {
      await sleep(timings.outageMs);
      await control('start');
    },
  },
  'killed-empty': {
    name: 'killed-empty',
    description: 'SIGKILL mid-load, restarted empty after the outage time',
    serverArgs: [],
    startsHealthy: true,
    outage: killAndRestart,
  },
  'killed-snapshot': {
    name: 'killed-snapshot',
    description: 'SAVE, then SIGKILL mid-load; restarted from that snapshot (it missed every later write)',
    serverArgs: [],
    startsHealthy: true,
    async outage(control, timings) {
      await control('save');
      await killAndRestart(control, timings);
    },
  },
  hung: {
    name: 'hung',
    description: 'SIGSTOP mid-load, SIGCONT after the hang time (writes already sent land late)',
    serverArgs: [],
    startsHealthy: true,
    async outage(control, timings) {
      await control('hang');
      await sleep(timings.hangMs);
      await control('resume');
    },
  },
  flapping: {
    name: 'flapping',
    description: 'killed and restarted empty several times within seconds',
    serverArgs: [],
    startsHealthy: true,
    async outage(control, timings) {
      for (let flap = 0; flap < timings.flaps; flap++) {
        await control('kill');
        await sleep(timings.flapDownMs);
        await control('start');
        if (flap < timings.flaps - 1) await sleep(timings.flapUpMs);
      }
    },
  },
  oom: {
    name: 'oom',
    description: 'maxmemory 16mb + noeviction, filled until writes fail (reads work); then the filler is deleted',
    serverArgs: OOM_SERVER_ARGS,
    startsHealthy: true,
    async outage(control, timings) {
      await control('fill-memory');
      await sleep(timings.outageMs);
      await control('free-memory');
    },
  },
  'wrong-password': {
    name: 'wrong-password',
    description: 'server requires a password, the library has a wrong one; then the server is given that one',
    serverArgs: [],
    serverPassword: SERVER_PASSWORD,
    clientPassword: WRONG_PASSWORD,
    startsHealthy: false,
    async outage(control, timings) {
      await sleep(timings.outageMs);
      await control('fix-password');
    },
  },
  slow: {
    name: 'slow',
    description: 'through a TCP proxy: every chunk delayed by 300 ms for the outage time, then passed at once again',
    serverArgs: [],
    startsHealthy: true,
    proxied: true,
    async outage(control, timings) {
      await control('proxy-slow');
      await sleep(timings.outageMs);
      await control('proxy-pass');
    },
  },
  blackhole: {
    name: 'blackhole',
    description:
      'through a TCP proxy: the open connections drop everything, forever (no reset); new connections pass again after the outage time',
    serverArgs: [],
    startsHealthy: true,
    proxied: true,
    async outage(control, timings) {
      await control('proxy-blackhole');
      await sleep(timings.outageMs);
      // Only connections opened from now on pass: the black-holed ones stay silent until the library drops them.
      await control('proxy-pass');
    },
  },
  reset: {
    name: 'reset',
    description: 'through a TCP proxy: every connection reset (RST) 3 times, 300 ms apart',
    serverArgs: [],
    startsHealthy: true,
    proxied: true,
    async outage(control, timings) {
      for (let reset = 0; reset < timings.resets; reset++) {
        if (reset > 0) await sleep(timings.resetGapMs);
        await control('proxy-reset');
      }
    },
  },
};
