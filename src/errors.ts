/** Every code a {@link TieredStoreError} can carry. Callers branch on `code`, not on the class. */
export type TieredStoreErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_INVALID_ARGUMENT'
  | 'E_NAMESPACE_REQUIRED'
  | 'E_UNKNOWN_TTL_CATEGORY'
  | 'E_PRIMARY_TIMEOUT'
  | 'E_PRIMARY_UNAVAILABLE'
  | 'E_PRIMARY_COMMAND'
  | 'E_PRIMARY_AUTH';

/** Base class of every error this library creates. */
export class TieredStoreError extends Error {
  override readonly name: string = 'TieredStoreError';
  readonly code: TieredStoreErrorCode;

  constructor(code: TieredStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Hides every credential in `text`: in each whitespace-delimited run holding an `@`, everything
 * from the start of the run (after a `scheme://`) to its last `@` becomes `***`, so
 * `redis://user:password@host` reads `redis://***@host` and a scheme-less `:pw@host:6379` reads
 * `***@host:6379` (a password may itself contain `@`, `/` or `:`). Linear in the length of `text`:
 * it runs on hostile input too. Every value an error quotes or keeps goes through it.
 */
export function hideCredentials(text: string): string {
  if (!text.includes('@')) return text;
  let out = '';
  let start = 0;
  while (start < text.length) {
    let end = start;
    while (end < text.length && !isSpace(text.charCodeAt(end))) end++;
    out += hideInRun(text.slice(start, end));
    let next = end;
    while (next < text.length && isSpace(text.charCodeAt(next))) next++;
    out += text.slice(end, next);
    start = next;
  }
  return out;
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 34 || code === 39;
}

function hideInRun(run: string): string {
  const at = run.lastIndexOf('@');
  if (at === -1) return run;
  const scheme = run.indexOf('://');
  const from = scheme !== -1 && scheme < at ? scheme + 3 : 0;
  return `${run.slice(0, from)}***${run.slice(at)}`;
}

/** Longest quoted string: a 1 MB key must not make a 1 MB message. */
const QUOTE_MAX = 120;

/**
 * Quotes a value for an error message: strings in quotes (escaped, so a control character or a lone
 * surrogate is visible, and cut past {@link QUOTE_MAX} characters), everything else as JSON where
 * possible.
 */
export function quote(value: unknown): string {
  if (typeof value === 'string') {
    const safe = hideCredentials(value);
    const cut = safe.length > QUOTE_MAX ? `${safe.slice(0, QUOTE_MAX)}…` : safe;
    return `${JSON.stringify(cut)}${value.length > QUOTE_MAX ? ` (${value.length} characters)` : ''}`;
  }
  if (typeof value === 'object' && value !== null) {
    // A 1 MB string inside an object must not make a 1 MB message: cut before serializing whole.
    return Array.isArray(value) ? `an array of ${value.length}` : quoteObject(value);
  }
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (typeof value === 'bigint' || typeof value === 'symbol') return String(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return String(value);
}

/** `{ name: value, ... }` with each value quoted (so cut and redacted), at most a few fields. */
function quoteObject(value: object): string {
  const name = value.constructor === Object || value.constructor === undefined ? '' : `${value.constructor.name} `;
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch {
    return `[object ${name.trim() || 'Object'}]`;
  }
  const shown = keys.slice(0, 6).map((key) => {
    let field: unknown;
    try {
      field = (value as Record<string, unknown>)[key];
    } catch {
      field = '[getter threw]';
    }
    const inner = field !== null && typeof field === 'object' ? '{…}' : quote(field);
    return `${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)}: ${inner}`;
  });
  if (keys.length > shown.length) shown.push(`… ${keys.length - shown.length} more`);
  return shown.length === 0 ? `${name}{}` : `${name}{ ${shown.join(', ')} }`;
}

/** An option's name as an error shows it: cut, and escaped like a quoted string. */
function quoteName(name: string): string {
  const cut = name.length > 60 ? `${name.slice(0, 60)}…` : name;
  return JSON.stringify(hideCredentials(cut)).slice(1, -1);
}

/** An option was missing, of the wrong type or out of range. Thrown at construction. */
export class InvalidOptionError extends TieredStoreError {
  override readonly name = 'InvalidOptionError';
  /** Dotted path of the offending option, e.g. `fallback.maxSize`. */
  readonly option: string;
  readonly value: unknown;

  /** @param hideValue for a value that may be a secret (an unknown option): neither quoted nor kept. */
  constructor(option: string, value: unknown, expected: string, hideValue = false) {
    super(
      'E_INVALID_OPTION',
      `Invalid option \`${quoteName(option)}\`: expected ${expected}${hideValue ? '' : `, got ${quote(value)}`}`,
    );
    this.option = option;
    this.value = hideValue ? undefined : typeof value === 'string' ? hideCredentials(value) : value;
  }
}

/**
 * A store method was called with a value it cannot store or address (a key that is not a
 * well-formed string, a value the serialization cannot write, a TTL Redis cannot keep, a batch that
 * is not an array). The call rejects before either tier is touched; it is never counted as an outage.
 */
export class InvalidArgumentError extends TieredStoreError {
  override readonly name = 'InvalidArgumentError';
  /** The offending argument, e.g. `key`, `ttl`, `entries[3].ttl`. */
  readonly argument: string;
  readonly value: unknown;

  constructor(argument: string, value: unknown, expected: string) {
    super('E_INVALID_ARGUMENT', `Invalid \`${argument}\`: expected ${expected}, got ${quote(value)}`);
    this.argument = argument;
    this.value = value;
  }
}

/**
 * `clear()`, `iterator()` or `warm()` on a store without a namespace. A namespace-less store
 * cannot prove that any key in a shared Redis is its own (plain Keyv stores and other applications
 * write bare keys too), so it refuses rather than delete or read other people's data.
 */
export class NamespaceRequiredError extends TieredStoreError {
  override readonly name = 'NamespaceRequiredError';
  readonly operation: string;

  constructor(operation: string) {
    super(
      'E_NAMESPACE_REQUIRED',
      `${operation}() needs a namespace: without one the store cannot tell its keys from other applications' keys in Redis. Give Keyv (or the store) a namespace.`,
    );
    this.operation = operation;
  }
}

/** A TTL category name that was never defined. */
export class UnknownTtlCategoryError extends TieredStoreError {
  override readonly name = 'UnknownTtlCategoryError';
  readonly category: unknown;

  constructor(category: unknown, known: readonly string[], where: string) {
    super(
      'E_UNKNOWN_TTL_CATEGORY',
      `Unknown TTL category ${quote(category)} in ${where}; defined categories: ${known.map((k) => quote(k)).join(', ')}`,
    );
    this.category = category;
  }
}

/**
 * Base of every failure of the primary: the store counts it, emits it in `primary:failure` and
 * answers from memory; callers never receive one. Sorted by subclass: a timeout or an unavailable
 * primary counts towards the breaker, a command error (the server answered) does not.
 */
export abstract class PrimaryFailure extends TieredStoreError {
  /** The store operation that failed (`get`, `setMany`, `probe`, ...). */
  readonly operation: string;

  constructor(code: TieredStoreErrorCode, operation: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.operation = operation;
  }
}

/** The primary did not answer within the call's deadline. */
export class PrimaryTimeoutError extends PrimaryFailure {
  override readonly name = 'PrimaryTimeoutError';
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super('E_PRIMARY_TIMEOUT', operation, `Primary ${operation} did not settle within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The primary could not be reached (no connection, reset, refused), so the call failed. */
export class PrimaryUnavailableError extends PrimaryFailure {
  override readonly name = 'PrimaryUnavailableError';

  constructor(operation: string, cause?: unknown) {
    super('E_PRIMARY_UNAVAILABLE', operation, `Primary unavailable for ${operation}`, { cause });
  }
}

/** The primary answered with an error (OOM, WRONGTYPE, NOPERM, ...; READONLY and other failover replies count as unavailable): it is there, it said no. */
export class PrimaryCommandError extends PrimaryFailure {
  override readonly name = 'PrimaryCommandError';

  constructor(operation: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('E_PRIMARY_COMMAND', operation, `Primary ${operation} failed: ${detail}`, { cause });
  }
}

/**
 * The primary refused the credentials or the ACL denied the connection (`WRONGPASS`, `NOAUTH`,
 * `NOPERM`). Emitted with `primary:connection`; the message names the server without its password.
 */
export class PrimaryAuthError extends PrimaryFailure {
  override readonly name = 'PrimaryAuthError';

  constructor(safeServer: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('E_PRIMARY_AUTH', 'connect', `Redis at ${safeServer} refused the connection's credentials: ${detail}`, {
      cause,
    });
  }
}
