// `keyv-failsafe ping`: is Redis there, how fast does it answer, and what is it.
import { performance } from 'node:perf_hooks';
import { Command, Option } from 'commander';
import { CLUSTER_SLOTS, type ClusterState, formatRanges, readClusterState, type SlotRange } from '../cluster.js';
import type { RedisSession } from '../connect.js';
import { Budget } from '../deadline.js';
import { CliError } from '../errors.js';
import { addConnectionFlags, type ConnectionFlags, integerInRange } from '../flags.js';
import { formatLatency, printableKey, quantile } from '../format.js';
import { describeRole, readInfo } from '../info.js';
import { describeReply, ProtocolError } from '../replies.js';
import { type ClusterRun, masters, output, withDeployment } from '../session.js';

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

/** `count` PINGs one after the other, each a full round trip, so each is one latency sample; ascending. */
async function pingSamples(session: RedisSession, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await pingOnce(session);
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b);
}

/**
 * Sends `count` PINGs one after the other (each a full round trip, so each is one latency sample),
 * then reads the server's version and role.
 */
export async function ping(session: RedisSession, count: number): Promise<PingReport> {
  const samples = await pingSamples(session, count);
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

/** One master in a cluster's {@link ClusterPingReport}; latencies `null` when it did not answer. */
export interface PingNodeReport {
  /** The master's address as the cluster announces it, credentials hidden. */
  readonly url: string;
  readonly id: string | null;
  readonly slots: number;
  readonly slotRanges: readonly SlotRange[];
  /** False when it could not be reached, or failed during the run: see `error`. */
  readonly ok: boolean;
  readonly error: string | null;
  readonly minMs: number | null;
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
  readonly version: string | null;
  readonly role: string | null;
  /** `cluster_state` as this master sees it; `null` when CLUSTER INFO is denied or it did not answer. */
  readonly clusterState: string | null;
}

/**
 * `ping` on a cluster: the {@link PingReport} fields over every master that answered (latencies of
 * all their samples, `role: 'cluster (3 masters)'`), the cluster's state, and one entry per master.
 */
export interface ClusterPingReport extends PingReport {
  readonly cluster: {
    /** `cluster_state` of the node given (`--url`). */
    readonly state: string | null;
    readonly slotsCovered: number;
    readonly masters: number;
    readonly reachable: number;
  };
  readonly nodes: PingNodeReport[];
  /** What makes the run exit 1, one sentence each; empty when healthy. */
  readonly problems: string[];
}

/** One master's PINGs, version, role and view of the cluster, or why it has none. */
async function pingMaster(run: ClusterRun, index: number, count: number) {
  const node = run.masters[index] as ClusterRun['masters'][number];
  const base = {
    url: node.safeUrl,
    id: node.master.id,
    slots: node.master.slots,
    slotRanges: node.master.ranges,
  };
  const failed = (error: CliError) => ({
    node: {
      ...base,
      ok: false,
      error: error.message,
      minMs: null,
      p50Ms: null,
      maxMs: null,
      version: null,
      role: null,
      clusterState: null,
    } satisfies PingNodeReport,
    samples: [] as number[],
  });
  if (node.session === undefined) return failed(node.error);
  const { session } = node;
  try {
    const samples = await pingSamples(session, count);
    const server = await readInfo(session, 'server');
    const replication = await readInfo(session, 'replication');
    const state: ClusterState = await readClusterState(session);
    const report: PingNodeReport = {
      ...base,
      ok: true,
      error: null,
      minMs: samples[0] ?? 0,
      p50Ms: quantile(samples, 0.5) ?? 0,
      maxMs: samples[samples.length - 1] ?? 0,
      version: server?.redis_version ?? null,
      role: describeRole(replication),
      clusterState: state.state,
    };
    return { node: report, samples };
  } catch (error) {
    if (error instanceof CliError) return failed(error);
    throw error;
  }
}

/** Why a cluster is not healthy, one sentence per kind of problem, each naming the nodes. */
function clusterProblems(
  report: Omit<ClusterPingReport, 'problems'>,
  unreachable: readonly PingNodeReport[],
): string[] {
  const problems: string[] = [];
  const each = (nodes: readonly PingNodeReport[]) =>
    nodes.map((node) => `${node.error} (slots ${formatRanges(node.slotRanges)})`).join('; ');
  if (unreachable.length > 0) {
    problems.push(`${unreachable.length} of ${report.nodes.length} cluster masters unreachable: ${each(unreachable)}`);
  }
  const failed = report.nodes.filter((node) => !node.ok && !unreachable.includes(node));
  if (failed.length > 0) {
    problems.push(`${failed.length} of ${report.nodes.length} cluster masters failed during the run: ${each(failed)}`);
  }
  const shown = (state: string | null) => printableKey(state ?? 'unknown', 64);
  if (report.cluster.state !== null && report.cluster.state !== 'ok') {
    problems.push(`cluster_state is ${shown(report.cluster.state)} on ${report.url}`);
  }
  const notOk = report.nodes.filter((node) => node.clusterState !== null && node.clusterState !== 'ok');
  if (notOk.length > 0) {
    problems.push(
      `cluster_state is not ok on ${notOk.map((node) => `${node.url} (${shown(node.clusterState)})`).join(', ')}`,
    );
  }
  if (report.cluster.slotsCovered < CLUSTER_SLOTS) {
    problems.push(`${CLUSTER_SLOTS - report.cluster.slotsCovered} of ${CLUSTER_SLOTS} slots are served by no master`);
  }
  // `unknown (INFO denied)` is no sign of a failover; `replica of ...` is.
  const demoted = report.nodes.filter((node) => node.role?.startsWith('replica of') === true);
  if (demoted.length > 0) {
    problems.push(
      `announced as masters but answering as ${demoted.map((node) => `${node.role} at ${node.url}`).join(', ')} (a failover under way?)`,
    );
  }
  return problems;
}

/** `ping` on every master of a cluster at once. */
export async function pingCluster(run: ClusterRun, count: number): Promise<ClusterPingReport> {
  const results = await Promise.all(run.masters.map((_, index) => pingMaster(run, index, count)));
  const nodes = results.map((result) => result.node);
  const samples = results.flatMap((result) => result.samples).sort((a, b) => a - b);
  const versions = [...new Set(nodes.flatMap((node) => (node.version === null ? [] : [node.version])))];
  const { topology } = run;
  const report = {
    url: run.safeUrl,
    count,
    minMs: samples[0] ?? 0,
    p50Ms: quantile(samples, 0.5) ?? 0,
    maxMs: samples[samples.length - 1] ?? 0,
    version: versions.length === 0 ? null : versions.join(', '),
    role: `cluster (${masters(nodes.length)})`,
    cluster: {
      state: topology.info.state,
      slotsCovered: topology.slotsCovered,
      masters: nodes.length,
      reachable: nodes.filter((node) => node.ok).length,
    },
    nodes,
  };
  // Those never connected to; the others that failed did so during the run.
  const unreachable = nodes.filter((_, i) => run.masters[i]?.session === undefined);
  return { ...report, problems: clusterProblems(report, unreachable) };
}

/** The text rendering of a {@link ClusterPingReport}: the cluster, then two lines per master. */
export function renderClusterPing(report: ClusterPingReport): string {
  const state =
    report.cluster.state === null ? 'unknown (CLUSTER INFO denied)' : printableKey(report.cluster.state, 64);
  const lines = [
    `Cluster via ${report.url}: cluster_state ${state}, ${report.cluster.slotsCovered} of ${CLUSTER_SLOTS} slots covered, ${masters(report.cluster.masters)} (${report.cluster.reachable} answering)`,
  ];
  for (const node of report.nodes) {
    const slots = `slots ${formatRanges(node.slotRanges)}`;
    if (!node.ok) {
      lines.push(`NO ANSWER from ${node.url} (${slots}): ${node.error}`);
      continue;
    }
    const version = node.version === null ? 'unknown (INFO denied)' : printableKey(node.version, 64);
    const nodeState = node.clusterState === null ? 'unknown' : printableKey(node.clusterState, 64);
    lines.push(`PONG from ${node.url}: redis ${version}, role ${node.role}, ${slots}, cluster_state ${nodeState}`);
    lines.push(
      `  ${report.count} pings: min ${formatLatency(node.minMs ?? 0)} ms, p50 ${formatLatency(node.p50Ms ?? 0)} ms, max ${formatLatency(node.maxMs ?? 0)} ms`,
    );
  }
  return lines.join('\n');
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
  $ REDIS_URL=rediss://:secret@cache.internal:6380 keyv-failsafe ping --count 20 --json
  $ keyv-failsafe ping --url redis://10.0.0.5:7000   # any node of a cluster: every master is pinged

On a cluster node, every master the cluster announces is pinged; the run exits 1 when one does not
answer, cluster_state is not ok, or some slot has no master.`,
    )
    .action(async (flags: PingFlags) => {
      const report = await withDeployment<PingReport | ClusterPingReport>(flags, new Budget(flags.maxTime), {
        standalone: (session) => ping(session, flags.count),
        cluster: (run) => pingCluster(run, flags.count),
      });
      if (!('nodes' in report)) return output(report, flags.json, renderPing);
      // The whole report first, so that the masters that answered are seen too; then the failure.
      output(report, flags.json, renderClusterPing);
      if (report.problems.length > 0) throw new CliError(report.problems.join('; '));
    });
  return command;
}
