// A Redis connection for one CLI run: every wait bounded, nothing queued while offline, no
// reconnects, and every failure turned into a one-line message that never holds the password.
import { createClient } from '@keyv/redis';
import { isServerReply } from '../adapters/redis-primary.js';
import { redactUrl } from '../adapters/redis-url.js';
import { CliError, UsageError } from './errors.js';

/**
 * A client that fails instead of waiting: nothing is queued while offline (a command would wait
 * for a reconnect instead of failing), no reconnects (a CLI run is one attempt), a bounded connect.
 */
function createCliClient(url: string, connectTimeoutMs: number) {
  return createClient({
    url,
    // Shows up in CLIENT LIST, so whoever watches the server can tell what this connection is.
    name: 'keyv-failsafe-cli',
    disableOfflineQueue: true,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: false },
  });
}

/** The node-redis client the commands use. */
export type RedisClient = ReturnType<typeof createCliClient>;

/** How the CLI connects. Both waits are milliseconds and always finite. */
export interface ConnectOptions {
  /** `redis://` or `rediss://` URL, possibly with credentials. */
  readonly url: string;
  /** Give up connecting (TCP, TLS and the handshake) after this long. @default 2000 */
  readonly connectTimeoutMs: number;
  /** Give up one command (or one pipelined batch) after this long. @default 5000 */
  readonly commandTimeoutMs: number;
}

/** A parsed `--url`: the URL to connect to, the same URL safe to print, and the secret to hide. */
export interface RedisTarget {
  readonly url: string;
  readonly safeUrl: string;
  readonly password: string | undefined;
}

/**
 * Checks `--url` before anything is sent.
 * @throws {UsageError} for anything but a parseable `redis://` or `rediss://` URL.
 */
export function parseRedisUrl(raw: string): RedisTarget {
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    // Reported below, with whatever part of the text can be shown.
  }
  const safeUrl = printableUrl(raw, parsed);
  if (parsed === undefined) throw new UsageError(`Invalid --url ${safeUrl}: expected redis:// or rediss://`);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UsageError(`Invalid --url ${safeUrl}: expected redis:// or rediss://`);
  }
  if (parsed.hostname === '') throw new UsageError(`Invalid --url ${safeUrl}: no host`);
  const password = parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
  return { url: raw, safeUrl, password };
}

/**
 * The URL as it may be printed. `redactUrl` ends the credentials at the first `@`, but the URL
 * parser (and node-redis) end them at the last one, so a password holding a raw `@` would show its
 * tail. The parsed URL's own serialisation percent-encodes that `@`, which `redactUrl` then hides.
 */
function printableUrl(raw: string, parsed: URL | undefined): string {
  if (raw.indexOf('@') === raw.lastIndexOf('@')) return redactUrl(raw);
  return parsed === undefined ? '(not shown: it may hold a password)' : redactUrl(parsed.href);
}

/** The name of an error's class, as node-redis does not export all of them through @keyv/redis. */
function className(error: unknown): string {
  return error !== null && typeof error === 'object' ? (error.constructor?.name ?? '') : '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Hides the password wherever it appears. Our own messages only ever print the redacted URL; this
 * is the belt to that brace, for messages that come from node-redis or Node. Passwords shorter than
 * 4 characters are left to redaction alone, so that replacing them cannot garble every message.
 */
export function scrub(text: string, password: string | undefined): string {
  if (password === undefined || password.length < 4) return text;
  return text.split(password).join('***');
}

/** Thrown by {@link withDeadline} when the time is up. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  readonly what: string;
  readonly ms: number;

  constructor(what: string, ms: number) {
    super(`${what} did not complete within ${ms} ms`);
    this.what = what;
    this.ms = ms;
  }
}

/**
 * Settles like `promise`, or rejects with a {@link DeadlineError} after `ms`. node-redis stops
 * timing a command once it is on the socket, so a hung server would otherwise hold the CLI forever.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    // A timer that outlives its command must not keep the process alive.
    timer.unref();
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const authFailure = /^(WRONGPASS|NOAUTH)\b/;

/**
 * Turns whatever connecting or a command threw into a {@link CliError} an operator can act on.
 * @param command the Redis command that failed, or `undefined` while connecting.
 */
export function translateError(error: unknown, target: RedisTarget, command?: string): CliError {
  if (error instanceof CliError) return error;
  const { safeUrl } = target;
  const message = scrub(messageOf(error), target.password);
  const code = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  const say = (text: string) => new CliError(scrub(text, target.password), 1, { cause: error });

  if (error instanceof DeadlineError) {
    return command === undefined
      ? say(`Cannot connect to ${safeUrl}: no answer within ${error.ms} ms (--connect-timeout)`)
      : say(`Redis at ${safeUrl} did not answer ${command} within ${error.ms} ms (--timeout)`);
  }
  if (isServerReply(error)) {
    if (authFailure.test(message)) {
      const hint = message.startsWith('NOAUTH') ? ' (put the password in the URL: redis://:PASSWORD@host:port)' : '';
      return say(`Redis at ${safeUrl} refused the credentials: ${message}${hint}`);
    }
    if (message.startsWith('NOPERM')) {
      return say(`Redis at ${safeUrl} denied ${command ?? 'the connection'}: ${message}`);
    }
    return say(`Redis at ${safeUrl} answered ${command ?? 'the handshake'} with an error: ${message}`);
  }
  switch (code) {
    case 'ECONNREFUSED':
      return say(`Cannot connect to ${safeUrl}: connection refused`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return say(`Cannot connect to ${safeUrl}: host not found`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return say(`Cannot connect to ${safeUrl}: host unreachable`);
    case 'ECONNRESET':
    case 'EPIPE':
      return say(`Connection to ${safeUrl} was reset${command ? ` during ${command}` : ''}`);
  }
  const kind = className(error);
  if (kind === 'ConnectionTimeoutError')
    return say(`Cannot connect to ${safeUrl}: connection timed out (--connect-timeout)`);
  if (kind === 'SocketClosedUnexpectedlyError') {
    return say(`Connection to ${safeUrl} was closed by the other side${command ? ` during ${command}` : ''}`);
  }
  if (/Unknown RESP type|Parser/i.test(message)) {
    return say(`Cannot talk to ${safeUrl}: the server does not speak the Redis protocol (${message})`);
  }
  if (typeof code === 'string' && /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED)/.test(code)) {
    return say(`TLS with ${safeUrl} failed: ${message}`);
  }
  return say(`Redis at ${safeUrl}: ${command ? `${command} failed: ` : ''}${message}`);
}

/** An open connection with bounded commands. Close it in a `finally`. */
export interface RedisSession {
  /** The URL as it may be printed. */
  readonly safeUrl: string;
  /**
   * Runs `fn` on the client within the command deadline, translating any failure.
   * @param command what is being sent, for the error message (`SCAN`, `PTTL + MEMORY USAGE`).
   */
  run<T>(command: string, fn: (client: RedisClient) => Promise<T>): Promise<T>;
  /** Closes the connection, gracefully if the server answers quickly, at once otherwise. */
  close(): Promise<void>;
}

/**
 * Connects to Redis for one CLI run.
 * @throws {CliError} with a message naming the redacted URL and the cause.
 */
export async function connect(options: ConnectOptions): Promise<RedisSession> {
  const target = parseRedisUrl(options.url);
  const client = createCliClient(target.url, options.connectTimeoutMs);
  // node-redis emits socket errors as events too; without a listener they would crash the process.
  // The promise that failed carries the same error, and that is what gets reported.
  client.on('error', () => {});

  let broken = false;
  const destroy = () => {
    broken = true;
    try {
      client.destroy();
    } catch {
      // Already closed: nothing left to release.
    }
  };

  try {
    // connectTimeout covers the TCP connect only; the handshake (AUTH, CLIENT SETNAME) needs its own bound.
    await withDeadline(client.connect(), options.connectTimeoutMs, 'connect');
  } catch (error) {
    destroy();
    throw translateError(error, target);
  }

  return {
    safeUrl: target.safeUrl,
    async run(command, fn) {
      try {
        return await withDeadline(fn(client), options.commandTimeoutMs, command);
      } catch (error) {
        // A command past its deadline is still on the socket; later replies would be misattributed.
        if (error instanceof DeadlineError) destroy();
        throw translateError(error, target, command);
      }
    },
    async close() {
      if (broken) return;
      try {
        await withDeadline(client.close(), 500, 'close');
      } catch {
        destroy();
      }
    },
  };
}
