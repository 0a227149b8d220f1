// `keyv-failsafe ping`: is Redis there, how fast does it answer, and what is it.
import { performance } from 'node:perf_hooks';
import { Command, Option } from 'commander';
import type { RedisSession } from '../connect.js';
import { Budget } from '../deadline.js';
import { addConnectionFlags, type ConnectionFlags, integerInRange } from '../flags.js';
import { formatLatency, printableKey, quantile } from '../format.js';
import { describeRole, readInfo } from '../info.js';
import { describeReply, ProtocolError } from '../replies.js';
import { output, withSession } from '../session.js';

/** Most PINGs `--count` accepts: each is a round trip, and the samples are kept to sort. */
export const MAX_PINGS = 100_000;

/** One PING, which a Redis server answers `+PONG` and nothing else. */
async function pingOnce(session: RedisSession): Promise<void> {
  await session.run('PING', async (client) => {
    const reply: unknown = await client.sendCommand(['PING']);
    if (reply !== 'PONG') throw new ProtocolError(`${describeReply(reply)} instead of PONG`);
  });
}

/** Flags of `ping`. */
export interface PingFlags extends ConnectionFlags {
  readonly count: number;
  readonly json?: boolean;
}

/** What `ping` reports; also its `--json` shape. Latencies in milliseconds. */
export interface PingReport {
  readonly url: string;
  readonly count: number;
  readonly minMs: number;
  readonly p50Ms: number;
  readonly maxMs: number;
  /** `redis_version` from INFO server, as the server wrote it; `null` when INFO is denied. */
  readonly version: string | null;
  /** e.g. `master (0 replicas)`. */
  readonly role: string;
}

/**
 * Sends `count` PINGs one after the other (each a full round trip, so each is one latency sample),
 * then reads the server's version and role.
 */
export async function ping(session: RedisSession, count: number): Promise<PingReport> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await pingOnce(session);
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const server = await readInfo(session, 'server');
  const replication = await readInfo(session, 'replication');
  return {
    url: session.safeUrl,
    count,
    minMs: samples[0] ?? 0,
    p50Ms: quantile(samples, 0.5) ?? 0,
    maxMs: samples[samples.length - 1] ?? 0,
    version: server?.redis_version ?? null,
    role: describeRole(replication),
  };
}

/** The text rendering of a {@link PingReport}. */
export function renderPing(report: PingReport): string {
  return [
    `PONG from ${report.url}: redis ${report.version === null ? 'unknown (INFO denied)' : printableKey(report.version, 64)}, role ${report.role}`,
    `${report.count} pings: min ${formatLatency(report.minMs)} ms, p50 ${formatLatency(report.p50Ms)} ms, max ${formatLatency(report.maxMs)} ms`,
  ].join('\n');
}

/** The `ping` command. */
export function pingCommand(): Command {
  const command = new Command('ping').description('measure round-trip latency and show the server version and role');
  addConnectionFlags(command)
    .addOption(new Option('-n, --count <n>', 'number of PINGs').argParser(integerInRange(1, MAX_PINGS)).default(5))
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ keyv-failsafe ping --url redis://127.0.0.1:6379
  $ REDIS_URL=rediss://:secret@cache.internal:6380 keyv-failsafe ping --count 20 --json`,
    )
    .action(async (flags: PingFlags) => {
      const report = await withSession(flags, new Budget(flags.maxTime), (session) => ping(session, flags.count));
      output(report, flags.json, renderPing);
    });
  return command;
}
