import { describeError } from './outcome.js';
import { type CrashCounters, runPair } from './pair.js';
import type { ControlAction, Job, ToChild, ToParent } from './protocol.js';

/**
 * Child-process entry: one (library, scenario) pair per process, so a library that hangs, leaks
 * reconnect loops or crashes cannot affect the next one. The orchestrator owns the redis-server;
 * this process asks it to act over IPC, and reports one JSON result, then exits on its own
 * (a library's reconnect timers would otherwise keep it alive).
 */

const crashes: CrashCounters = { unhandledRejections: 0, uncaughtExceptions: 0 };
process.on('unhandledRejection', () => {
  crashes.unhandledRejections++;
});
process.on('uncaughtException', (error) => {
  crashes.uncaughtExceptions++;
  process.stderr.write(`uncaught: ${describeError(error)}\n`);
});

/** Resolves once the message is handed to the IPC channel. */
function send(message: ToParent): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

let nextId = 0;
const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

function control(action: ControlAction): Promise<void> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    void send({ type: 'control', id, action });
  });
}

async function run(job: Job): Promise<void> {
  const result = await runPair(job, control, crashes, (phase) => void send({ type: 'phase', phase }));
  await send({ type: 'result', result });
  // Exit now: a library's reconnect timers or abandoned calls would keep the process alive.
  process.exit(0);
}

process.on('message', (message: ToChild) => {
  if (message.type === 'job') {
    run(message.job).catch((error: unknown) => {
      process.stderr.write(`pair failed: ${describeError(error)}\n${(error as Error)?.stack ?? ''}\n`);
      process.exit(1);
    });
  } else if (message.type === 'control-done') {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error === undefined) waiter?.resolve();
    else waiter?.reject(new Error(message.error));
  }
});
