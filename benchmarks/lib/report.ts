import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The line width Biome formats this repository to. */
const LINE_WIDTH = 120;

/** Characters as a reader counts them (code points), for column widths. */
const width = (text: string): number => [...text].length;
const pad = (text: string, to: number, right = false): string =>
  right ? ' '.repeat(to - width(text)) + text : text + ' '.repeat(to - width(text));

/** An aligned plain-text table for a terminal; columns from `rightFrom` on are right-aligned; `null` rows are blank lines. */
export function textTable(header: readonly string[], rows: ReadonlyArray<readonly string[] | null>, rightFrom = 99) {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((row) => width(row?.[i] ?? ''))));
  const line = (cells: readonly string[]) => widths.map((w, i) => pad(cells[i] ?? '', w, i >= rightFrom)).join('  ');
  const lines = [header, widths.map((w) => '-'.repeat(w)), ...rows].map((row) => (row ? line(row).trimEnd() : ''));
  return lines.join('\n');
}

/** A Markdown table padded as Biome formats one; columns from `rightFrom` on are right-aligned. */
export function mdTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, rightFrom = 99): string {
  const cells = [header, ...rows].map((row) => header.map((_h, i) => (row[i] ?? '').replaceAll('|', '\\|')));
  const widths = header.map((_h, i) => Math.max(3, ...cells.map((row) => width(row[i] ?? ''))));
  const line = (row: readonly string[]): string => `| ${row.map((c, i) => pad(c, widths[i] ?? 0)).join(' | ')} |`;
  const rule = widths.map((w, i) => (i >= rightFrom ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(cells[0] ?? []), line(rule), ...cells.slice(1).map(line)].join('\n');
}

/** JSON laid out as Biome formats it (one key per line, short arrays of primitives inline), so results pass `biome check`. */
export function formatJson(value: unknown, indent = '', prefix = 0): string {
  const primitive = (v: unknown): boolean => v === null || typeof v !== 'object';
  if (primitive(value)) return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inline = `[${value.map((item) => JSON.stringify(item) ?? 'null').join(', ')}]`;
    // The trailing comma of a following entry counts against the width too.
    if (value.every(primitive) && prefix + inline.length + 1 <= LINE_WIDTH) return inline;
    return `[\n${value.map((item) => `${inner}${formatJson(item, inner, inner.length)}`).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as object).filter(([, item]) => item !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([key, item]) => {
    const head = `${inner}${JSON.stringify(key)}: `;
    return `${head}${formatJson(item, inner, head.length)}`;
  });
  return `{\n${lines.join(',\n')}\n${indent}}`;
}

/** Writes each `name: content` under `directory` (created if needed); returns the paths written. */
export function writeResults(directory: string, files: Readonly<Record<string, string>>): string[] {
  mkdirSync(directory, { recursive: true });
  return Object.entries(files).map(([name, content]) => {
    writeFileSync(join(directory, name), content);
    return join(directory, name);
  });
}

/** Microseconds, with as many decimals as the magnitude deserves. */
export function us(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 1_000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 1 : 2);
}

/** A count with thousands separators. */
export const int = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';

/** Milliseconds, or `-` for none. */
export const ms = (value: number | null): string => (value === null ? '-' : value.toFixed(value < 10 ? 2 : 0));

/** A latency in µs in the unit a reader expects: ns below 1 µs, ms above 1,000 µs. */
export function duration(valueUs: number): string {
  if (valueUs < 1) return `${Math.round(valueUs * 1000)} ns`;
  return valueUs < 1_000 ? `${us(valueUs)} µs` : `${(valueUs / 1_000).toFixed(valueUs < 10_000 ? 2 : 1)} ms`;
}
