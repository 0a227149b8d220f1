import type { Outcome } from './outcome.js';

/** What the library said about a key's newest write or delete. */
export type WriteAck = 'acked' | 'failed' | 'hung';

/** The newest thing this process did to a key: wrote version `version`, or deleted it. */
interface KeyState {
  version: number;
  deleted: boolean;
  ack: WriteAck;
  /** Counts writes and deletes, so that an older call settling late is told apart from the newest. */
  seq: number;
}

/**
 * The truth the staleness check compares against: for every key, the newest version this process
 * wrote or the fact that it deleted it, counted when the call is made (not when it lands), because
 * a write still queued somewhere is exactly what may land late and overwrite a newer one.
 */
export class KeyModel {
  readonly keys: readonly string[];
  readonly #state: KeyState[];

  constructor(count: number) {
    this.keys = Array.from({ length: count }, (_, i) => `k:${i}`);
    // Never written: only a miss is correct.
    this.#state = this.keys.map(() => ({ version: 0, deleted: true, ack: 'acked', seq: 0 }));
  }

  /** Registers a write about to be made; returns the version it carries and the call's sequence number. */
  nextWrite(index: number): { version: number; seq: number } {
    const state = this.#state[index] as KeyState;
    state.version++;
    state.deleted = false;
    state.ack = 'hung';
    state.seq++;
    return { version: state.version, seq: state.seq };
  }

  /** Registers a delete about to be made; returns the call's sequence number. */
  nextDelete(index: number): number {
    const state = this.#state[index] as KeyState;
    state.deleted = true;
    state.ack = 'hung';
    state.seq++;
    return state.seq;
  }

  /**
   * Records how a write or delete ended, if it is still the key's newest. Resolving `false` (a write)
   * or rejecting is 'failed'; still pending at the cap, 'hung'.
   */
  settle(index: number, seq: number, outcome: Outcome<unknown>): void {
    const state = this.#state[index] as KeyState;
    if (state.seq !== seq) return;
    if (outcome.status === 'hung') state.ack = 'hung';
    else if (outcome.status === 'rejected' || (!state.deleted && outcome.value === false)) state.ack = 'failed';
    else state.ack = 'acked';
  }

  expected(index: number): Readonly<KeyState> {
    return this.#state[index] as KeyState;
  }
}
