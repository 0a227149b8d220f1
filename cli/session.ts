// Runs a command's body with a connected session, closing it whatever happens, and writes reports.
import { connect, type RedisSession } from './connect.js';
import type { Budget } from './deadline.js';
import type { ConnectionFlags } from './flags.js';
import { printableText, safeJson } from './format.js';

/**
 * Connects with the bounds of `flags` (and what is left of `budget`), runs `body`, and always
 * closes the connection. `connect` checks the URL before any socket is opened, so a bad URL is a
 * usage error (exit 2).
 */
export async function withSession<T>(
  flags: ConnectionFlags,
  budget: Budget,
  body: (session: RedisSession) => Promise<T>,
): Promise<T> {
  const session = await connect({
    url: flags.url,
    connectTimeoutMs: flags.connectTimeout,
    commandTimeoutMs: flags.timeout,
    budget,
  });
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

/**
 * Writes a report to stdout: JSON with `--json` (see {@link safeJson}), the text rendering
 * otherwise. Every value in a rendering went through `printableKey` already; each line goes
 * through {@link printableText} as well, so that nothing a server sent can reach the terminal raw.
 */
export function output<T>(report: T, json: boolean | undefined, render: (report: T) => string): void {
  const text = json ? safeJson(report) : render(report).split('\n').map(printableText).join('\n');
  process.stdout.write(`${text}\n`);
}
