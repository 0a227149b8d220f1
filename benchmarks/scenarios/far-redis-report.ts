import { duration, int, mdTable } from '../lib/report.js';
import { describeLink, type Link } from './links.js';
import type { Row } from './types.js';

/** What one link measured about itself: the round trip asked for, and PING's through it. */
export interface LinkFinding {
  readonly link: string;
  /** Null for loopback (no proxy). */
  readonly nominalRttMs: number | null;
  readonly jitterMs: number;
  readonly pingP50Ms: number;
  readonly pingP99Ms: number;
  readonly loopbackPingP50Ms: number;
  /** PING p50 through the link minus PING p50 on loopback: what the link really adds. */
  readonly addedP50Ms: number;
  /** Rows left out, and why (the near-cache row before the store accepts the policy). */
  readonly skipped: readonly string[];
}

/** The groups of a link, in report order, as a reader names them. */
const GROUPS: ReadonlyArray<[what: string, title: string]> = [
  ['get', 'get (neighbours: L1 miss)'],
  ['set', 'set'],
  ['hit', 'hit (memory answers), breaker open'],
  ['batch get', 'batch get (one op = 100 keys)'],
];
const ms3 = (value: number): string => `${value.toFixed(3)} ms`;

/**
 * latest.md's "Redis far away" section: the links' measured round trips, then every row of every
 * link side by side, p50 one at a time and ops/s at 64 in flight (1 KB values).
 */
export function farRedisSection(rows: readonly Row[], findings: readonly LinkFinding[], links: readonly Link[]) {
  const pings = findings.map((f) => {
    const nominal =
      f.nominalRttMs === null ? '-' : `${f.nominalRttMs} ms${f.jitterMs ? ` + 0-${2 * f.jitterMs} ms jitter` : ''}`;
    const added = f.nominalRttMs === null ? '-' : ms3(f.addedP50Ms);
    return [f.link, nominal, ms3(f.pingP50Ms), ms3(f.pingP99Ms), added];
  });
  const pingHeader = ['link', 'nominal round trip', 'PING p50', 'PING p99', 'added over loopback PING p50'];
  const lines: string[][] = [];
  for (const [what, title] of GROUPS) {
    const scenarios = links.map((link) => `rtt ${link.label} ${what}`);
    const mine = rows.filter((r) => scenarios.includes(r.scenario));
    for (const subject of [...new Set(mine.map((r) => r.subject))]) {
      const cell = (scenario: string, mode: string, pick: (r: Row) => string) => {
        const row = mine.find((r) => r.scenario === scenario && r.subject === subject && r.mode === mode);
        return row ? pick(row) : '';
      };
      const p50 = scenarios.map((s) => cell(s, 'sequential', (r) => duration(r.p50Us)));
      const ops = scenarios.map((s) => cell(s, '64 in flight', (r) => int(r.opsPerSec)));
      lines.push([title, subject, ...p50, ...ops]);
    }
  }
  const header = [
    'path',
    'subject',
    ...links.map((l) => `p50, ${l.label}`),
    ...links.map((l) => `ops/s at 64, ${l.label}`),
  ];
  const skipped = [...new Set(findings.flatMap((f) => f.skipped))];
  return [
    `### Redis far away: ${links.map(describeLink).join(', ')}; 1 KB values`,
    "The delay comes from the harness's TCP proxy (`setLatency`), so every figure includes loopback, the proxy hop and the event loop's scheduling; the PING rows measure what a link really costs.",
    mdTable(pingHeader, pings),
    mdTable(header, lines, 2),
    ...skipped,
  ];
}
