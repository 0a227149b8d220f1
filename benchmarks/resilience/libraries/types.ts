import type { LibraryName } from '../protocol.js';

/** What the load writes: the key it belongs to and a per-key counter, so an older copy is detectable. */
export interface VersionedValue {
  readonly k: string;
  readonly v: number;
}

/** One instance of a library, reduced to the calls the load makes. */
export interface CacheClient {
  get(key: string): Promise<unknown>;
  /** `false` when the library said the write failed; `true`/`undefined` when it did not say so. */
  set(key: string, value: VersionedValue): Promise<boolean | undefined>;
  delete(key: string): Promise<unknown>;
  /** Releases connections; may hang on a dead server, so callers bound it. */
  close(): Promise<void>;
  /** 'error' events the library emitted so far. */
  readonly errorEvents: () => number;
  /** The library's circuit breaker state, if it exposes one. */
  readonly circuitState?: () => string | undefined;
  /** Transitions of that breaker seen so far, as `from>to`. */
  readonly circuitTransitions?: () => readonly string[];
  /** The library's own counters, if it has them. */
  readonly stats?: () => unknown;
}

/** A key and value exactly as the library keeps them in Redis, for the raw-client probe. */
export interface RawEntry {
  readonly key: string;
  readonly value: string;
  readonly pxMs?: number;
}

/** A library under test, configured as its README shows. */
export interface LibraryAdapter {
  readonly name: LibraryName;
  /** `url` is `redis://[:password@]127.0.0.1:port`. Must not throw because Redis is down. */
  create(url: string): CacheClient;
  /** How this library lays out `key` = `value` in Redis (checked against the library in every run). */
  encodeRaw(key: string, value: VersionedValue): RawEntry;
}

/** Counts 'error' events: an emitter with no listener would crash the process on the first one. */
export function errorCounter(): { readonly listener: () => void; readonly count: () => number } {
  let count = 0;
  return {
    listener: () => {
      count++;
    },
    count: () => count,
  };
}
