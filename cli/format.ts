// Plain-text rendering for the CLI: durations, sizes, percentiles and aligned tables.
// Kept free of Redis so that every formatting rule can be read in one place.

/**
 * A remaining TTL as an operator reads it: `850ms`, `29.9s`, `4m 59s`, `2h 5m`, `3d 4h`.
 * Two units at most: the second is the one that still matters for a cache entry.
 */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) {
    const seconds = ms / 1_000;
    // One decimal under 10 s, where a tenth of a second is a real share of a price TTL.
    if (seconds >= 10 || Number.isInteger(seconds)) return `${Math.floor(seconds)}s`;
    return `${seconds.toFixed(1)}s`;
  }
  const units: ReadonlyArray<readonly [string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  for (let i = 0; i < units.length - 1; i++) {
    const [name, size] = units[i] as readonly [string, number];
    if (ms < size) continue;
    const [nextName, nextSize] = units[i + 1] as readonly [string, number];
    const whole = Math.floor(ms / size);
    const rest = Math.floor((ms % size) / nextSize);
    return rest === 0 ? `${whole}${name}` : `${whole}${name} ${rest}${nextName}`;
  }
  return `${Math.floor(ms / 1_000)}s`;
}

/** A byte count in binary units: `104 B`, `1.5 KiB`, `12.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Milliseconds with a precision that suits network latency: `0.084`, `1.25`, `37.1`. */
export function formatLatency(ms: number): string {
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  return ms.toFixed(1);
}

/**
 * The value at quantile `q` (0..1) of an ascending array, nearest-rank; `undefined` when empty.
 * Nearest-rank reports a value that was actually observed, which is what an operator expects.
 */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/**
 * A key as it can be printed on one line: unchanged when printable, JSON-quoted otherwise, so
 * that a key holding a newline or an escape sequence cannot forge lines of the report.
 */
export function printableKey(key: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be caught.
  return /[\u0000-\u001f\u007f]/.test(key) ? JSON.stringify(key) : key;
}

/** A column of {@link renderTable}: its header, and whether values align right (numbers). */
export interface Column {
  readonly header: string;
  readonly alignRight?: boolean;
}

/** Renders rows under headers, columns padded to their widest cell and separated by two spaces. */
export function renderTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? 0;
        return column.alignRight ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}
