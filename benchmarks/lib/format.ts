/** Microseconds, with as many decimals as the magnitude deserves. */
export function us(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value >= 1_000) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function ops(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

export function ratio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : `${value.toFixed(2)}×`;
}

/** A latency in µs as the unit a reader expects: ns below 1 µs, ms above 1,000 µs. */
export function duration(valueUs: number): string {
  if (valueUs < 1) return `${Math.round(valueUs * 1000)} ns`;
  if (valueUs < 1_000) return `${us(valueUs)} µs`;
  return `${(valueUs / 1_000).toFixed(valueUs < 10_000 ? 2 : 1)} ms`;
}
