import { randomUUID } from 'node:crypto';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { PrimaryTimeoutError } from './errors.js';
import type { PrimaryRestartEvent } from './events.js';
import type { OutageJournal } from './journal.js';
import type { KeyLayout } from './key-layout.js';
import type { MemoryTier } from './memory-tier.js';
import type { RestartRecovery } from './options.js';
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

/**
 * The marker of a namespace recovered after a restart from disk: `keyv-failsafe:recovered:<run_id>:
 * <owned prefix>`, outside every namespace, created only with NX. Its TTL bounds how long a holder
 * that crashed mid-recovery delays the others (they take over once it expires); after `done` it
 * is kept for a day so that instances that come back later do not repeat the recovery.
 */
const MARKER_PREFIX = 'keyv-failsafe:recovered:';
const MARKER_WORKING_TTL_MS = 30_000;
const MARKER_DONE_TTL_MS = 24 * 60 * 60 * 1000;
const MARKER_DONE = 'done';

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
  readonly restartRecovery: RestartRecovery;
  readonly retryMs: number;
  readonly encode: ((value: unknown) => unknown) | undefined;
  readonly onRestart: (event: PrimaryRestartEvent) => void;
  /** This instance deleted the namespace's keys after a restart from disk (it was first). */
  readonly onNamespaceRecovered: (event: { serverId: string; namespace: string }) => void;
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
  /** A restart from disk whose namespace recovery is not done yet: the breaker stays open until it is. */
  #recovering: { serverId: string; prefix: string; token: string } | undefined;

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
    if (this.#recovering !== undefined) {
      try {
        if (!(await this.#recoverNamespace(this.#recovering))) return false;
        this.#recovering = undefined;
      } catch (error) {
        calls.failed('reconcile', error, []);
        return false;
      }
    }
    for (let round = 0; round < PROBE_RECONCILE_ROUNDS && journal.pending > 0; round++) {
      if (!(await this.run())) return journal.pending === 0;
    }
    // Still pending after several rounds (writes keep coming): close anyway; reads of those keys
    // are answered by memory until the background reconciliation catches up.
    if (journal.pending > 0) this.schedule(0);
    return true;
  }

  /**
   * The primary is a new process that may hold older copies of what was written before. With
   * `restartRecovery: 'namespace'` and a namespace, the whole namespace is recovered (see
   * {@link #recoverNamespace}) before the breaker closes; otherwise (or as well, for what this
   * instance wrote that a recovered namespace does not cover) the keys it wrote recently are
   * reconciled.
   */
  #restarted(serverId: string): void {
    const { recent, journal, clock, stats, onRestart, layout, restartRecovery } = this.#parts;
    const { keys, prefixes } = recent.drain();
    const prefix = layout.ownedPrefix;
    const whole = restartRecovery === 'namespace' && prefix !== undefined;
    if (whole) this.#recovering = { serverId, prefix, token: `working:${randomUUID()}` };
    const at = clock.now();
    let journaled = 0;
    for (const key of keys) {
      // Keys of the recovered namespace are deleted with it; rewriting them from here (replay)
      // could put back a value older than another instance's newer write.
      if (whole && key.startsWith(prefix)) continue;
      journal.record(key, 'set', at, prefix);
      journaled++;
    }
    for (const other of prefixes) if (!(whole && other === prefix)) journal.recordPrefix(other);
    stats.restarts++;
    onRestart({ serverId, keys: journaled, namespaces: prefixes.length });
  }

  /**
   * Fleet-wide recovery after a restart from disk: the first instance to see the new process (it
   * wins a `SET NX` marker) deletes every key of the namespace the store can prove it owns, then
   * marks the marker done; the others wait for that (their breaker stays open: memory answers)
   * instead of repeating it. A restart that loaded nothing needs nothing. Resolves whether the
   * namespace is recovered (`false`: another instance is still at it; probe again later).
   */
  async #recoverNamespace({
    serverId,
    prefix,
    token,
  }: {
    serverId: string;
    prefix: string;
    token: string;
  }): Promise<boolean> {
    const { primary, calls, layout, onNamespaceRecovered } = this.#parts;
    const step = calls.step;
    if (primary.loadedFromDisk !== undefined) {
      const loaded = await step('reconcile', primary.loadedFromDisk());
      if (loaded === false) return true;
    }
    if (primary.setIfAbsent === undefined) {
      // No marker possible (a Keyv store primary): each instance recovers the namespace itself.
      await primary.clear(layout.scopeOf(prefix), step);
      onNamespaceRecovered({ serverId, namespace: prefix });
      return true;
    }
    const marker = `${MARKER_PREFIX}${serverId}:${prefix}`;
    let ours = await step('reconcile', primary.setIfAbsent(marker, token, MARKER_WORKING_TTL_MS));
    if (!ours) {
      const held = (await step('reconcile', primary.get(marker)))?.value;
      if (held === MARKER_DONE) return true;
      // Our own marker, from an attempt that failed midway (a timeout): carry on with it.
      ours = held === token;
    }
    // Another instance is at it: memory answers until it is done (or its marker expires).
    if (!ours) return false;
    await primary.clear(layout.scopeOf(prefix), step);
    // The marker is ours (we created it): mark it done for the instances waiting on it.
    await step('reconcile', primary.set(marker, MARKER_DONE, MARKER_DONE_TTL_MS));
    onNamespaceRecovered({ serverId, namespace: prefix });
    return true;
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
