import { performance } from 'node:perf_hooks';

/** How one call ended, as seen by a caller who stops waiting after a cap. */
export type Outcome<T> =
  | { readonly status: 'resolved'; readonly value: T; readonly ms: number }
  | { readonly status: 'rejected'; readonly error: unknown; readonly ms: number }
  | { readonly status: 'hung' };

/**
 * Runs `call` and waits for it at most `capMs`. A synchronous throw counts as a rejection. The
 * call is not cancelled at the cap (nothing can cancel it): it is only no longer waited for.
 */
export async function bounded<T>(call: () => Promise<T>, capMs: number): Promise<Outcome<T>> {
  const started = performance.now();
  let promise: Promise<T>;
  try {
    promise = call();
  } catch (error) {
    promise = Promise.reject(error);
  }
  const settled = promise.then(
    (value): Outcome<T> => ({ status: 'resolved', value, ms: performance.now() - started }),
    (error: unknown): Outcome<T> => ({ status: 'rejected', error, ms: performance.now() - started }),
  );
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'hung' }), capMs);
  });
  try {
    return await Promise.race([settled, cap]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A short, stable description of an error for the report (message first line, code if any). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const first = error.message.split('\n')[0] ?? '';
    return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${first.slice(0, 120)}`;
  }
  return String(error).slice(0, 120);
}
