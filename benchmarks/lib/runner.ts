import type { BenchContext } from './context.js';
import { measureInto, newHistogram, summarize } from './histogram.js';
import { makeKeys, makePayload } from './payloads.js';
import type { Subject } from './subjects.js';
import type { Mode, PayloadName, Row } from './types.js';

/** What one group of rows measures. */
export interface GroupSpec {
  readonly scenario: string;
  readonly operation: 'get' | 'set';
  readonly modes: ReadonlyArray<{ mode: Mode; inFlight: number }>;
  /** Subject every other row of the group is divided by. */
  readonly baseline: string;
}

/**
 * Fewer keys for big values keeps the server and the heaps small; still more keys than the
 * neighbours' small L1s hold, so those reads stay L1 misses.
 */
export function keyCountFor(payload: PayloadName): number {
  return payload === '64KB' ? 64 : 256;
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** Writes every key of every payload through each subject, so that the measured reads are hits. */
export async function preload(context: BenchContext, subjects: readonly Subject[]): Promise<void> {
  for (const payload of context.payloads) {
    const value = makePayload(payload);
    for (const subject of subjects) {
      for (const key of makeKeys(`${context.runId}:${payload}`, keyCountFor(payload))) await subject.set(key, value);
    }
  }
  for (const subject of subjects) await subject.afterPreload?.();
}

/**
 * What changed in a subject's failure counters during its measurement, or undefined if nothing did.
 * On the Redis path any change means some calls were not answered by Redis: flagged as a warning.
 */
export function healthNote(
  scenario: string,
  before: Record<string, number> | undefined,
  after: Record<string, number> | undefined,
): string | undefined {
  if (before === undefined || after === undefined) return undefined;
  const changed = Object.entries(after)
    .map(([name, value]) => [name, value - (before[name] ?? 0)] as const)
    .filter(([, delta]) => delta > 0);
  if (changed.length === 0) return undefined;
  const counts = changed.map(([name, delta]) => `${name} +${delta}`).join(', ');
  return scenario.startsWith('redis') || scenario.startsWith('batch')
    ? `WARNING: not every call got a Redis answer (${counts})`
    : `during measurement: ${counts}`;
}

/** A get that misses measures the wrong path; say so in the row rather than publish it as a hit. */
async function checkHits(subjects: readonly Subject[], keys: readonly string[]): Promise<void> {
  for (const subject of subjects) {
    const value = await subject.get(keys[0] as string);
    if (value === undefined || value === null) {
      subject.note = `${subject.note ? `${subject.note}; ` : ''}WARNING: get missed, this row is not a hit`;
    }
  }
}

/**
 * Measures `operation` for every subject, payload and mode. Subjects take turns for
 * `context.rounds` rounds and each one's rounds are pooled, so that a noisy spell on the shared
 * machine spreads over all of them instead of landing on one.
 */
export async function measureGroup(
  context: BenchContext,
  spec: GroupSpec,
  subjects: readonly Subject[],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const payload of context.payloads) {
    const value = makePayload(payload);
    const keys = makeKeys(`${context.runId}:${payload}`, keyCountFor(payload));
    if (spec.operation === 'get') await checkHits(subjects, keys);
    for (const { mode, inFlight } of spec.modes) {
      const pooled = subjects.map(() => ({ histogram: newHistogram(), count: 0, elapsedNs: 0 }));
      const healthBefore = subjects.map((subject) => subject.health?.());
      const round = {
        inFlight,
        warmupMs: context.timing.warmupMs / context.rounds,
        durationMs: context.timing.durationMs / context.rounds,
        minOps: Math.ceil(context.timing.minOps / context.rounds),
      };
      for (let r = 0; r < context.rounds; r++) {
        for (const [index, subject] of subjects.entries()) {
          const op =
            spec.operation === 'get'
              ? (i: number) => subject.get(keys[i % keys.length] as string)
              : (i: number) => subject.set(keys[i % keys.length] as string, value);
          const into = pooled[index] as (typeof pooled)[number];
          const { count, elapsedNs } = await measureInto(op, round, into.histogram);
          into.count += count;
          into.elapsedNs += elapsedNs;
        }
      }
      for (const [index, subject] of subjects.entries()) {
        const into = pooled[index] as (typeof pooled)[number];
        const sample = summarize(into.histogram, into.count, into.elapsedNs);
        const health = healthNote(spec.scenario, healthBefore[index], subject.health?.());
        const note = [subject.note, health].filter((part) => part !== undefined).join('; ');
        rows.push({
          scenario: spec.scenario,
          subject: subject.name,
          role: subject.role,
          payload,
          mode,
          ...sample,
          ...(subject.name === spec.baseline ? {} : { baseline: spec.baseline }),
          ...(note === '' ? {} : { note }),
        });
        if (health !== undefined) context.progress(`  ${subject.name}: ${health}`);
        context.progress(
          `  ${spec.scenario} · ${payload} · ${mode} · ${subject.name}: ${fmt(sample.opsPerSec, 0)} ops/s, p50 ${fmt(sample.p50Us, 2)} µs, p99 ${fmt(sample.p99Us, 2)} µs`,
        );
      }
    }
  }
  return rows;
}

/** Closes subjects, each bounded, ignoring failures: a closed benchmark subject has nothing left to report. */
export async function closeAll(subjects: readonly Subject[], timeoutMs = 2_000): Promise<void> {
  await Promise.all(
    subjects.map((subject) =>
      Promise.race([
        subject.close().catch(() => {}),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]),
    ),
  );
}
