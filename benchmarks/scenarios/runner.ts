import { bounded, measureInto, newHistogram, type Sample, summarize } from '../lib/measure.js';
import type { BenchContext, Mode, PayloadName, Row, Subject } from './types.js';

const TARGET_BYTES: Record<PayloadName, number> = { '100B': 100, '1KB': 1024, '64KB': 65_536 };
export const ALL_PAYLOADS = Object.keys(TARGET_BYTES) as PayloadName[];

/**
 * A JSON value shaped like a price service's cache entry (a header and a series of points), grown
 * to the target size: parsing cost depends on structure, and one long string would flatter every
 * serializer (Keyv's default one runs a reviver on every value).
 */
export function makePayload(name: PayloadName): Record<string, unknown> {
  // A header only: even one point of the series would overshoot 100 B.
  const header = { symbol: 'BTC', currency: 'USD' };
  if (name === '100B') return { ...header, exchange: 'coinbase', price: 64_123.45, change: -0.42, volume: 18_234 };
  const value = { ...header, points: [] as Array<{ t: number; p: number }> };
  for (let i = 0; JSON.stringify(value).length < TARGET_BYTES[name]; i++) {
    value.points.push({ t: 1_700_000_000 + i * 60, p: Math.round((64_000 + Math.sin(i) * 500) * 100) / 100 });
  }
  return value;
}

/** `count` keys under `prefix`, reused round-robin so that reads hit what the preload wrote. */
export const makeKeys = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}:${i}`);

/** Fewer keys for big values keeps server and heaps small; still more than the neighbours' small L1s hold. */
const keysFor = (context: BenchContext, payload: PayloadName): string[] =>
  makeKeys(`${context.runId}:${payload}`, payload === '64KB' ? 64 : 256);

/** Writes every key of every payload through each subject, so that the measured reads are hits. */
export async function preload(context: BenchContext, subjects: readonly Subject[]): Promise<void> {
  for (const payload of context.payloads) {
    const [value, keys] = [makePayload(payload), keysFor(context, payload)];
    for (const subject of subjects) for (const key of keys) await subject.set(key, value);
  }
  for (const subject of subjects) await subject.afterPreload?.();
}

/** What changed in a subject's failure counters; on the Redis path any change means calls Redis did not answer. */
export function healthNote(scenario: string, before?: Record<string, number>, after?: Record<string, number>) {
  const changed = Object.entries(after ?? {}).filter(([name, value]) => before && value > (before[name] ?? 0));
  if (changed.length === 0) return undefined;
  const counts = changed.map(([name, value]) => `${name} +${value - (before?.[name] ?? 0)}`).join(', ');
  // A far-Redis hit row counts fallback serves on purpose (its breaker-open subject); its get, set and batch rows must not.
  return /^(redis|batch)|^rtt \S+ (get|set|batch get)$/.test(scenario)
    ? `WARNING: not every call got a Redis answer (${counts})`
    : `during measurement: ${counts}`;
}

/** Where a row belongs: scenario, payload, mode, and the subject it is divided by, if any. */
export type RowAt = Pick<Row, 'scenario' | 'payload' | 'mode'> & { baseline?: string };

/** A row of `subject`'s sample, divided by the baseline's unless it is the baseline. */
export function toRow({ baseline, ...at }: RowAt, subject: Pick<Subject, 'name' | 'role'>, sample: Sample, note = '') {
  const row: Row = { ...at, subject: subject.name, role: subject.role, ...sample, ...(note ? { note } : {}) };
  return baseline === undefined || subject.name === baseline ? row : { ...row, baseline };
}

/** A scenario, an operation, its modes, and the subject every other row is divided by. */
export type GroupSpec = Pick<RowAt, 'scenario'> & { operation: 'get' | 'set'; baseline: string } & {
  modes: ReadonlyArray<{ mode: Mode; inFlight: number }>;
};

const fmt = (n: number, digits: number): string => n.toLocaleString('en-US', { maximumFractionDigits: digits });

/**
 * Measures `operation` for every subject, payload and mode; the subjects take turns, round by round,
 * so that a noisy spell on the shared machine spreads over all of them instead of landing on one.
 */
export async function measureGroup(context: BenchContext, spec: GroupSpec, subjects: readonly Subject[]) {
  const rows: Row[] = [];
  const { warmupMs, durationMs, minOps } = context.timing;
  for (const payload of context.payloads) {
    const [value, keys] = [makePayload(payload), keysFor(context, payload)];
    // A get that misses measures the wrong path: say so in the row rather than publish it as a hit.
    for (const subject of spec.operation === 'get' ? subjects : []) {
      const missed = (await subject.get(keys[0] as string)) == null;
      if (missed)
        subject.note = [subject.note, 'WARNING: get missed, this row is not a hit'].filter(Boolean).join('; ');
    }
    for (const { mode, inFlight } of spec.modes) {
      const pooled = subjects.map(() => ({ histogram: newHistogram(), count: 0, elapsedNs: 0 }));
      const healthBefore = subjects.map((subject) => subject.health?.());
      const n = context.rounds;
      const round = { inFlight, warmupMs: warmupMs / n, durationMs: durationMs / n, minOps: Math.ceil(minOps / n) };
      for (let r = 0; r < n; r++) {
        for (const [i, subject] of subjects.entries()) {
          await subject.beforeRound?.(keys);
          const key = (n: number): string => keys[n % keys.length] as string;
          const op =
            spec.operation === 'get' ? (n: number) => subject.get(key(n)) : (n: number) => subject.set(key(n), value);
          const into = pooled[i] as (typeof pooled)[number];
          const { count, elapsedNs } = await measureInto(op, round, into.histogram);
          [into.count, into.elapsedNs] = [into.count + count, into.elapsedNs + elapsedNs];
        }
      }
      for (const [i, subject] of subjects.entries()) {
        const { histogram, count, elapsedNs } = pooled[i] as (typeof pooled)[number];
        const sample = summarize(histogram, count, elapsedNs);
        const health = healthNote(spec.scenario, healthBefore[i], subject.health?.());
        const note = [subject.note, health].filter(Boolean).join('; ');
        rows.push(toRow({ scenario: spec.scenario, payload, mode, baseline: spec.baseline }, subject, sample, note));
        if (health !== undefined) context.progress(`  ${subject.name}: ${health}`);
        const figures = `${fmt(sample.opsPerSec, 0)} ops/s, p50 ${fmt(sample.p50Us, 2)} µs, p99 ${fmt(sample.p99Us, 2)} µs`;
        context.progress(`  ${spec.scenario} · ${payload} · ${mode} · ${subject.name}: ${figures}`);
      }
    }
  }
  return rows;
}

/** Closes subjects, each bounded, ignoring failures: a closed subject has nothing left to report. */
export async function closeAll(subjects: readonly Subject[], timeoutMs = 2_000): Promise<void> {
  await Promise.all(subjects.map((subject) => bounded(() => subject.close(), timeoutMs)));
}
