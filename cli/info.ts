// Reading `INFO` sections: the server's version, role and memory, as plain records.
import type { RedisSession } from './connect.js';

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
    return parseInfo(await session.run(`INFO ${section}`, (client) => client.info(section)));
  } catch (error) {
    if (error instanceof Error && /\b(NOPERM|unknown command)\b/i.test(error.message)) return undefined;
    throw error;
  }
}

/** A replication role as operators say it: `master (2 replicas)`, `replica of 10.0.0.5:6379 (link up)`. */
export function describeRole(replication: Record<string, string> | undefined): string {
  if (replication === undefined) return 'unknown (INFO denied)';
  const role = replication.role ?? 'unknown';
  if (role === 'master') {
    const replicas = Number(replication.connected_slaves ?? 0);
    return `master (${replicas} ${replicas === 1 ? 'replica' : 'replicas'})`;
  }
  if (role === 'slave') {
    return `replica of ${replication.master_host}:${replication.master_port} (link ${replication.master_link_status ?? 'unknown'})`;
  }
  return role;
}
