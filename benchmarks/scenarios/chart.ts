import { duration } from '../lib/report.js';
import type { PayloadName, Role, Row } from './types.js';

/** Scenarios drawn, in this order, and the title each gets; the far-Redis gets go after the loopback set. */
const SECTIONS: ReadonlyArray<[scenario: string, title: string]> = [
  ['memory get', 'In-process hit'],
  ['memory set', 'In-process set (Redis down)'],
  ['redis get', 'Redis get (L1 miss), loopback, one at a time'],
  ['redis set', 'Redis set, loopback, one at a time'],
  ['hung redis get', 'Hung Redis (SIGSTOP), get'],
];

/**
 * The sections, with a get section per far-Redis link run (`rtt <link> get`) after the loopback
 * set; its loopback link only when the loopback get section is not there already.
 */
function sectionsOf(rows: readonly Row[]): Array<[scenario: string, title: string]> {
  const has = new Set(rows.map((r) => r.scenario));
  const far = [...has].flatMap((scenario): Array<[string, string]> => {
    const link = /^rtt (\S+) get$/.exec(scenario)?.[1];
    if (link === undefined || (link === 'loopback' && has.has('redis get'))) return [];
    return [
      [
        scenario,
        `Redis get (L1 miss), Redis ${link === 'loopback' ? 'on loopback' : `${link.replaceAll(/(\d)ms/g, '$1 ms')} away`}, one at a time`,
      ],
    ];
  });
  const at = SECTIONS.findIndex(([scenario]) => scenario === 'redis set') + 1;
  return [...SECTIONS.slice(0, at), ...far, ...SECTIONS.slice(at)];
}
const COLOURS: Record<Role, string> = { 'keyv-failsafe': '#1b7f5f', baseline: '#6b7a8f', neighbour: '#c77d1a' };
const [LABEL_WIDTH, PLOT_WIDTH, ROW_HEIGHT, SECTION_GAP, TOP] = [470, 560, 20, 26, 70];

/** A decade tick as a reader names it: 100 ns, 1 µs, 10 ms, 1 s. */
function decadeLabel(exp: number): string {
  const [base, unit] = exp >= 6 ? [6, 's'] : exp >= 3 ? [3, 'ms'] : exp >= 0 ? [0, 'µs'] : [-3, 'ns'];
  return `${10 ** (exp - base)} ${unit}`;
}

const escapeXml = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/**
 * p50 (bar) and p99 (whisker) latency per path and library on a log axis, one payload, sequential
 * calls. Written by hand so that the file needs nothing to render and diffs stay readable.
 */
export function latencyChart(rows: readonly Row[], payload: PayloadName, subtitle: string): string {
  const sections = sectionsOf(rows)
    .map(([scenario, title]) => ({
      title,
      rows: rows.filter((r) => r.scenario === scenario && r.payload === payload && r.mode === 'sequential'),
    }))
    .filter((s) => s.rows.length > 0);
  const values = sections
    .flatMap((s) => s.rows.flatMap((r) => [r.p50Us, r.p99Us]))
    .filter((v) => v > 0 && Number.isFinite(v));
  const minExp = Math.floor(Math.log10(Math.min(...values, 1)));
  const maxExp = Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (us: number): number =>
    LABEL_WIDTH + ((Math.log10(Math.max(us, 10 ** minExp)) - minExp) / (maxExp - minExp)) * PLOT_WIDTH;
  const rowCount = sections.reduce((n, s) => n + s.rows.length, 0);
  const height = TOP + rowCount * ROW_HEIGHT + sections.length * SECTION_GAP + 40;
  const width = LABEL_WIDTH + PLOT_WIDTH + 30;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">Latency per call, ${payload} JSON values: p50 (bar) and p99 (whisker), log scale</text>`,
    `<text x="12" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  for (const [i, role] of (['keyv-failsafe', 'baseline', 'neighbour'] as const).entries()) {
    out.push(
      `<rect x="${12 + i * 110}" y="50" width="12" height="10" fill="${COLOURS[role]}"/><text x="${28 + i * 110}" y="59">${role}</text>`,
    );
  }
  const plotBottom = height - 34;
  for (let exp = minExp; exp <= maxExp; exp++) {
    const gx = x(10 ** exp).toFixed(1);
    out.push(`<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${plotBottom}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${gx}" y="${plotBottom + 16}" text-anchor="middle" fill="#444">${decadeLabel(exp)}</text>`);
  }
  let y = TOP;
  for (const section of sections) {
    out.push(`<text x="12" y="${y + 12}" font-weight="600">${escapeXml(section.title)}</text>`);
    y += SECTION_GAP - 4;
    for (const row of section.rows) {
      const [mid, p50x, p99x] = [y + ROW_HEIGHT / 2, x(row.p50Us), x(row.p99Us)];
      const [p50, p99] = [duration(row.p50Us), duration(row.p99Us)];
      const tip = (what: string): string => `<title>${escapeXml(`${row.subject}: ${what}`)}</title>`;
      out.push(
        `<text x="${LABEL_WIDTH - 8}" y="${mid + 4}" text-anchor="end">${escapeXml(`${row.subject}  ${p50} / ${p99}`)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${mid - 6}" width="${(p50x - LABEL_WIDTH).toFixed(1)}" height="12" fill="${COLOURS[row.role]}">${tip(`p50 ${p50}`)}</rect>`,
        `<line x1="${p50x.toFixed(1)}" y1="${mid}" x2="${p99x.toFixed(1)}" y2="${mid}" stroke="#222"/>`,
        `<line x1="${p99x.toFixed(1)}" y1="${mid - 5}" x2="${p99x.toFixed(1)}" y2="${mid + 5}" stroke="#222">${tip(`p99 ${p99}`)}</line>`,
      );
      y += ROW_HEIGHT;
    }
    y += 4;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
