import type { CircuitBreaker } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { PrimaryTimeoutError } from './errors.js';
import type { PrimaryRestartEvent } from './events.js';
import type { OutageJournal } from './journal.js';
import type { KeyLayout } from './key-layout.js';
import type { MemoryTier } from './memory-tier.js';
import type { Primary } from './primary.js';
import type { PrimaryCalls } from './primary-calls.js';
import type { RecentWrites } from './recent-writes.js';
import { type ReconcileMode, type ReconcileReport, reconcile } from './reconciler.js';
import type { Stats } from './stats.js';

/** Rounds of reconciliation a probe runs while writes keep arriving, before it closes anyway. */
const PROBE_RECONCILE_ROUNDS = 5;

/**
 * Probes that time out in a row on a connection the client still believes open before it is
 * dropped and made anew (with the default cooldowns, about 7 s into a hang). Not sooner: a hung
 * server that resumes answers on the old connection, in order, which is what orders reconciliation
 * after writes already on the wire; a new connection loses that order.
 */
const PROBE_TIMEOUTS_BEFORE_RECONNECT = 3;

/**
 * Delay before reconciling writes the primary refused while the breaker stays closed (OOM, an
 * ACL): failures within it are reconciled in one batch instead of one round trip each.
 */
export const RECONCILE_COALESCE_MS = 20;

/** What recovery needs from the store. */
export interface RecoveryParts {
  readonly primary: Primary;
  readonly calls: PrimaryCalls;
  readonly journal: OutageJournal;
  readonly recent: RecentWrites;
  readonly memory: MemoryTier;
  readonly layout: KeyLayout;
  readonly clock: Clock;
  readonly stats: Stats;
  readonly mode: ReconcileMode;
  readonly retryMs: number;
  readonly encode: ((value: unknown) => unknown) | undefined;
  readonly onRestart: (event: PrimaryRestartEvent) => void;
  readonly onReconciled: (report: ReconcileReport) => void;
}

/**
 * Getting the primary back: the breaker's probe (one round trip, restart detection, then
 * reconciliation, all before any user call reaches the primary again), reconciliation of writes the
 * primary missed while the breaker stayed closed, and the reaction to a late answer.
 */
export class Recovery {
  readonly #parts: RecoveryParts;
  breaker!: CircuitBreaker;
  /** The primary's identity (Redis `run_id`) as last seen; a change means it restarted. */
  #serverId: string | undefined;
  /** The single reconciliation in flight, if any. */
  #reconciling: Promise<boolean> | undefined;
  #timer: unknown;
  /** Clock time the pending timer fires at. */
  #timerAt = 0;
  #probeTimeouts = 0;
  #closed = false;

  constructor(parts: RecoveryParts) {
    this.#parts = parts;
  }

  /** Stops scheduling anything. */
  close(): void {
    this.#closed = true;
    this.cancel();
  }

  /**
   * An answer arrived for a call that had timed out: the primary is back (a partition healed, a
   * hung server resumed). Probe and reconcile now rather than at the next cooldown, so that writes
   * that timed out here and landed late are invalidated within about one round trip.
   */
  lateReply(): void {
    if (this.#closed) return;
    if (!this.breaker.closed) this.breaker.connectionBack();
    else if (this.#parts.journal.pending > 0) this.schedule(0);
  }

  /** The breaker's probe; also run once on the first connection. Resolves whether to close. */
  async probe(): Promise<boolean> {
    const { primary, calls, journal } = this.#parts;
    const probe = primary.probe();
    try {
      const serverId = await calls.step('probe', probe);
      if (serverId !== undefined) {
        if (this.#serverId !== undefined && serverId !== this.#serverId) this.#restarted(serverId);
        this.#serverId = serverId;
      }
    } catch (error) {
      const failure = calls.failed('probe', error, []);
      if (failure instanceof PrimaryTimeoutError && ++this.#probeTimeouts >= PROBE_TIMEOUTS_BEFORE_RECONNECT) {
        this.#probeTimeouts = 0;
        primary.reconnect?.();
      }
      return false;
    }
    this.#probeTimeouts = 0;
    for (let round = 0; round < PROBE_RECONCILE_ROUNDS && journal.pending > 0; round++) {
      if (!(await this.run())) return journal.pending === 0;
    }
    // Still pending after several rounds (writes keep coming): close anyway; reads of those keys
    // are answered by memory until the background reconciliation catches up.
    if (journal.pending > 0) this.schedule(0);
    return true;
  }

  /** The primary is a new process that may hold older copies of what we wrote: reconcile those. */
  #restarted(serverId: string): void {
    const { recent, journal, clock, stats, onRestart, layout } = this.#parts;
    const { keys, prefixes } = recent.drain();
    const at = clock.now();
    for (const key of keys) journal.record(key, 'set', at, layout.ownedPrefix);
    for (const prefix of prefixes) journal.recordPrefix(prefix);
    stats.restarts++;
    onRestart({ serverId, keys: keys.length, namespaces: prefixes.length });
  }

  /** One reconciliation at a time; resolves whether it completed. */
  run(): Promise<boolean> {
    const { primary, calls, journal, memory, mode, clock, encode, stats, onReconciled, layout } = this.#parts;
    this.#reconciling ??= reconcile(primary, journal, memory, mode, clock, calls.step, (p) => layout.scopeOf(p), encode)
      .then(
        (report) => {
          stats.reconciledKeys += report.keys;
          stats.reconciliations++;
          onReconciled(report);
          return true;
        },
        (error: unknown) => {
          calls.failed('reconcile', error, []);
          return false;
        },
      )
      .finally(() => {
        this.#reconciling = undefined;
      });
    return this.#reconciling;
  }

  /**
   * Reconciles in `delayMs`, and again until nothing is pending, while the breaker stays closed. A
   * sooner request replaces a later one (a late answer cuts a retry's wait short).
   */
  schedule(delayMs: number): void {
    const { clock, journal, retryMs } = this.#parts;
    if (this.#closed) return;
    const at = clock.now() + delayMs;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      clock.clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.breaker.closed || journal.pending === 0) return;
      void this.run().then((ok) => {
        if (journal.pending > 0 && this.breaker.closed) this.schedule(ok ? 0 : retryMs);
      });
    }, delayMs);
  }

  cancel(): void {
    if (this.#timer !== undefined) this.#parts.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
