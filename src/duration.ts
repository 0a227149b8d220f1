import { InvalidOptionError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}`;
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const unitMs: Readonly<Record<DurationUnit, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Converts a {@link Duration} to whole milliseconds, rejecting anything that is not a
 * positive, finite duration of at least 1 ms. `option` names the value in the error.
 */
export function toMilliseconds(value: unknown, option: string): number {
  let ms: number | undefined;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const match = durationPattern.exec(value.trim());
    if (match) ms = Number(match[1]) * unitMs[match[2] as DurationUnit];
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < 1) {
    throw new InvalidOptionError(
      option,
      value,
      "a duration of at least 1 ms: milliseconds as a number, or a string like '500ms', '30s', '5m', '1h', '1d'",
    );
  }
  return Math.round(ms);
}
