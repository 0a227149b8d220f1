import { readFileSync } from 'node:fs';

/** The parts of a V8 `.cpuprofile` this summary reads. */
interface CpuProfile {
  startTime: number;
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

/** Whose code a frame is, so that a reader sees at once what keyv-failsafe can change. */
export function ownerOf(url: string, functionName: string): string {
  if (url.includes('/node_modules/')) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    return match?.[1] ?? 'node_modules';
  }
  if (url.includes('/work/main/src/') || /\/src\/[^/]+\.ts$/.test(url)) return 'keyv-failsafe src/';
  if (url.includes('/adapters/')) return 'keyv-failsafe adapters/';
  if (url.includes('/benchmarks/')) return 'benchmark harness';
  if (url.startsWith('node:')) return 'node core';
  // The socket write syscall, issued by node-redis when it flushes commands.
  if (functionName === 'writev' || functionName === 'writeUtf8String' || functionName === 'writeBuffer') {
    return 'socket I/O (native)';
  }
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)' || functionName === '(program)') return functionName;
  return 'V8 / native';
}

export interface ProfileLine {
  readonly owner: string;
  readonly fn: string;
  readonly where: string;
  readonly selfPct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** False when no sample fell in the window given (clocks disagreed): the whole profile was used. */
  readonly windowed: boolean;
  /** Self time by owner, idle excluded from the denominator. */
  readonly byOwner: Array<{ owner: string; selfPct: number }>;
  readonly top: ProfileLine[];
}

/** Sample timestamps on the profile's clock: its start plus the running sum of deltas. */
function sampleTimes(profile: CpuProfile): number[] {
  let at = profile.startTime;
  return profile.timeDeltas.map((delta) => {
    at += delta;
    return at;
  });
}

/**
 * Self time per function and per owner, from the sample stream (each sample's time delta),
 * counting only samples within `window` (µs on V8's monotonic clock) when one is given.
 */
export function summarizeProfile(path: string, window?: { startUs: number; endUs: number }, topN = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const frameOf = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const selfByFrame = new Map<string, { owner: string; fn: string; where: string; us: number }>();
  const times = sampleTimes(profile);
  const inWindow = (i: number): boolean =>
    window === undefined || ((times[i] ?? 0) >= window.startUs && (times[i] ?? 0) <= window.endUs);
  const windowed = window !== undefined && profile.samples.some((_id, i) => inWindow(i));
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = frameOf.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    if (frame === undefined || frame.functionName === '(idle)' || (windowed && !inWindow(i))) return;
    busyUs += delta;
    const file = frame.url.replace(/^file:\/\/\/work\/main\//, '').replace(/^.*\/node_modules\//, '');
    const where = frame.url === '' ? '' : `${file}:${frame.lineNumber + 1}`;
    const fn = frame.functionName || '(anonymous)';
    const key = `${fn}@${where}`;
    const entry = selfByFrame.get(key) ?? { owner: ownerOf(frame.url, frame.functionName), fn, where, us: 0 };
    entry.us += delta;
    selfByFrame.set(key, entry);
  });
  const byOwnerUs = new Map<string, number>();
  for (const entry of selfByFrame.values()) byOwnerUs.set(entry.owner, (byOwnerUs.get(entry.owner) ?? 0) + entry.us);
  const pct = (us: number): number => Math.round((us / busyUs) * 1000) / 10;
  return {
    totalMs: Math.round(busyUs / 1000),
    windowed,
    byOwner: [...byOwnerUs.entries()].sort((a, b) => b[1] - a[1]).map(([owner, us]) => ({ owner, selfPct: pct(us) })),
    top: [...selfByFrame.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map(({ owner, fn, where, us }) => ({ owner, fn, where, selfPct: pct(us) })),
  };
}
