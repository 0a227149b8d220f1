import { duration } from './format.js';
import type { PayloadName, Role, Row } from './types.js';

/** Scenarios drawn, in this order, and the title each gets in the chart. */
const SECTIONS: ReadonlyArray<[scenario: string, title: string]> = [
  ['memory get', 'In-process hit'],
  ['memory set', 'In-process set (Redis down)'],
  ['redis get', 'Redis get (L1 miss), one at a time'],
  ['redis set', 'Redis set, one at a time'],
  ['hung redis get', 'Hung Redis (SIGSTOP), get'],
];

const COLOURS: Record<Role, string> = { 'keyv-failsafe': '#1b7f5f', baseline: '#6b7a8f', neighbour: '#c77d1a' };

const LABEL_WIDTH = 470;
const PLOT_WIDTH = 560;
const ROW_HEIGHT = 20;
const SECTION_GAP = 26;
const TOP = 70;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

/** A decade tick as a reader names it: 100 ns, 1 µs, 10 ms, 1 s. */
function decadeLabel(exp: number): string {
  const units: ReadonlyArray<[number, string]> = [
    [6, 's'],
    [3, 'ms'],
    [0, 'µs'],
    [-3, 'ns'],
  ];
  for (const [base, unit] of units) if (exp >= base) return `${10 ** (exp - base)} ${unit}`;
  return `${10 ** (exp + 3)} ns`;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/**
 * p50 (bar) and p99 (whisker) latency per path and library on a log axis, one payload, sequential
 * calls. Written by hand so that the file needs nothing to render and diffs stay readable.
 */
export function latencyChart(rows: readonly Row[], payload: PayloadName, subtitle: string): string {
  const sections = SECTIONS.map(([scenario, title]) => ({
    title,
    rows: rows.filter((r) => r.scenario === scenario && r.payload === payload && r.mode === 'sequential'),
  })).filter((s) => s.rows.length > 0);
  const drawn = sections.flatMap((s) => s.rows);
  const values = drawn.flatMap((r) => [r.p50Us, r.p99Us]).filter((v) => v > 0 && Number.isFinite(v));
  const minExp = Math.floor(Math.log10(Math.min(...values, 1)));
  const maxExp = Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (valueUs: number): number =>
    LABEL_WIDTH + ((Math.log10(Math.max(valueUs, 10 ** minExp)) - minExp) / (maxExp - minExp)) * PLOT_WIDTH;

  const height = TOP + drawn.length * ROW_HEIGHT + sections.length * SECTION_GAP + 40;
  const width = LABEL_WIDTH + PLOT_WIDTH + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">Latency per call, ${payload} JSON values: p50 (bar) and p99 (whisker), log scale</text>`,
    `<text x="12" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  // Legend.
  let legendX = 12;
  for (const [role, label] of [
    ['keyv-failsafe', 'keyv-failsafe'],
    ['baseline', 'baseline'],
    ['neighbour', 'neighbour'],
  ] as const) {
    out.push(
      `<rect x="${legendX}" y="50" width="12" height="10" fill="${COLOURS[role]}"/>`,
      `<text x="${legendX + 16}" y="59">${label}</text>`,
    );
    legendX += 110;
  }
  const plotBottom = height - 34;
  // Decade grid with labels at the bottom.
  for (let exp = minExp; exp <= maxExp; exp++) {
    const gx = x(10 ** exp).toFixed(1);
    out.push(
      `<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${plotBottom}" stroke="#e3e3e3"/>`,
      `<text x="${gx}" y="${plotBottom + 16}" text-anchor="middle" fill="#444">${decadeLabel(exp)}</text>`,
    );
  }
  let y = TOP;
  for (const section of sections) {
    out.push(`<text x="12" y="${y + 12}" font-weight="600">${escapeXml(section.title)}</text>`);
    y += SECTION_GAP - 4;
    for (const row of section.rows) {
      const mid = y + ROW_HEIGHT / 2;
      const p50x = x(row.p50Us);
      const p99x = x(row.p99Us);
      const label = `${row.subject}  ${duration(row.p50Us)} / ${duration(row.p99Us)}`;
      out.push(
        `<text x="${LABEL_WIDTH - 8}" y="${mid + 4}" text-anchor="end">${escapeXml(label)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${mid - 6}" width="${(p50x - LABEL_WIDTH).toFixed(1)}" height="12" fill="${COLOURS[row.role]}"><title>${escapeXml(`${row.subject}: p50 ${duration(row.p50Us)}`)}</title></rect>`,
        `<line x1="${p50x.toFixed(1)}" y1="${mid}" x2="${p99x.toFixed(1)}" y2="${mid}" stroke="#222"/>`,
        `<line x1="${p99x.toFixed(1)}" y1="${mid - 5}" x2="${p99x.toFixed(1)}" y2="${mid + 5}" stroke="#222"><title>${escapeXml(`${row.subject}: p99 ${duration(row.p99Us)}`)}</title></line>`,
      );
      y += ROW_HEIGHT;
    }
    y += 4;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
