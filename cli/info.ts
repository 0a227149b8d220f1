// Reading `INFO` sections: the server's version, role and memory, as plain records.
import type { RedisSession } from './connect.js';
import { printableKey } from './format.js';
import { expectText } from './replies.js';

/** Parses the text of `INFO` into `field: value` pairs, ignoring section headers. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/**
 * `INFO <section>` as a record, or `undefined` when the server refuses it (an ACL without `INFO`
 * still lets the other reports run). A lost connection or a timeout still fails the command.
 */
export async function readInfo(
  session: RedisSession,
  section: 'server' | 'replication' | 'memory',
): Promise<Record<string, string> | undefined> {
  try {
    return parseInfo(
      await session.run(`INFO ${section}`, async (client) => expectText(await client.sendCommand(['INFO', section]))),
    );
  } catch (error) {
    if (error instanceof Error && /\b(NOPERM|unknown command)\b/i.test(error.message)) return undefined;
    throw error;
  }
}

/** A field of INFO as it may be printed: the server wrote it, so it is escaped like a key. */
export function infoField(fields: Record<string, string> | undefined, name: string, fallback = 'unknown'): string {
  const value = fields?.[name];
  return value === undefined ? fallback : printableKey(value, 64);
}

/**
 * A replication role as operators say it: `master (2 replicas)`, `replica of 10.0.0.5:6379 (link up)`.
 * Every part comes from the server, so every part is escaped.
 */
export function describeRole(replication: Record<string, string> | undefined): string {
  if (replication === undefined) return 'unknown (INFO denied)';
  const role = replication.role ?? 'unknown';
  if (role === 'master') {
    const replicas = Number(replication.connected_slaves ?? 0);
    const count = Number.isSafeInteger(replicas) && replicas >= 0 ? replicas : '?';
    return `master (${count} ${replicas === 1 ? 'replica' : 'replicas'})`;
  }
  if (role === 'slave') {
    const host = `${infoField(replication, 'master_host')}:${infoField(replication, 'master_port')}`;
    return `replica of ${host} (link ${infoField(replication, 'master_link_status')})`;
  }
  return infoField(replication, 'role');
}
