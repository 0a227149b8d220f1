// Runs a command's body with a connected session, closing it whatever happens.
import { connect, type RedisSession } from './connect.js';
import type { ConnectionFlags } from './flags.js';

/**
 * Connects with the bounds of `flags`, runs `body`, and always closes the connection.
 * `connect` checks the URL before any socket is opened, so a bad URL is a usage error (exit 2).
 */
export async function withSession<T>(flags: ConnectionFlags, body: (session: RedisSession) => Promise<T>): Promise<T> {
  const session = await connect({
    url: flags.url,
    connectTimeoutMs: flags.connectTimeout,
    commandTimeoutMs: flags.timeout,
  });
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

/** Writes a report to stdout: pretty JSON with `--json`, the text rendering otherwise. */
export function output<T>(report: T, json: boolean | undefined, render: (report: T) => string): void {
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${render(report)}\n`);
}
