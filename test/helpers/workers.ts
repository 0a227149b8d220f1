/**
 * Several copies of one test worker file in processes of their own, started together: the parent
 * side forks them, hands each its options, waits until all are ready, tells them when to start
 * (one moment on the machine-wide `now()` clock) and collects one report from each. The child side
 * is `workerChild()`. Used by `coherence-worker.ts` and `load-worker.ts`.
 */
import { fork } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { now } from './store-process.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MARKER = 'KEYV_FAILSAFE_WORKER';

/** Forks `file` once per init, starts them together and resolves their reports, in order. */
export async function runWorkers<I, R>(file: string, inits: readonly I[]): Promise<R[]> {
  const children = inits.map(() =>
    fork(file, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [MARKER]: realpathSync(file) },
    }),
  );
  try {
    const ready = children.map((child) => new Promise<void>((done) => child.once('message', () => done())));
    for (const [index, child] of children.entries()) child.send({ init: inits[index] });
    await Promise.all(ready);
    const reports = children.map(
      (child) =>
        new Promise<R>((done, fail) => {
          child.once('message', (report: R) => done(report));
          child.once('exit', (code) => fail(new Error(`${file}: worker exited (${code})`)));
        }),
    );
    const startAt = now() + 100;
    for (const child of children) child.send({ startAt });
    return await Promise.all(reports);
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
}

/** In a worker: true when this process is `file` forked by {@link runWorkers}. */
export function isWorker(file: string): boolean {
  return process.env[MARKER] === realpathSync(file) && realpathSync(process.argv[1] ?? '') === realpathSync(file);
}

/** The child side: its options; `ready()` resolves at the common start; `report()` hands the result back. */
export async function workerChild<I, R>(): Promise<{ init: I; ready(): Promise<void>; report(result: R): void }> {
  process.on('disconnect', () => process.exit(0));
  const { init } = await new Promise<{ init: I }>((done) => process.once('message', done));
  return {
    init,
    async ready() {
      const started = new Promise<{ startAt: number }>((done) => process.once('message', done));
      process.send?.({ type: 'ready' });
      const { startAt } = await started;
      await new Promise((done) => setTimeout(done, Math.max(0, startAt - now())));
    },
    report(result) {
      process.send?.(result);
    },
  };
}
