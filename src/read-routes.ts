import type { FallbackServeEvent, Operation } from './events.js';
import type { OutageJournal } from './journal.js';
import type { MemoryCopies } from './memory-copies.js';
import type { MemoryEntry } from './memory-tier.js';
import type { Stats } from './stats.js';

/** What routing a read needs of the store. */
export interface ReadRouteParts {
  readonly copies: MemoryCopies;
  readonly journal: OutageJournal;
  readonly stats: Stats;
  /** True while the primary may be asked (the breaker is closed). */
  readonly usable: () => boolean;
  /** `memory-first`'s bound: a copy confirmed by the primary this recently answers. */
  readonly memoryTtlMs: number;
  readonly emitServe: (event: FallbackServeEvent) => void;
}

/**
 * Which tier answers a read: a copy that needs no network call (verified by the near-cache, or
 * fresh under `memory-first`), memory because the primary must not be asked (breaker open, or the
 * key journaled: the primary holds an older value until reconciled), or the primary. Batches are
 * sorted key by key; what memory serves in place of the primary is counted and emitted once.
 */
export class ReadRoutes {
  readonly #parts: ReadRouteParts;
  /** `memory-first`, or a `near-cache` that could not start. */
  memoryFirst: boolean;

  constructor(parts: ReadRouteParts, memoryFirst: boolean) {
    this.#parts = parts;
    this.memoryFirst = memoryFirst;
  }

  /** The copy that answers without a network call: verified (`near-cache`) or fresh (`memory-first`). */
  answered(physical: string): MemoryEntry | undefined {
    const { copies } = this.#parts;
    const near = copies.near;
    if (near !== undefined) return near.lookup(physical);
    return this.memoryFirst ? copies.fresh(physical, this.#parts.memoryTtlMs) : undefined;
  }

  /** True when memory must answer for `physical` although the breaker is closed: it is journaled. */
  journaled(physical: string): boolean {
    const { journal } = this.#parts;
    return journal.pending !== 0 && journal.covers(physical);
  }

  /**
   * Sorts a read batch: copies that need no network call are answered through `answer`, keys memory
   * must answer (breaker open, journaled) are served now, and the indexes left to ask the primary
   * are returned.
   */
  route(operation: Operation, physical: string[], answer: (i: number, value: unknown) => void): number[] {
    const { stats } = this.#parts;
    const ask: number[] = [];
    const fromMemory: number[] = [];
    const usable = this.#parts.usable();
    if (!usable) stats.shortCircuits++;
    for (let i = 0; i < physical.length; i++) {
      const key = physical[i] as string;
      const entry = this.answered(key);
      if (entry !== undefined) {
        stats.memoryHits++;
        answer(i, entry.value);
      } else if (!usable || this.journaled(key)) {
        fromMemory.push(i);
      } else {
        ask.push(i);
      }
    }
    if (fromMemory.length > 0) this.serveBatch(operation, physical, fromMemory, answer);
    return ask;
  }

  /** Answers the given indexes of a batch from memory (fallback copies), counted and emitted once. */
  serveBatch(operation: Operation, physical: string[], indexes: number[], answer: (i: number, value: unknown) => void) {
    const served: string[] = [];
    for (const i of indexes) {
      const key = physical[i] as string;
      const entry = this.#parts.copies.fallback(key);
      if (entry === undefined) {
        this.#parts.stats.misses++;
      } else {
        served.push(key);
        answer(i, entry.value);
      }
    }
    if (served.length > 0) this.#parts.emitServe({ operation, keys: served });
  }

  /** One key answered from memory in place of the primary: its value, or `undefined` (a miss, counted). */
  serve(operation: Operation, physical: string): unknown {
    const entry = this.#parts.copies.fallback(physical);
    if (entry === undefined) {
      this.#parts.stats.misses++;
      return undefined;
    }
    this.#parts.emitServe({ operation, keys: [physical] });
    return entry.value;
  }
}
