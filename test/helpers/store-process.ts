/**
 * A `TieredStore` (behind a `Keyv`) in a process of its own, driven over IPC: several real
 * instances writing the same keys through one redis-server, as applications do.
 *
 * This one file is both sides. Imported (by a test), it exports `StoreProcess`, which forks this
 * file with `node --import tsx` from the repo root; in that child it builds the store from
 * `src/` (no build step: the sources as they are now are what runs), executes the calls the parent
 * sends and forwards every store event, each with timestamps on the same clock as `now()`.
 *
 * @example
 * const a = await StoreProcess.start({ name: 'A', store: { primary: proxy.url } });
 * await a.call('set', 'k', 'v');                                  // keyv.set('k', 'v') in A
 * const read = await a.begin('keyv', 'get', 'k');                 // once the child has made the call
 * const { value, ms } = await read.result;
 * await a.callStore('circuitState');                              // a store property or method
 * await a.waitFor('circuit:state', (e) => e.payload.to === 'open');
 * await a.stop();
 *
 * // Keyv 6 (the `keyv6` alias) in the child, reading and writing Keyv 5's layout:
 * const b = await StoreProcess.start({ name: 'B', store: { primary: url, keyLayout: 'keyv5' }, keyv: { major: 6, namespace: 'app' } });
 */
import { type ChildProcess, fork } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CircuitState, TieredStoreEvents, TieredStoreOptions, TieredStoreStats } from '../../src/index.js';
import { STORE_EVENTS } from './store-events.js';

/** Milliseconds on a clock shared by every process of the machine (epoch-based, sub-ms). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** What the child builds: plain data only (it crosses a process boundary; no functions, no instances). */
export interface StoreProcessOptions {
  /** For messages and logs. */
  name?: string;
  /** `TieredStore` options; `primary` is a URL. */
  store: Omit<TieredStoreOptions, 'primary' | 'clock'> & { primary: string };
  /**
   * Keyv options. `namespace` as given (present and undefined means none). Keyv's serializer is
   * turned off when `store.serialization` is `'store'`, as the README says to for each major.
   */
  keyv?: {
    /**
     * Which Keyv drives the store: 5 (`keyv`, the default) or 6 (`keyv6`, keyv 6.1 installed under
     * that alias). Keyv 6's default namespace is none, Keyv 5's `keyv`.
     */
    major?: 5 | 6;
    namespace?: string | undefined;
    /**
     * Attach an `error` listener to Keyv, forwarding each error as a `keyv:error` event (default
     * true). Without one, Keyv 6 rejects every call whose store call rejected (Keyv 5 swallows).
     */
    errorListener?: boolean;
  };
  /** Resolve `start()` only once the store's first connection is ready (default true). */
  waitForConnection?: boolean;
}

export type Target = 'keyv' | 'store';

/** A call's outcome in the child, with its timing there. */
export interface Timed<T> {
  value: T;
  /** When the child made the call and when it settled, on the `now()` clock. */
  startedAt: number;
  endedAt: number;
  ms: number;
}

/** An error the child's call threw (rejected with), as data. */
export interface RemoteError {
  name: string;
  message: string;
  code?: string;
  [field: string]: unknown;
}

export class StoreProcessCallError extends Error {
  readonly remote: RemoteError;
  constructor(process: string, method: string, remote: RemoteError) {
    super(`${process}: ${method} threw ${remote.name}: ${remote.message}`);
    this.name = 'StoreProcessCallError';
    this.remote = remote;
  }
}

export type StoreEventName = keyof TieredStoreEvents | 'keyv:error';

/** A store (or Keyv `error`) event as the child saw it; errors inside are `RemoteError`s. */
export interface StoreEvent<P = Record<string, unknown>> {
  name: StoreEventName;
  payload: P;
  at: number;
}

/** A call the child has made and that may still be pending. */
export interface Pending<T> {
  startedAt: number;
  result: Promise<Timed<T>>;
}

// ---- protocol ------------------------------------------------------------------------------------

type ToChild =
  | { type: 'init'; options: StoreProcessOptions }
  | { type: 'call'; id: number; target: Target; method: string; args: unknown[] }
  | { type: 'stop' };

type FromChild =
  | { type: 'ready' }
  | { type: 'init-error'; error: RemoteError }
  | { type: 'started'; id: number; at: number }
  | { type: 'result'; id: number; ok: true; value: unknown; startedAt: number; endedAt: number }
  | { type: 'result'; id: number; ok: false; error: RemoteError; startedAt: number; endedAt: number }
  | { type: 'event'; name: StoreEventName; payload: unknown; at: number }
  | { type: 'stopped' };

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..', '..');
const MARKER = 'KEYV_FAILSAFE_STORE_PROCESS';

/** Errors become `RemoteError`s, async iterables arrays, functions are dropped: what structured clone can carry. */
async function toPlain(value: unknown, depth = 0): Promise<unknown> {
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (depth > 8) return '[too deep]';
  if (value instanceof Error) return remoteError(value);
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return value;
  if (Symbol.asyncIterator in value) {
    const items: unknown[] = [];
    for await (const item of value as AsyncIterable<unknown>) items.push(await toPlain(item, depth + 1));
    return items;
  }
  if (Array.isArray(value)) return Promise.all(value.map((item) => toPlain(item, depth + 1)));
  if (value instanceof Map) {
    const entries = await Promise.all([...value].map(async ([k, v]) => [k, await toPlain(v, depth + 1)] as const));
    return new Map(entries);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'function') out[k] = await toPlain(v, depth + 1);
  return out;
}

function remoteError(error: unknown, depth = 0): RemoteError {
  if (!(error instanceof Error)) return { name: 'NonError', message: String(error) };
  const out: RemoteError = { name: error.name, message: error.message };
  for (const [k, v] of Object.entries(error)) {
    if (k === 'cause') continue;
    if (v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v)) out[k] = v;
  }
  if (error.cause !== undefined && depth < 4) out.cause = remoteError(error.cause, depth + 1);
  return out;
}

// ---- parent side ---------------------------------------------------------------------------------

const live = new Set<StoreProcess>();
process.once('exit', () => {
  for (const child of live) child.kill();
});

/** Stops every store process still running (for a test file's teardown). */
export async function stopAllStoreProcesses(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop()));
}

export class StoreProcess {
  readonly name: string;
  /** Every event received so far, in order; pass `events.length` as `from` to wait for a later one. */
  readonly events: StoreEvent[] = [];
  readonly #child: ChildProcess;
  readonly #calls = new Map<
    number,
    { method: string; started: (at: number) => void; settle: (message: FromChild & { type: 'result' }) => void }
  >();
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  readonly #exited: Promise<void>;
  #nextId = 1;
  #exitCode: string | undefined;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.#child = child;
    live.add(this);
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitCode = signal ?? String(code);
        live.delete(this);
        const error: RemoteError = { name: 'StoreProcessExited', message: `exited (${this.#exitCode})` };
        for (const [id, call] of this.#calls) {
          this.#calls.delete(id);
          call.settle({ type: 'result', id, ok: false, error, startedAt: now(), endedAt: now() });
        }
        resolve();
      });
    });
    child.on('message', (message: FromChild) => this.#receive(message));
  }

  /** Forks the child, builds its store and Keyv, and (by default) waits for its first connection. */
  static async start(options: StoreProcessOptions): Promise<StoreProcess> {
    const name = options.name ?? 'store-process';
    const child = fork(SELF, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [MARKER]: '1' },
    });
    const instance = new StoreProcess(name, child);
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromChild) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'init-error') reject(new StoreProcessCallError(name, 'init', message.error));
        else return;
        child.off('message', onMessage);
      };
      child.on('message', onMessage);
      child.once('exit', (code, signal) => reject(new Error(`${name} exited during start (${signal ?? code})`)));
    });
    const connected = instance.waitFor('primary:connection', (e) => e.payload.state === 'ready', {
      timeoutMs: 15_000,
    });
    connected.catch(() => {});
    instance.#send({ type: 'init', options });
    try {
      await ready;
      if (options.waitForConnection !== false) await connected;
    } catch (error) {
      instance.kill();
      throw error;
    }
    return instance;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** `keyv[method](...args)` in the child; rejects with `StoreProcessCallError` if it threw. */
  async call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return (await this.timed<T>('keyv', method, ...args)).value;
  }

  /** `store[method](...args)` in the child, or the value of the property `method` if it is not a function. */
  async callStore<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return (await this.timed<T>('store', method, ...args)).value;
  }

  /** A call with its timing in the child. */
  async timed<T = unknown>(target: Target, method: string, ...args: unknown[]): Promise<Timed<T>> {
    return (await this.begin<T>(target, method, ...args)).result;
  }

  /**
   * Makes the call in the child and resolves as soon as the child has made it (its synchronous part,
   * e.g. the command handed to the Redis client, has run), with its eventual result.
   */
  begin<T = unknown>(target: Target, method: string, ...args: unknown[]): Promise<Pending<T>> {
    const id = this.#nextId++;
    return new Promise<Pending<T>>((resolveStarted) => {
      const result = new Promise<Timed<T>>((resolveResult, rejectResult) => {
        this.#calls.set(id, {
          method,
          started: (at) => resolveStarted({ startedAt: at, result }),
          settle: (message) => {
            if (message.ok) {
              const { value, startedAt, endedAt } = message;
              resolveResult({ value: value as T, startedAt, endedAt, ms: endedAt - startedAt });
            } else {
              rejectResult(new StoreProcessCallError(this.name, method, message.error));
              resolveStarted({ startedAt: message.startedAt, result });
            }
          },
        });
      });
      result.catch(() => {});
      if (this.#exitCode !== undefined) {
        this.#calls.get(id)?.settle({
          type: 'result',
          id,
          ok: false,
          error: { name: 'StoreProcessExited', message: `exited (${this.#exitCode})` },
          startedAt: now(),
          endedAt: now(),
        });
        return;
      }
      this.#send({ type: 'call', id, target, method, args });
    });
  }

  stats(): Promise<TieredStoreStats> {
    return this.callStore<TieredStoreStats>('stats');
  }

  circuitState(): Promise<CircuitState> {
    return this.callStore<CircuitState>('circuitState');
  }

  /** Calls `listener` for every event from now on; returns a function that detaches it. */
  on(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The first event named `name` matching `predicate`, among those received from index `from` on
   * (default 0: the whole log, so an event that already came counts) or arriving later.
   */
  waitFor(
    name: StoreEventName,
    predicate: (event: StoreEvent) => boolean = () => true,
    { from = 0, timeoutMs = 5_000 }: { from?: number; timeoutMs?: number } = {},
  ): Promise<StoreEvent> {
    const matches = (event: StoreEvent) => event.name === name && predicate(event);
    const seen = this.events.slice(from).find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<StoreEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.name}: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on((event) => {
        if (!matches(event)) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  /** Disconnects the store and lets the child exit; SIGKILL if it has not within 2 s. */
  async stop(): Promise<void> {
    if (this.#exitCode !== undefined) return;
    this.#send({ type: 'stop' });
    const timer = setTimeout(() => this.kill(), 2_000);
    await this.#exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.#exitCode === undefined) this.#child.kill('SIGKILL');
  }

  #send(message: ToChild): void {
    if (this.#child.connected) this.#child.send(message);
  }

  #receive(message: FromChild): void {
    switch (message.type) {
      case 'started':
        this.#calls.get(message.id)?.started(message.at);
        return;
      case 'result': {
        const call = this.#calls.get(message.id);
        this.#calls.delete(message.id);
        call?.settle(message);
        return;
      }
      case 'event': {
        const event: StoreEvent = {
          name: message.name,
          payload: message.payload as Record<string, unknown>,
          at: message.at,
        };
        this.events.push(event);
        for (const listener of [...this.#listeners]) listener(event);
        return;
      }
      default:
        return;
    }
  }
}

// ---- child side ----------------------------------------------------------------------------------

async function runChild(): Promise<void> {
  const send = (message: FromChild) => {
    if (process.connected) process.send?.(message);
  };
  // The parent is gone (even SIGKILLed): nobody will stop us.
  process.on('disconnect', () => process.exit(0));
  const { TieredStore } = await import('../../src/index.js');
  let store: InstanceType<typeof TieredStore> | undefined;
  let keyv: { on(event: 'error', listener: (error: unknown) => void): unknown } | undefined;

  const init = async (options: StoreProcessOptions) => {
    try {
      const major = options.keyv?.major ?? 5;
      // Imported only by the children that use it: a Keyv 5 child never loads Keyv 6, and vice versa.
      const Keyv = major === 6 ? (await import('keyv6')).default : (await import('keyv')).default;
      store = new TieredStore(options.store as TieredStoreOptions);
      for (const name of STORE_EVENTS) {
        store.on(name, (payload: unknown) => {
          const at = now();
          void toPlain(payload).then((plain) => send({ type: 'event', name, payload: plain, at }));
        });
      }
      const keyvOptions: Record<string, unknown> = { store };
      if (options.keyv !== undefined && 'namespace' in options.keyv) keyvOptions.namespace = options.keyv.namespace;
      if (options.store.serialization === 'store') {
        // Keyv 6 ignores `serialize: undefined`; its switch is `serialization: false`.
        if (major === 6) keyvOptions.serialization = false;
        else {
          keyvOptions.serialize = undefined;
          keyvOptions.deserialize = undefined;
        }
      }
      keyv = new (Keyv as new (options: Record<string, unknown>) => NonNullable<typeof keyv>)(keyvOptions);
      if (options.keyv?.errorListener !== false) {
        keyv.on('error', (error: unknown) => {
          send({ type: 'event', name: 'keyv:error', payload: { error: remoteError(error) }, at: now() });
        });
      }
      send({ type: 'ready' });
    } catch (error) {
      send({ type: 'init-error', error: remoteError(error) });
    }
  };

  const call = async (id: number, target: Target, method: string, args: unknown[]) => {
    const object = (target === 'keyv' ? keyv : store) as unknown as Record<string, unknown> | undefined;
    const startedAt = now();
    let pending: unknown;
    try {
      if (object === undefined) throw new Error('not initialised');
      const member = object[method];
      pending = typeof member === 'function' ? (member as (...a: unknown[]) => unknown).apply(object, args) : member;
    } catch (error) {
      send({ type: 'result', id, ok: false, error: remoteError(error), startedAt, endedAt: now() });
      return;
    }
    send({ type: 'started', id, at: startedAt });
    try {
      const value = await pending;
      const endedAt = now();
      send({ type: 'result', id, ok: true, value: await toPlain(value), startedAt, endedAt });
    } catch (error) {
      send({ type: 'result', id, ok: false, error: remoteError(error), startedAt, endedAt: now() });
    }
  };

  process.on('message', (message: ToChild) => {
    if (message.type === 'init') void init(message.options);
    else if (message.type === 'call') void call(message.id, message.target, message.method, message.args);
    else if (message.type === 'stop') {
      void (async () => {
        await store?.disconnect();
        send({ type: 'stopped' });
        process.exit(0);
      })();
    }
  });
}

function isChild(): boolean {
  if (process.env[MARKER] !== '1' || process.send === undefined || process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(SELF);
  } catch {
    return false;
  }
}

if (isChild()) void runChild();
