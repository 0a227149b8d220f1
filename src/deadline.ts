import type { Clock } from './clock.js';

/**
 * Settles with `promise`, or rejects with `onTimeout()` after `ms` on `clock`, whichever comes first.
 *
 * This is the only thing that bounds a command already written to a hung server: node-redis's own
 * command timeout stops counting once the command is on the socket. The late settlement of
 * `promise` is observed (so it cannot become an unhandled rejection) and ignored. The timer is
 * cleared as soon as either side settles.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, clock: Clock, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
