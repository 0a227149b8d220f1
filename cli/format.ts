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
 * Code points a terminal or a log viewer may act on instead of showing them: C0 controls (`\n`,
 * `\r`, ESC...), DEL and C1 controls (all `Cc`); format characters (`Cf`: bidi overrides, isolates
 * and marks, U+061C, zero-width characters, tag characters); line and paragraph separators;
 * surrogates that are not half of a pair (`Cs`); and U+FFFD, shown as `\ufffd` because it is what a
 * byte that was not UTF-8 became on the way (e.g. in a key a category function was given).
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\ufffd]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

/** Longest key or name shown in a report line: a 512 MB key name must not make a 512 MB table. */
export const DISPLAY_MAX = 256;

/** `\u001b` for a BMP code point, `\u{e0041}` beyond it: the escape of one unsafe code point. */
function escapeCodePoint(codePoint: number): string {
  if (codePoint === 0x0a) return '\\n';
  if (codePoint === 0x0d) return '\\r';
  if (codePoint === 0x09) return '\\t';
  const hex = codePoint.toString(16);
  return codePoint > 0xffff ? `\\u{${hex}}` : `\\u${hex.padStart(4, '0')}`;
}

/** A code point of a key, or a byte that is not part of any valid UTF-8 sequence (`{ byte }`). */
type Unit = number | { readonly byte: number };

/** Allowed range of the second byte of a UTF-8 sequence, by lead byte (RFC 3629, section 4). */
function secondByteRange(lead: number): readonly [number, number] | undefined {
  if (lead >= 0xc2 && lead <= 0xdf) return [0x80, 0xbf];
  if (lead === 0xe0) return [0xa0, 0xbf];
  // Past 0x9F, 0xED would encode a surrogate: not UTF-8.
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead >= 0xe1 && lead <= 0xef) return [0x80, 0xbf];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead >= 0xf1 && lead <= 0xf3) return [0x80, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return undefined;
}

/** The length of the valid UTF-8 sequence at `bytes[i]`, or 0 when none starts there. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i] as number;
  if (lead < 0x80) return 1;
  const range = secondByteRange(lead);
  if (range === undefined) return 0;
  const length = lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
  if (i + length > bytes.length) return 0;
  const second = bytes[i + 1] as number;
  if (second < range[0] || second > range[1]) return 0;
  for (let j = 2; j < length; j++) {
    const next = bytes[i + j] as number;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}

/** The code point of the valid sequence of `length` bytes at `bytes[i]`. */
function decodeSequence(bytes: Uint8Array, i: number, length: number): number {
  const leadBits = [0, 0x7f, 0x1f, 0x0f, 0x07][length] as number;
  let codePoint = (bytes[i] as number) & leadBits;
  for (let j = 1; j < length; j++) codePoint = (codePoint << 6) | ((bytes[i + j] as number) & 0x3f);
  return codePoint;
}

/** The code points of `bytes` read as UTF-8, each byte that is not valid UTF-8 on its own. */
function* unitsOfBytes(bytes: Uint8Array): Generator<Unit> {
  for (let i = 0; i < bytes.length; ) {
    const length = sequenceLength(bytes, i);
    yield length === 0 ? { byte: bytes[i] as number } : decodeSequence(bytes, i, length);
    i += Math.max(1, length);
  }
}

/** The code points of `text`; a lone surrogate is a code point of its own (U+D800-U+DFFF). */
function* unitsOfString(text: string): Generator<Unit> {
  for (const char of text) yield char.codePointAt(0) as number;
}

/** The first `count` units of `units`, and whether more followed. */
function take(units: Iterator<Unit>, count: number): { units: Unit[]; more: boolean } {
  const taken: Unit[] = [];
  for (let next = units.next(); !next.done; next = units.next()) {
    if (taken.length === count) return { units: taken, more: true };
    taken.push(next.value);
  }
  return { units: taken, more: false };
}

/** True when `text` can be printed as it is: nothing unsafe, not mistakable for a quoted key. */
function isPlain(text: string, cut: boolean): boolean {
  return text !== '' && !UNSAFE.test(text) && !text.startsWith('"') && (cut ? text.trimStart() : text.trim()) === text;
}

/** The escape of one unit inside quotes. */
function quotedUnit(unit: Unit): string {
  if (typeof unit !== 'number') return `\\x${unit.byte.toString(16).padStart(2, '0')}`;
  if (unit === 0x22) return '\\"';
  if (unit === 0x5c) return '\\\\';
  const char = String.fromCodePoint(unit);
  return UNSAFE.test(char) ? escapeCodePoint(unit) : char;
}

/**
 * THE escaper for every key, name or server-provided string the CLI prints (table cells, group
 * names, the server's version and role, values quoted in errors). A printable value is shown as it
 * is; anything else is quoted with escapes, so that a key cannot move the cursor, recolour the
 * terminal, reorder the line (bidi overrides) or forge report lines (newlines):
 *
 * - quoted when it holds an {@link UNSAFE} code point or a byte that is not UTF-8, is empty, has
 *   leading or trailing white space, or starts with `"` (so that a quoted form can never be
 *   mistaken for a key that merely looks quoted, nor the other way round);
 * - inside quotes: `\"`, `\\`, `\n`, `\r`, `\t`, `\u001b`, `\u{e0041}`, and `\xff` for a byte
 *   that is not part of valid UTF-8;
 * - longer than `maxChars` code points: cut, followed by `… (N bytes)` (`N characters` for a string).
 *
 * @param value a key as Redis returned it (bytes), or a string.
 */
export function printableKey(value: string | Uint8Array, maxChars: number = DISPLAY_MAX): string {
  const all = typeof value === 'string' ? unitsOfString(value) : unitsOfBytes(value);
  const { units, more } = take(all, maxChars);
  const cut = more ? `… (${value.length} ${typeof value === 'string' ? 'characters' : 'bytes'})` : '';
  if (units.every((unit) => typeof unit === 'number')) {
    const text = units.map((unit) => String.fromCodePoint(unit)).join('');
    if (isPlain(text, more)) return `${text}${cut}`;
  }
  return `"${units.map(quotedUnit).join('')}"${cut}`;
}

/**
 * A whole line as it may be written to a terminal: every {@link UNSAFE} code point replaced by its
 * escape. The last guard on everything the CLI writes (errors, progress, reports), which holds
 * values already made safe by {@link printableKey} and text of our own, but also messages that
 * come from a server or a library. A `\n` inside the line is escaped too: one message, one line.
 */
export function printableText(line: string): string {
  return line.replace(UNSAFE_ALL, (char) => escapeCodePoint(char.codePointAt(0) as number));
}

/** What JSON.stringify leaves raw but a terminal may act on: DEL, C1, format characters, separators. */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\ufffd]/gu;

/**
 * `value` as pretty JSON that is safe on a terminal: `JSON.stringify` already escapes C0 controls
 * and lone surrogates; this also escapes DEL, C1 controls, bidi and other format characters and
 * U+2028/U+2029 (`\u202e`), and U+FFFD (a byte of a key that is not UTF-8, read as UTF-8). Those
 * can only occur inside strings, so the JSON means the same.
 * Byte arrays (the raw keys kept for the text rendering) are left out: JSON has no bytes.
 */
export function safeJson(value: unknown): string {
  const text = JSON.stringify(
    value,
    function (this: Record<string, unknown>, key, item) {
      return this[key] instanceof Uint8Array ? undefined : item;
    },
    2,
  );
  return text.replace(JSON_UNSAFE, (char) =>
    Array.from({ length: char.length }, (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
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
