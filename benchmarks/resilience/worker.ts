import { describeError } from '../lib/measure.js';
import { crashes, type Job, type PairResult, runPair } from './pair.js';
import type { ControlAction } from './scenarios.js';

/**
 * A pair's child process: one (library, scenario) pair per process, so that a library that hangs,
 * leaks reconnect loops or crashes cannot affect the next. The orchestrator owns the redis-server:
 * this process asks it to act over IPC, reports one result, and exits (a library's reconnect timers
 * would otherwise keep it alive).
 */

/** What the orchestrator (run.ts) and a child say to each other over the fork IPC channel: plain data only. */
export type ToChild = { type: 'job'; job: Job } | { type: 'control-done'; id: number; error?: string };
export type ToParent =
  | { type: 'control'; id: number; action: ControlAction }
  | { type: 'phase'; phase: string }
  | { type: 'result'; result: PairResult };

const send = (message: ToParent): Promise<void> =>
  new Promise((resolve) => process.send?.(message, undefined, {}, () => resolve()));
const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
let lastId = 0;

process.on('unhandledRejection', () => crashes.unhandledRejections++);
process.on('uncaughtException', (error) => {
  crashes.uncaughtExceptions++;
  process.stderr.write(`uncaught: ${describeError(error)}\n`);
});
process.on('message', (message: ToChild) => {
  if (message.type === 'control-done') {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error === undefined) waiter?.resolve();
    else waiter?.reject(new Error(message.error));
    return;
  }
  const control = (action: ControlAction): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = ++lastId;
      pending.set(id, { resolve, reject });
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
