/**
 * Redis URLs: which forms are accepted, how they are normalised for node-redis, and how they are
 * shown without their credentials. Shared by the store's composition, the Redis adapter and the CLI.
 * Nothing here throws: callers turn a problem into their own error, so that no error built by a URL
 * parser (Node's `TypeError: Invalid URL` carries the whole input in `input`) ever escapes.
 */

/** Schemes accepted, and the one node-redis is given: Valkey speaks the Redis protocol. */
const SCHEMES: Readonly<Record<string, 'redis:' | 'rediss:'>> = {
  'redis:': 'redis:',
  'rediss:': 'rediss:',
  'valkey:': 'redis:',
  'valkeys:': 'rediss:',
};

/** True when `value` starts with a scheme this package accepts (the rest may still be invalid). */
export function hasRedisScheme(value: string): boolean {
  return /^(redis|rediss|valkey|valkeys):\/\//i.test(value);
}

/**
 * A URL (or anything that may hold one) with every credential replaced by `***`, safe for error
 * messages, events and terminals. The credentials are everything between `scheme://` (or the
 * start, without a scheme) and the last `@` before the path, as URL parsers read them: a password
 * may contain `@`, `/` or `:`, and a userinfo without a colon (`redis://SECRET@host`) is a secret too.
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  const at = url.lastIndexOf('@');
  if (at < scheme.length) return url;
  return `${scheme}***${url.slice(at)}`;
}

/** A Redis URL checked and normalised for node-redis, or why it cannot be used. */
export type RedisUrlCheck =
  | { readonly ok: true; readonly url: string }
  | { readonly ok: false; readonly problem: string };

/**
 * Checks what node-redis would otherwise reject by throwing (with the URL in the error): the
 * scheme, the host, the port (1-65535) and the database number. `valkey://` becomes `redis://`.
 */
export function checkRedisUrl(url: string): RedisUrlCheck {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  const target = scheme === undefined ? undefined : SCHEMES[`${scheme}:`];
  if (target === undefined) return { ok: false, problem: 'a redis://, rediss://, valkey:// or valkeys:// URL' };
  const normalised = `${target}${url.slice((scheme as string).length + 1)}`;
  let parsed: URL;
  try {
    parsed = new URL(normalised);
  } catch {
    return { ok: false, problem: 'a well-formed URL (check the host and that the port is 1-65535)' };
  }
  if (parsed.hostname === '') return { ok: false, problem: 'a URL with a host' };
  if (parsed.port !== '' && !(Number(parsed.port) >= 1 && Number(parsed.port) <= 65535)) {
    return { ok: false, problem: 'a port from 1 to 65535' };
  }
  if (parsed.pathname.length > 1 && !/^\/\d{1,5}$/.test(parsed.pathname)) {
    return { ok: false, problem: 'a database number as the path (redis://host:6379/0)' };
  }
  return { ok: true, url: normalised };
}
