// The `--url` a CLI run connects to: checked and normalised by the package's own URL module, the
// form that may be printed, and the secrets that must never be printed.
import { checkRedisUrl, redactUrl } from '../adapters/redis-url.js';
import { UsageError } from './errors.js';
import { printableKey } from './format.js';

/** A checked `--url`. */
export interface RedisTarget {
  /** What node-redis connects to: `valkey://` and `valkeys://` already mapped to `redis://` and `rediss://`. */
  readonly url: string;
  /** The URL as it may be printed: no userinfo (`redis://***@host:port`), no query, escaped. */
  readonly safeUrl: string;
  /** Every form of the credentials, to scrub from messages that come from a server or a library. */
  readonly secrets: readonly string[];
  /** True when the userinfo has no colon (`redis://SECRET@host`): node-redis sends it as a user name. */
  readonly userWithoutPassword: boolean;
}

/**
 * A URL, or anything typed as one, as it may be printed. `redactUrl` removes everything from the
 * scheme to the last `@` (so a password holding `@`, `:` or `/` and a userinfo without a colon are
 * hidden whole); the query and fragment go after that (never before: in a malformed URL a `?` may
 * sit inside the password), since node-redis ignores them and some clients read `?password=`.
 */
export function printableUrl(raw: string): string {
  if (raw.trim() === '') return '(empty)';
  const redacted = redactUrl(raw).replace(/[?#].*$/s, '');
  return printableKey(redacted);
}

/** `decodeURIComponent`, or `undefined` for a malformed %-escape (node-redis would throw a URIError). */
function decoded(component: string): string | undefined {
  try {
    return decodeURIComponent(component);
  } catch {
    return undefined;
  }
}

/**
 * Checks `--url` before anything is sent, with `checkRedisUrl` (scheme, host, port 1-65535,
 * database), which never throws, so that no parser error holding the URL can escape.
 * @throws {UsageError} naming the problem, with the URL shown by {@link printableUrl}.
 */
export function parseRedisUrl(raw: string): RedisTarget {
  const safeUrl = printableUrl(raw);
  const invalid = (expected: string) => new UsageError(`Invalid --url ${safeUrl}: expected ${expected}`);
  if (raw.trim() === '') throw invalid('a redis://, rediss://, valkey:// or valkeys:// URL');
  const check = checkRedisUrl(raw);
  if (!check.ok) throw invalid(check.problem);
  // checkRedisUrl parsed it already: this cannot fail.
  const { username, password } = new URL(check.url);
  const user = decoded(username);
  const pass = decoded(password);
  if (user === undefined || pass === undefined)
    throw invalid('%-escapes of two hex digits in the user name and password');
  const secrets = [password, pass, ...(password === '' ? [username, user] : [])].filter((s) => s !== '');
  return {
    url: check.url,
    safeUrl,
    secrets: [...new Set(secrets)],
    userWithoutPassword: username !== '' && password === '',
  };
}

/** Characters a password is told apart from the text around it by, for short passwords. */
const WORD = /[\p{L}\p{N}_-]/u;

/** `text` with every occurrence of `secret` replaced by `***`; a short one only where it stands alone. */
function scrubOne(text: string, secret: string): string {
  // A password of 1-3 characters is likely inside ordinary words: replacing those would garble the
  // message without hiding anything. It is still hidden where it stands as a word of its own.
  if (secret.length >= 4) return text.split(secret).join('***');
  let out = '';
  let from = 0;
  for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + secret.length)) {
    const before = text[at - 1] ?? '';
    const after = text[at + secret.length] ?? '';
    if (WORD.test(before) || WORD.test(after)) continue;
    out += `${text.slice(from, at)}***`;
    from = at + secret.length;
  }
  return out + text.slice(from);
}

/**
 * Hides the credentials wherever they appear. Our own messages only ever hold the redacted URL;
 * this is for messages that come from a server or a library, e.g. a proxy's
 * `ERR unknown command 'AUTH', with args beginning with: 'PASSWORD'`.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  // Longest first, so that a decoded password is not half-replaced by a shorter encoded form.
  return [...secrets].sort((a, b) => b.length - a.length).reduce(scrubOne, text);
}

/**
 * Text that may hold a URL typed by the operator (commander's errors quote what was typed:
 * `unknown option '--ulr=redis://:PASSWORD@host'`, `unknown command 'redis://:PASSWORD@host'`),
 * with everything before the last `@` of each word replaced by `***`: the scheme, an `--option=`
 * and quotes are kept, the credentials are not.
 */
export function redactTyped(text: string): string {
  return text.replace(/[^\s'"`]*@[^\s'"`]*/g, (word) =>
    word.replace(/^(.*?:\/\/|[^=:/]*=)?.*@/s, (_, keep: string | undefined) => `${keep ?? ''}***@`),
  );
}
