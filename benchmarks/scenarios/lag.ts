import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TieredStoreOptions } from '../../src/index.js';
import { tieredKeyv } from '../lib/libraries.js';
import { type Cleanup, sleep } from '../lib/measure.js';
import { type LagFinding, lagSection, type PolicyLag, summarizeLags } from './lag-report.js';
import { type FromReader, type LagPhase, type LagReport, now, READER_MARKER, type ToReader } from './lag-worker.js';
import { untilLive } from './subjects.js';
import type { BenchContext, Scenario } from './types.js';

/** The readers' sleep between two reads: short enough to see a sub-ms lag, long enough not to spin. */
const CADENCE_MS = 0.25;
/** One write every this many ms: a modest rate, far apart next to the lag measured. */
const WRITE_EVERY_MS = 10;
const CADENCE_READERS = 2;
const MEMORY_TTL_MS = 1_000;
/** Each policy: its options, and how long the readers go on after the last write (a memory-first copy lives a second). */
const POLICIES: ReadonlyArray<{ label: string; options: Partial<TieredStoreOptions>; tailMs: number }> = [
  { label: 'near-cache', options: { readPolicy: 'near-cache' }, tailMs: 200 },
  {
    label: `memory-first (memoryTtlMs ${MEMORY_TTL_MS})`,
    options: { readPolicy: 'memory-first', memoryTtlMs: MEMORY_TTL_MS },
    tailMs: MEMORY_TTL_MS + 200,
  },
  { label: 'primary-first', options: { readPolicy: 'primary-first' }, tailMs: 200 },
];

/** One write: its value, when it was sent and when it was acknowledged (our clock, ms). */
type Write = [seq: number, sentAt: number, ackAt: number];

/** A reader process and the offset of its clock from ours (its `now()` minus ours), in ms. */
interface Reader {
  readonly child: ChildProcess;
  offsetMs: number;
  /** Half the fastest IPC round trip of the calibration: the offset's uncertainty. */
  uncertaintyMs: number;
}

const next = (child: ChildProcess, type: FromReader['type']): Promise<FromReader> =>
  new Promise((resolve, reject) => {
    const onMessage = (message: FromReader) => {
      if (message.type !== type) return;
      child.off('message', onMessage).off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => reject(new Error(`lag reader exited (${code}) waiting for ${type}`));
    child.on('message', onMessage).once('exit', onExit);
  });

const tell = (child: ChildProcess, message: ToReader): void => void child.send(message);

/** Forks a reader (`lag-worker.ts` under tsx) and measures its clock's offset over IPC. */
async function startReader(): Promise<Reader> {
  const child = fork(fileURLToPath(new URL('./lag-worker.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, [READER_MARKER]: '1' },
  });
  const reader: Reader = { child, offsetMs: 0, uncertaintyMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 20; i++) {
    const sentAt = now();
    const pong = next(child, 'pong');
    tell(child, { type: 'ping' });
    const { at } = (await pong) as { at: number };
    const receivedAt = now();
    const half = (receivedAt - sentAt) / 2;
    // The fastest round trip bounds the offset best: its midpoint is closest to the child's read.
    if (half < reader.uncertaintyMs) [reader.offsetMs, reader.uncertaintyMs] = [at - (sentAt + half), half];
  }
  return reader;
}

/**
 * For every write, how long after its acknowledgement a reader first saw it or a newer value (ms,
 * the reader's times moved onto our clock); writes it never saw are counted apart.
 */
function lagsOf(writes: ReadonlyArray<Write>, seen: ReadonlyArray<[number, number]>, offsetMs: number) {
  const [lags, missed] = [[] as number[], { count: 0 }];
  let j = 0;
  for (const [seq, , ackAt] of writes) {
    while (j < seen.length && (seen[j] as [number, number])[0] < seq) j++;
    const first = seen[j];
    if (first === undefined) missed.count++;
    else lags.push(first[1] - offsetMs - ackAt);
  }
  return { lags, missed: missed.count };
}

/**
 * The arrival reader's invalidations: each drop belongs to the last write sent before it (writes
 * are 10 ms apart, the lag a fraction of that); per write, its first drop, timed from the write's
 * acknowledgement and from its send, and the read made right then, from the acknowledgement.
 */
function arrivalLags(writes: ReadonlyArray<Write>, report: LagReport, offsetMs: number) {
  const drops = report.arrivals.map(([, droppedAt, readAt]) => [droppedAt - offsetMs, readAt - offsetMs] as const);
  drops.sort((a, b) => a[0] - b[0]);
  const [dropped, fromSend, read, taken] = [[] as number[], [] as number[], [] as number[], new Set<number>()];
  let w = -1;
  for (const [droppedAt, readAt] of drops) {
    while (w + 1 < writes.length && (writes[w + 1] as Write)[1] <= droppedAt) w++;
    const write = writes[w];
    if (write === undefined || taken.has(write[0])) continue;
    taken.add(write[0]);
    [dropped.push(droppedAt - write[2]), fromSend.push(droppedAt - write[1]), read.push(readAt - write[2])];
  }
  return { dropped, fromSend, read, missed: writes.length - taken.size };
}

/** One policy: the readers build their stores, our writer writes for `durationMs`, the readers report. */
async function measurePolicy(
  context: BenchContext,
  policy: (typeof POLICIES)[number],
  cadence: readonly Reader[],
  arrival: Reader | undefined,
  durationMs: number,
): Promise<PolicyLag> {
  const namespace = `bench-${context.runId}-lag-${policy.label.split(' ')[0]}`;
  const [key, url] = [`${context.runId}:lag`, context.redisUrl as string];
  const store = { primary: url, ...policy.options } as TieredStoreOptions;
  const writer = tieredKeyv(store, namespace);
  writer.keyv.on('error', () => {});
  try {
    const notes = [policy.options.readPolicy === 'near-cache' ? await untilLive(writer.store) : undefined];
    await writer.keyv.set(key, 0);
    const readers = [
      ...cadence.map((r) => ['cadence', r] as const),
      ...(arrival ? [['arrival', arrival] as const] : []),
    ];
    const ready = readers.map(([, r]) => next(r.child, 'ready'));
    for (const [role, r] of readers) {
      const phase: LagPhase = { type: 'phase', role, store, namespace, key, cadenceMs: CADENCE_MS };
      tell(r.child, phase);
    }
    for (const message of await Promise.all(ready)) notes.push((message as { note?: string }).note);
    const writes: Write[] = [];
    for (let seq = 1, endAt = now() + durationMs; now() < endAt; seq++) {
      const sentAt = now();
      await writer.keyv.set(key, seq);
      writes.push([seq, sentAt, now()]);
      await sleep(WRITE_EVERY_MS);
    }
    await sleep(policy.tailMs);
    const reports = readers.map(([, r]) => next(r.child, 'report'));
    for (const [, r] of readers) tell(r.child, { type: 'stop' });
    const done = (await Promise.all(reports)) as LagReport[];
    const cadenceReports = done.slice(0, cadence.length);
    const perReader = cadenceReports.map((report, i) => lagsOf(writes, report.seen, cadence[i]?.offsetMs ?? 0));
    const arrivalReport = arrival ? done[cadence.length] : undefined;
    const arrived = arrivalReport && arrivalLags(writes, arrivalReport, arrival?.offsetMs ?? 0);
    return summarizeLags({
      label: policy.label,
      writes: writes.length,
      writeMs: writes.map(([, sentAt, ackAt]) => ackAt - sentAt),
      lags: perReader.flatMap((r) => r.lags),
      missed: perReader.reduce((sum, r) => sum + r.missed, 0),
      cadence: cadenceReports,
      arrival: arrived,
      notes: notes.filter((n): n is string => n !== undefined),
    });
  } finally {
    await writer.keyv.disconnect().catch(() => {});
  }
}

/**
 * Invalidation lag (issue 11): one writer (this process) and readers in processes of their own on
 * the shared loopback server; how long after a write was acknowledged the readers first see it,
 * for near-cache, memory-first and primary-first. See benchmarks/README.md, "invalidation lag".
 */
export const invalidationLag: Scenario = {
  name: 'invalidation lag',
  requires: 'redis',
  async run(context: BenchContext, cleanup: Cleanup) {
    const durationMs = context.quick ? 400 : 4_000;
    const readers = await Promise.all(Array.from({ length: CADENCE_READERS + 1 }, startReader));
    cleanup.add('lag readers', () => {
      for (const { child } of readers) child.kill('SIGKILL');
    });
    const [cadence, arrival] = [readers.slice(0, CADENCE_READERS), readers[CADENCE_READERS] as Reader];
    const policies: PolicyLag[] = [];
    for (const policy of POLICIES) {
      const near = policy.options.readPolicy === 'near-cache';
      const measured = await measurePolicy(context, policy, cadence, near ? arrival : undefined, durationMs);
      policies.push(measured);
      const { p50Ms, p99Ms, maxMs } = measured.lag;
      context.progress(`  invalidation lag · ${policy.label}: p50 ${p50Ms} ms, p99 ${p99Ms} ms, max ${maxMs} ms`);
    }
    const clock = Math.max(...readers.map((r) => Math.abs(r.offsetMs)));
    const finding: LagFinding = {
      ...{ cadenceMs: CADENCE_MS, writeEveryMs: WRITE_EVERY_MS, durationMs, cadenceReaders: CADENCE_READERS },
      clockOffsetMs: clock,
      clockUncertaintyMs: Math.max(...readers.map((r) => r.uncertaintyMs)),
      policies,
    };
    return { rows: [], findings: { invalidationLag: finding }, sections: { invalidationLag: lagSection(finding) } };
  },
};
