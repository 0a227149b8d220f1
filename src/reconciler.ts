import type { Clock } from './clock.js';
import type { OutageJournal } from './journal.js';
import type { MemoryTier } from './memory-tier.js';
import type { KeyScope, Primary, PrimaryEntry, Step } from './primary.js';

/**
 * How keys the primary missed are made right when it is back.
 * - `invalidate` (default): delete them from the primary. Safe with many instances writing: the
 *   next read misses and is filled from the source, never from this instance's possibly older view.
 * - `replay`: write this instance's newest memory value with its remaining TTL (a delete, or a value
 *   memory no longer holds, is deleted). Keeps the cache warm; right when one instance owns the keys.
 */
export type ReconcileMode = 'invalidate' | 'replay';

/** What one reconciliation did. */
export interface ReconcileReport {
  readonly mode: ReconcileMode;
  /** Keys deleted from or written to the primary. */
  readonly keys: number;
  /** Namespaces invalidated whole (a `clear()` that missed, a journal overflow, a restart). */
  readonly namespaces: number;
  readonly durationMs: number;
  /** Keys and namespaces still waiting after this run (written again meanwhile); 0: all reconciled. */
  readonly pending: number;
}

/** Keys per round trip: large enough to be quick, small enough to stay well inside one deadline. */
const BATCH = 500;

/**
 * Applies the journal to the primary, oldest first, in batches each bounded by the deadline. A key
 * written again while a batch was in flight stays journaled for the next round. Throws on the first
 * failed batch; what was settled stays settled.
 *
 * Ordering against late writes: the caller runs this only after a probe round trip succeeded on the
 * same connection, so every command written before the outage (e.g. to a server that then hung)
 * has been executed by the server before any of these.
 */
export async function reconcile(
  primary: Primary,
  journal: OutageJournal,
  memory: MemoryTier,
  mode: ReconcileMode,
  clock: Clock,
  step: Step,
  /** The keys of a namespace recorded whole, from the store's `KeyLayout`. */
  scopeOf: (ownedPrefix: string) => KeyScope,
  /** Turns a memory value back into the primary's form (`serialization: 'store'` keeps objects). */
  encode: (value: unknown) => unknown = (value) => value,
): Promise<ReconcileReport> {
  const started = clock.now();
  let keys = 0;
  let namespaces = 0;
  for (const prefix of journal.prefixes()) {
    await primary.clear(scopeOf(prefix), step);
    journal.settlePrefix(prefix);
    namespaces++;
  }
  const entries = journal.snapshot();
  for (let start = 0; start < entries.length; start += BATCH) {
    const batch = entries.slice(start, start + BATCH);
    const toDelete: string[] = [];
    const toWrite: PrimaryEntry[] = [];
    const now = clock.now();
    for (const [physicalKey, entry] of batch) {
      const copy = mode === 'replay' && entry.op === 'set' ? memory.get(physicalKey) : undefined;
      if (copy === undefined) {
        toDelete.push(physicalKey);
      } else {
        const ttlMs = Number.isFinite(copy.expiresAt) ? Math.max(1, Math.floor(copy.expiresAt - now)) : undefined;
        toWrite.push({ key: physicalKey, value: encode(copy.value), ttlMs });
      }
    }
    if (toDelete.length > 0) await step('reconcile', primary.deleteMany(toDelete));
    if (toWrite.length > 0) await step('reconcile', primary.setMany(toWrite));
    for (const [physicalKey, entry] of batch) journal.settle(physicalKey, entry.at);
    keys += batch.length;
  }
  return { mode, keys, namespaces, durationMs: clock.now() - started, pending: journal.pending };
}
