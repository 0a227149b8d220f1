import type {
  KeyScope,
  Primary,
  PrimaryConnectionState,
  PrimaryEntry,
  PrimaryErrorKind,
  PrimaryRead,
  Step,
} from '../../src/primary.js';

/** An error the scripted primary rejects with, sorted as the test says. */
export class ScriptedError extends Error {
  readonly kind: PrimaryErrorKind;

  constructor(kind: PrimaryErrorKind, message = `scripted ${kind} failure`) {
    super(message);
    this.kind = kind;
  }
}

interface Held {
  readonly command: string;
  readonly run: () => void;
  readonly fail: (error: unknown) => void;
}

/**
 * A primary for policy tests (breaker, journal, reconciliation, ordering, the read-fill race): the
 * data lives in a Map, every command is logged, and the test decides when and how each answers.
 * Not a model of Redis: what Redis itself does is tested against a real redis-server.
 *
 * - `hold()`: commands wait (in order) until `release()`, as on a hung server or a paused link;
 *   a held write is applied when released, as a late write lands.
 * - `failWith(kind)`: commands reject with that kind until `failWith(undefined)`.
 * - `serverId`: what `probe()` answers; change it to simulate a restart.
 */
export class ScriptedPrimary implements Primary {
  readonly dialect = 'redis';
  readonly separator = '::';
  readonly initialNamespace: string | undefined;
  readonly safeName = 'scripted';
  readonly data = new Map<string, { value: unknown; ttlMs: number | undefined }>();
  /** Every command, in the order it was sent: `get k`, `set k`, `deleteMany a,b`, `clear pattern`. */
  readonly log: string[] = [];
  serverId = 'run-1';
  onConnectionChange: ((state: PrimaryConnectionState, error?: unknown) => void) | undefined;
  #holding = false;
  #held: Held[] = [];
  #failure: PrimaryErrorKind | undefined;

  constructor(namespace?: string) {
    this.initialNamespace = namespace;
  }

  /** Commands wait from now on, until {@link release}. */
  hold(): void {
    this.#holding = true;
  }

  /** Answers every held command, in order, and stops holding. */
  release(): void {
    this.#holding = false;
    for (const held of this.#held.splice(0)) held.run();
  }

  /** Rejects held commands (a reset connection) and stops holding. */
  dropHeld(kind: PrimaryErrorKind = 'unavailable'): void {
    this.#holding = false;
    for (const held of this.#held.splice(0)) held.fail(new ScriptedError(kind));
  }

  get heldCount(): number {
    return this.#held.length;
  }

  /** Every command rejects with `kind` from now on; `undefined` heals. */
  failWith(kind: PrimaryErrorKind | undefined): void {
    this.#failure = kind;
  }

  /** Tells the store the connection changed, as a client's socket events would. */
  connection(state: PrimaryConnectionState): void {
    this.onConnectionChange?.(state);
  }

  classify(error: unknown): PrimaryErrorKind {
    return error instanceof ScriptedError ? error.kind : 'unavailable';
  }

  #command<T>(command: string, run: () => T): Promise<T> {
    this.log.push(command);
    if (this.#failure !== undefined) return Promise.reject(new ScriptedError(this.#failure));
    if (!this.#holding) return Promise.resolve(run());
    return new Promise<T>((resolve, reject) => {
      this.#held.push({ command, run: () => resolve(run()), fail: reject });
    });
  }

  #read(key: string): PrimaryRead | undefined {
    const entry = this.data.get(key);
    return entry === undefined ? undefined : { value: entry.value, ttlMs: entry.ttlMs };
  }

  get(key: string): Promise<PrimaryRead | undefined> {
    return this.#command(`get ${key}`, () => this.#read(key));
  }

  getMany(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    return this.#command(`getMany ${keys.join(',')}`, () => keys.map((key) => this.#read(key)));
  }

  set(key: string, value: unknown, ttlMs: number | undefined): Promise<void> {
    return this.#command(`set ${key}`, () => {
      this.data.set(key, { value, ttlMs });
    });
  }

  setMany(entries: readonly PrimaryEntry[]): Promise<void> {
    return this.#command(`setMany ${entries.map((e) => e.key).join(',')}`, () => {
      for (const { key, value, ttlMs } of entries) this.data.set(key, { value, ttlMs });
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#command(`delete ${key}`, () => this.data.delete(key));
  }

  deleteMany(keys: readonly string[]): Promise<boolean[]> {
    return this.#command(`deleteMany ${keys.join(',')}`, () => keys.map((key) => this.data.delete(key)));
  }

  has(key: string): Promise<boolean> {
    return this.#command(`has ${key}`, () => this.data.has(key));
  }

  hasMany(keys: readonly string[]): Promise<boolean[]> {
    return this.#command(`hasMany ${keys.join(',')}`, () => keys.map((key) => this.data.has(key)));
  }

  /** `SET NX PX` (the TTL is not modelled); only with `markers` on, so that other tests see no such method. */
  setIfAbsent?: (key: string, value: string, ttlMs: number) => Promise<boolean>;

  /** What `loadedFromDisk()` answers; only with `markers` on. */
  loadedFromDisk?: () => Promise<boolean | undefined>;

  /** Adds `setIfAbsent` and `loadedFromDisk` (`loaded`): the namespace recovery's marker works. */
  markers(loaded: boolean | undefined = true): this {
    this.setIfAbsent = (key, value) =>
      this.#command(`setIfAbsent ${key}`, () => {
        if (this.data.has(key)) return false;
        this.data.set(key, { value, ttlMs: undefined });
        return true;
      });
    this.loadedFromDisk = () => this.#command('loadedFromDisk', () => loaded);
    return this;
  }

  async clear(scope: KeyScope, step: Step): Promise<void> {
    await step(
      'clear',
      this.#command(`clear ${scope.pattern}`, () => {
        for (const key of [...this.data.keys()]) if (scope.owns(key)) this.data.delete(key);
      }),
    );
  }

  probe(): Promise<string | undefined> {
    return this.#command('probe', () => this.serverId);
  }

  async *iterator(scope: KeyScope, step: Step): AsyncGenerator<[string, unknown], void> {
    const keys = await step(
      'iterator',
      this.#command(`iterator ${scope.pattern}`, () => [...this.data.keys()].filter(scope.owns)),
    );
    for (const key of keys) {
      const entry = this.data.get(key);
      if (entry !== undefined) yield [key, entry.value];
    }
  }

  /** Every key, one batch: the store filters what it owns (glob matching is Redis's, tested against Redis). */
  async *scan(pattern: string): AsyncGenerator<string[], void> {
    yield await this.#command(`scan ${pattern}`, () => [...this.data.keys()]);
  }

  readPhysical(keys: readonly string[]): Promise<Array<PrimaryRead | undefined>> {
    return this.#command(`readPhysical ${keys.join(',')}`, () => keys.map((key) => this.#read(key)));
  }

  async disconnect(): Promise<void> {}
}
