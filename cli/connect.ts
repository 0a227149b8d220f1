// A Redis connection for one CLI run: every wait bounded, nothing queued while offline, no
// reconnects, and every failure turned into a one-line message that never holds the password.
import { createClient } from '@redis/client';
import { isServerReply } from '../adapters/redis-primary.js';
import { type Budget, DeadlineError, withDeadline } from './deadline.js';
import { CliError } from './errors.js';
import { ProtocolError } from './replies.js';
import { parseRedisUrl, type RedisTarget, scrub } from './target.js';

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

/** How the CLI connects. All waits are milliseconds and always finite. */
export interface ConnectOptions {
  /** `redis://`, `rediss://`, `valkey://` or `valkeys://` URL, possibly with credentials. */
  readonly url: string;
  /** Give up connecting (TCP, TLS and the handshake) after this long. @default 2000 */
  readonly connectTimeoutMs: number;
  /** Give up one command (or one pipelined batch) after this long. @default 5000 */
  readonly commandTimeoutMs: number;
  /** The whole run's `--max-time`: every wait is cut to what is left of it. */
  readonly budget: Budget;
}

/** The name of an error's class, as node-redis does not export all of them through @keyv/redis. */
function className(error: unknown): string {
  return error !== null && typeof error === 'object' ? (error.constructor?.name ?? '') : '';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A server's error text as it may be quoted: Redis's `unknown command` errors echo the arguments
 * (`with args beginning with: ...`), which may be the password or a key: cut them.
 */
function serverText(message: string): string {
  return message.replace(/,? with args beginning with:.*$/s, '');
}

const authFailure = /^(WRONGPASS|NOAUTH)\b/;

/** What an operator can do about a refused login. */
function authHint(message: string, target: RedisTarget): string {
  if (target.userWithoutPassword) {
    return ' (the URL has a user name and no password: for a password alone write redis://:PASSWORD@host:port)';
  }
  return message.startsWith('NOAUTH') ? ' (put the password in the URL: redis://:PASSWORD@host:port)' : '';
}

/** A deadline as the operator reads it: which wait, which flag. */
function deadlineMessage(error: DeadlineError, safeUrl: string, command: string | undefined): string {
  if (command === undefined) return `Cannot connect to ${safeUrl}: no answer within ${error.ms} ms (${error.flag})`;
  if (error.flag === '--max-time') {
    return `Redis at ${safeUrl}: the run did not finish within ${error.ms} ms (--max-time); it was waiting for ${command}`;
  }
  return `Redis at ${safeUrl} did not answer ${command} within ${error.ms} ms (${error.flag})`;
}

/** A reply from the server itself (`-ERR ...`), as the operator reads it. */
function replyMessage(message: string, target: RedisTarget, command: string | undefined): string {
  const { safeUrl } = target;
  if (authFailure.test(message)) {
    return `Redis at ${safeUrl} refused the credentials: ${message}${authHint(message, target)}`;
  }
  if (message.startsWith('NOPERM')) return `Redis at ${safeUrl} denied ${command ?? 'the connection'}: ${message}`;
  return `Redis at ${safeUrl} answered ${command ?? 'the handshake'} with an error: ${message}`;
}

/** A socket-level failure, by its Node error code; `undefined` for codes this does not know. */
function socketMessage(code: unknown, safeUrl: string, command: string | undefined): string | undefined {
  const during = command ? ` during ${command}` : '';
  switch (code) {
    case 'ECONNREFUSED':
      return `Cannot connect to ${safeUrl}: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Cannot connect to ${safeUrl}: host not found`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `Cannot connect to ${safeUrl}: host unreachable`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `Connection to ${safeUrl} was reset${during}`;
  }
  if (typeof code === 'string' && /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_)/.test(code)) {
    return `TLS with ${safeUrl} failed`;
  }
  return undefined;
}

/**
 * Turns whatever connecting or a command threw into a {@link CliError} an operator can act on,
 * scrubbed of the credentials. Escaping for the terminal happens where the line is written.
 * @param command the Redis command that failed, or `undefined` while connecting.
 */
export function translateError(error: unknown, target: RedisTarget, command?: string): CliError {
  if (error instanceof CliError) return error;
  const { safeUrl } = target;
  const message = serverText(messageOf(error));
  const say = (text: string) => new CliError(scrub(text, target.secrets), 1, { cause: error });
  const during = command ? ` during ${command}` : '';

  if (error instanceof DeadlineError) return say(deadlineMessage(error, safeUrl, command));
  if (error instanceof ProtocolError) {
    return say(
      `Redis at ${safeUrl} answered ${command ?? 'the handshake'} with ${message}: is it a Redis server, or a proxy that does not support ${command ?? 'it'}?`,
    );
  }
  if (isServerReply(error)) return say(replyMessage(message, target, command));
  const code = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  const socket = socketMessage(code, safeUrl, command);
  if (socket !== undefined) return say(socket.startsWith('TLS') ? `${socket}: ${message}` : socket);
  const kind = className(error);
  if (kind === 'ConnectionTimeoutError') {
    return say(`Cannot connect to ${safeUrl}: connection timed out (--connect-timeout)`);
  }
  if (kind === 'SocketClosedUnexpectedlyError' || kind === 'ClientClosedError') {
    return say(`Connection to ${safeUrl} was closed by the other side${during}`);
  }
  // The decoder throws on bytes that are not RESP; a reply no command waits for breaks node-redis's
  // queue with a TypeError (`reading 'value'` of the missing head), which means nothing to an operator.
  const why = error instanceof TypeError ? 'a reply that no command was waiting for' : message;
  return say(`Cannot talk to ${safeUrl}${during}: the server does not speak the Redis protocol (${why})`);
}

/** An open connection with bounded commands. Close it in a `finally`. */
export interface RedisSession {
  /** The URL as it may be printed. */
  readonly safeUrl: string;
  /**
   * Runs `fn` on the client within the command deadline (and what is left of `--max-time`),
   * translating any failure, including a connection that broke meanwhile.
   * @param command what is being sent, for the error message (`SCAN`, `PTTL + MEMORY USAGE`).
   */
  run<T>(command: string, fn: (client: RedisClient) => Promise<T>): Promise<T>;
  /**
   * The error {@link run} would throw for `error`, for a problem found across replies (a SCAN
   * cursor that comes back); drops the connection, as the server is not to be trusted any more.
   */
  fail(command: string, error: unknown): CliError;
  /** A {@link CliError} saying `text` (about this server), scrubbed of the credentials. */
  say(text: string): CliError;
  /** Closes the connection: gracefully after a clean run, at once after any failure. */
  close(): Promise<void>;
}

/** A client and what went wrong with it, owned by one session. */
class Connection {
  readonly client: RedisClient;
  /** Rejects with the first error the client emits: bytes that are not RESP, a lost socket. */
  readonly broken: Promise<never>;
  #failed = false;

  constructor(target: RedisTarget, connectTimeoutMs: number) {
    this.client = createCliClient(target.url, connectTimeoutMs);
    let fail: (error: unknown) => void = () => {};
    this.broken = new Promise<never>((_, reject) => {
      fail = reject;
    });
    // Nobody may be waiting when it breaks; the next command reports it.
    this.broken.catch(() => {});
    // node-redis emits socket and decoder errors as events; without a listener they would crash
    // the process. A decoder error leaves the waiting command pending forever: fail it from here.
    this.client.on('error', (error: unknown) => fail(error));
  }

  /** `promise`, or the connection's failure if that comes first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.broken]);
  }

  /** Marks the connection unusable and drops the socket at once. */
  destroy(): void {
    this.#failed = true;
    try {
      this.client.destroy();
    } catch {
      // Already closed: nothing left to release.
    }
  }

  /** Closes gracefully (QUIT, waiting for pending replies) within half a second, else at once. */
  async close(): Promise<void> {
    if (this.#failed) return this.destroy();
    try {
      await withDeadline(this.race(this.client.close()), 500, 'close', 'close');
    } catch {
      this.destroy();
    }
  }
}

/**
 * Connects to Redis for one CLI run.
 * @throws {UsageError} for a `--url` that cannot be used, before any socket is opened.
 * @throws {CliError} with a message naming the redacted URL and the cause.
 */
export async function connect(options: ConnectOptions): Promise<RedisSession> {
  const target = parseRedisUrl(options.url);
  const { budget } = options;
  let connection: Connection | undefined;
  try {
    connection = new Connection(target, options.connectTimeoutMs);
    const { client } = connection;
    // connectTimeout covers the TCP connect only; the handshake (AUTH, CLIENT SETNAME) needs its own bound.
    await budget.wait(connection.race(client.connect()), 'connect', options.connectTimeoutMs, '--connect-timeout');
  } catch (error) {
    connection?.destroy();
    throw translateError(error, target);
  }
  const open = connection;

  return {
    safeUrl: target.safeUrl,
    async run(command, fn) {
      try {
        const reply = fn(open.client);
        return await budget.wait(open.race(reply), command, options.commandTimeoutMs, '--timeout');
      } catch (error) {
        // An error reply (NOPERM...) leaves the connection in step; anything else does not: a
        // command past its deadline is still on the socket, and later replies would be misattributed.
        if (!isServerReply(error)) open.destroy();
        throw translateError(error, target, command);
      }
    },
    fail(command, error) {
      open.destroy();
      return translateError(error, target, command);
    },
    say: (text) => new CliError(scrub(text, target.secrets)),
    close: () => open.close(),
  };
}
