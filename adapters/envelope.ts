/**
 * Reads the `expires` of Keyv's envelope without parsing the value. Keyv stores
 * `{ value, expires }` (serialized by default as `{"value":…,"expires":1732550000000}`, `expires`
 * last and absent when there is no TTL), and enforces that timestamp itself on every read. Taking
 * the memory copy's expiry from it costs a scan of the last few bytes instead of a `PTTL` command
 * per read.
 *
 * Returns the remaining TTL in ms (0 when already past), or `undefined` when the value carries no
 * `expires`: no TTL, a TTL the store applied (TTL categories), or not Keyv's format at all. The
 * caller must then ask the primary.
 */
export function envelopeTtl(value: unknown, now?: number): number | undefined {
  let expires: number | undefined;
  if (typeof value === 'string') {
    // Must end with `"expires":<digits>}`: a nested "expires" inside the value ends with `}}` or
    // other characters and is rejected, so only the envelope's own field matches.
    const end = value.length - 1;
    if (value.charCodeAt(end) !== 125 /* } */) return undefined;
    // A digit must come before the `}`: without it (an envelope without `expires` ends in `}}`,
    // `]}`, `"}`) the scan for `"expires":` below would walk the whole value for nothing.
    const last = value.charCodeAt(end - 1) - 48;
    if (last < 0 || last > 9) return undefined;
    const at = value.lastIndexOf('"expires":', end);
    if (at === -1) return undefined;
    let ms = 0;
    const first = at + 10;
    if (first >= end) return undefined;
    for (let i = first; i < end; i++) {
      const digit = value.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return undefined;
      ms = ms * 10 + digit;
    }
    expires = ms;
  } else if (value !== null && typeof value === 'object') {
    const candidate = (value as { expires?: unknown }).expires;
    if (typeof candidate === 'number') expires = candidate;
  }
  // The wall clock only when there is an expiry to compare (most cached values have none).
  return expires === undefined ? undefined : Math.max(0, expires - (now ?? Date.now()));
}

/** True for a value in Keyv's default serialized form, `{"value":…}`. */
export function isKeyvEnvelope(value: unknown): boolean {
  return typeof value === 'string'
    ? value.startsWith('{"value":')
    : value !== null && typeof value === 'object' && 'value' in value;
}
