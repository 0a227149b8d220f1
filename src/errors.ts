/** Every code a {@link TieredStoreError} can carry. Callers branch on `code`, not on the class. */
export type TieredStoreErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_UNKNOWN_TTL_CATEGORY'
  | 'E_PRIMARY_TIMEOUT'
  | 'E_PRIMARY_UNAVAILABLE'
  | 'E_PRIMARY_ERROR'
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

/** Quotes a value for an error message: strings in quotes, everything else as JSON where possible. */
export function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (typeof value === 'bigint' || typeof value === 'symbol') return String(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** An option was missing, of the wrong type or out of range. Thrown at construction. */
export class InvalidOptionError extends TieredStoreError {
  override readonly name = 'InvalidOptionError';
  /** Dotted path of the offending option, e.g. `fallback.maxSize`. */
  readonly option: string;
  readonly value: unknown;

  constructor(option: string, value: unknown, expected: string) {
    super('E_INVALID_OPTION', `Invalid option \`${option}\`: expected ${expected}, got ${quote(value)}`);
    this.option = option;
    this.value = value;
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

/** The primary did not answer within `operationTimeoutMs`. Never thrown to callers: counted and emitted. */
export class PrimaryTimeoutError extends TieredStoreError {
  override readonly name = 'PrimaryTimeoutError';
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super('E_PRIMARY_TIMEOUT', `Primary ${operation} did not settle within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The primary is not connected, so the call was not sent. Never thrown to callers. */
export class PrimaryUnavailableError extends TieredStoreError {
  override readonly name = 'PrimaryUnavailableError';

  constructor(operation: string, cause?: unknown) {
    super('E_PRIMARY_UNAVAILABLE', `Primary unavailable for ${operation}`, { cause });
  }
}

/** The primary answered with an error (OOM, NOAUTH, READONLY, ...). Never thrown to callers. */
export class PrimaryCommandError extends TieredStoreError {
  override readonly name = 'PrimaryCommandError';

  constructor(operation: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('E_PRIMARY_ERROR', `Primary ${operation} failed: ${detail}`, { cause });
  }
}

/**
 * The primary refused the credentials or the ACL denied the connection (`WRONGPASS`, `NOAUTH`,
 * `NOPERM`). Emitted with `primary:connection`; the message names the server without its password.
 */
export class PrimaryAuthError extends TieredStoreError {
  override readonly name = 'PrimaryAuthError';

  constructor(safeUrl: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('E_PRIMARY_AUTH', `Redis at ${safeUrl} refused the connection's credentials: ${detail}`, { cause });
  }
}

/** Failures of the primary, as counted and emitted by the store. */
export type PrimaryFailure = PrimaryTimeoutError | PrimaryUnavailableError | PrimaryCommandError;
