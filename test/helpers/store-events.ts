import type { TieredStore, TieredStoreEvents } from '../../src/index.js';

/** Every event the store emits (`error` is declared for Keyv, never emitted), checked by the compiler. */
export const STORE_EVENTS = Object.keys({
  'primary:failure': true,
  'fallback:serve': true,
  'primary:connection': true,
  'primary:restart': true,
  'circuit:state': true,
  'reconcile:done': true,
  'warm:progress': true,
  'restart:recovered': true,
  'near-cache:state': true,
} as const satisfies Record<Exclude<keyof TieredStoreEvents, 'error'>, true>) as Array<keyof TieredStoreEvents>;

export interface RecordedEvent {
  readonly name: keyof TieredStoreEvents;
  readonly payload: unknown;
}

/** Every event `store` emits from now on, in order. */
export function recordEvents(store: TieredStore): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (const name of STORE_EVENTS) store.on(name, (payload: unknown) => events.push({ name, payload }));
  return events;
}

/** The payloads of the events `name` recorded so far. */
export function payloads<T = unknown>(events: readonly RecordedEvent[], name: keyof TieredStoreEvents): T[] {
  return events.filter((e) => e.name === name).map((e) => e.payload as T);
}

/** Resolves with the first event `name` that `match`es, already recorded or to come. */
export async function waitForEvent<T>(
  events: readonly RecordedEvent[],
  name: keyof TieredStoreEvents,
  match: (payload: T) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find((e) => e.name === name && match(e.payload as T));
    if (found !== undefined) return found.payload as T;
    if (Date.now() > deadline) throw new Error(`no ${name} within ${timeoutMs} ms: ${everything(events)}`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

/**
 * Everything an application could print of a value: every own property of every object reached,
 * errors' messages, stacks and causes included (enumerable or not). For "no password anywhere".
 */
export function everything(value: unknown, seen = new Set<unknown>()): string {
  if (value === null || typeof value !== 'object') return String(value);
  if (seen.has(value)) return '';
  seen.add(value);
  return Object.getOwnPropertyNames(value)
    .map((key) => `${key}=${everything((value as Record<string, unknown>)[key], seen)}`)
    .join(' ');
}
