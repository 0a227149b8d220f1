import type { Role } from './types.js';

/**
 * One thing being measured, reduced to the two calls every scenario needs. `get` and `set` may
 * return a plain value (a synchronous floor) or a promise.
 */
export interface Subject {
  readonly name: string;
  readonly role: Role;
  /** How it was configured or what state it was in, when that is not obvious from the name. */
  note?: string;
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
  /** Called once the scenario has written its keys: e.g. kill the server so that reads fall back. */
  afterPreload?(): Promise<void>;
  /**
   * Counters of calls that did not get a Redis answer (timeouts, short-circuits, fallback serves),
   * for subjects that keep them: a Redis-path row must say when some of its calls never reached Redis.
   */
  health?(): Record<string, number>;
  /** Disconnects everything the subject opened; bounded by the caller. */
  close(): Promise<void>;
}

/** Resolves when `emitter` emits `event` with a payload matching `test`, or after `timeoutMs` with false. */
export function waitForEvent(
  emitter: NodeJS.EventEmitter,
  event: string,
  test: (payload: unknown) => boolean,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const listener = (payload: unknown): void => {
      if (!test(payload)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(true);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      resolve(false);
    }, timeoutMs);
    emitter.on(event, listener);
  });
}
