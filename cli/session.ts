// Runs a command's body with a connected session (or one per cluster master), closing them whatever
// happens, and writes reports.
import { CLUSTER_SLOTS, type ClusterMaster, type ClusterTopology, discoverCluster, formatRanges } from './cluster.js';
import { loadConfig } from './config.js';
import { connect, type RedisSession } from './connect.js';
import { Budget } from './deadline.js';
import { CliError } from './errors.js';
import type { ConnectionFlags } from './flags.js';
import { printableKey, printableText, safeJson } from './format.js';
import type { Categorizer } from './keys.js';
import { type Progress, silentProgress, streamProgress } from './progress.js';
import { parseRedisUrl, printableUrl } from './target.js';

/**
 * Writes a report to stdout: JSON with `--json` (see {@link safeJson}), the text rendering
 * otherwise. Every value in a rendering went through `printableKey` already; each line goes
 * through {@link printableText} as well, so that nothing a server sent can reach the terminal raw.
 */
export function output<T>(report: T, json: boolean | undefined, render: (report: T) => string): void {
  const text = json ? safeJson(report) : render(report).split('\n').map(printableText).join('\n');
  process.stdout.write(`${text}\n`);
}

/** A cluster master and its session, or why there is none. */
export type MasterSession =
  | { readonly master: ClusterMaster; readonly safeUrl: string; readonly session: RedisSession; readonly error?: never }
  | { readonly master: ClusterMaster; readonly safeUrl: string; readonly session?: never; readonly error: CliError };

/** A run against a cluster: what the node given announced, and a session per master. */
export interface ClusterRun {
  /** The `--url` as it may be printed. */
  readonly safeUrl: string;
  readonly topology: ClusterTopology;
  /** In the topology's order (by first slot). */
  readonly masters: readonly MasterSession[];
}

/** How a command runs: on one server (standalone, or any server that is not a cluster node), or on a cluster. */
export interface Bodies<T> {
  readonly standalone: (session: RedisSession) => Promise<T>;
  readonly cluster: (run: ClusterRun) => Promise<T>;
}

/** Opens a session to every master at once, each bounded as the first one was; a failure is kept, not thrown. */
async function connectMasters(
  flags: ConnectionFlags,
  budget: Budget,
  masters: readonly ClusterMaster[],
): Promise<MasterSession[]> {
  const settled = await Promise.allSettled(
    masters.map((master) =>
      connect({ url: master.url, connectTimeoutMs: flags.connectTimeout, commandTimeoutMs: flags.timeout, budget }),
    ),
  );
  const unexpected = settled.find((outcome) => outcome.status === 'rejected' && !(outcome.reason instanceof CliError));
  if (unexpected !== undefined) {
    await Promise.all(settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.close() : undefined)));
    throw (unexpected as PromiseRejectedResult).reason;
  }
  return settled.map((outcome, i) => {
    const master = masters[i] as ClusterMaster;
    // `redis://***@10.0.0.5:6379`, as every URL the CLI prints.
    const safeUrl = printableUrl(master.url);
    return outcome.status === 'fulfilled'
      ? { master, safeUrl, session: outcome.value }
      : { master, safeUrl, error: outcome.reason as CliError };
  });
}

/**
 * The one-line error for masters that could not be reached: each one's own message (which names
 * it) and the slots it serves.
 */
export function unreachableMessage(run: ClusterRun): string | undefined {
  const failed = run.masters.filter((node) => node.error !== undefined);
  if (failed.length === 0) return undefined;
  const each = failed.map((node) => `${node.error?.message} (slots ${formatRanges(node.master.ranges)})`);
  return `${failed.length} of ${run.masters.length} cluster masters unreachable: ${each.join('; ')}`;
}

/** The sessions of every master, or a one-line error naming those that could not be reached. */
export function everyMaster(run: ClusterRun): RedisSession[] {
  const message = unreachableMessage(run);
  if (message !== undefined) throw new CliError(message);
  return run.masters.map((node) => node.session as RedisSession);
}

/**
 * Connects to `flags.url` and runs `bodies.standalone` on it, or, when it is a node of a Redis
 * Cluster, finds every master from it, closes it, connects to each master (the same credentials
 * and scheme, the same bounds, all within `budget`) and runs `bodies.cluster`. Every connection is
 * closed whatever happens.
 */
export async function withDeployment<T>(flags: ConnectionFlags, budget: Budget, bodies: Bodies<T>): Promise<T> {
  const seed = await connect({
    url: flags.url,
    connectTimeoutMs: flags.connectTimeout,
    commandTimeoutMs: flags.timeout,
    budget,
  });
  let topology: ClusterTopology | undefined;
  try {
    topology = await discoverCluster(seed, flags.url);
    if (topology === undefined) return await bodies.standalone(seed);
  } finally {
    // Closed before the masters are opened: one of them is likely the same server.
    await seed.close();
  }
  const masters = await connectMasters(flags, budget, topology.masters);
  try {
    return await bodies.cluster({ safeUrl: seed.safeUrl, topology, masters });
  } finally {
    await Promise.all(masters.map((node) => node.session?.close()));
  }
}

/** A cluster's state in a report: as the node given sees it. */
export interface ClusterSummary {
  /** `cluster_state` (`ok`, `fail`) of the node given; `null` when CLUSTER INFO is denied. */
  readonly state: string | null;
  /** Slots some master serves, of 16384. */
  readonly slotsCovered: number;
  readonly masters: number;
}

/** The {@link ClusterSummary} of a run. */
export function clusterSummary(run: ClusterRun): ClusterSummary {
  return { state: run.topology.info.state, slotsCovered: run.topology.slotsCovered, masters: run.masters.length };
}

/** `3 masters`, `1 master`. */
export function masters(count: number): string {
  return `${count} ${count === 1 ? 'master' : 'masters'}`;
}

/** `Cluster: cluster_state ok, 16384 of 16384 slots covered, 3 masters.` */
export function clusterLine(summary: ClusterSummary): string {
  const state = summary.state === null ? 'unknown (CLUSTER INFO denied)' : printableKey(summary.state, 64);
  return `Cluster: cluster_state ${state}, ${summary.slotsCovered} of ${CLUSTER_SLOTS} slots covered, ${masters(summary.masters)}.`;
}

/** The flags every scanning command (`stats`, `inspect`) has beside the connection's. */
export interface ScanCommandFlags extends ConnectionFlags {
  readonly config?: string;
  readonly json?: boolean;
}

/** What a scanning command runs and how it writes the result, on one server and on a cluster. */
export interface ScanCommand<O, S, C> {
  readonly standalone: (session: RedisSession, options: O) => Promise<S>;
  readonly cluster: (run: ClusterRun, options: O) => Promise<C>;
  readonly render: (report: S) => string;
  readonly renderCluster: (report: C) => string;
}

/**
 * The body of `stats` and `inspect`: the URL checked before a `--config` module runs, the module
 * loaded within `--max-time`, progress on stderr unless `--quiet` (cleared however the run ends, so
 * that an error starts on a line of its own), one server or every master of a cluster, the report
 * written.
 * @param options the command's options, given the categorizer of `--config` and the progress line.
 */
export async function runScanCommand<O, S, C>(
  flags: ScanCommandFlags,
  options: (categorize: Categorizer | undefined, progress: Progress) => O,
  command: ScanCommand<O, S, C>,
): Promise<void> {
  // A bad URL is reported before a config module is run.
  parseRedisUrl(flags.url);
  const budget = new Budget(flags.maxTime);
  const categorize = flags.config === undefined ? undefined : await loadConfig(flags.config, budget);
  const progress = flags.quiet ? silentProgress : streamProgress(process.stderr);
  const chosen = options(categorize, progress);
  const write = await withDeployment<() => void>(flags, budget, {
    standalone: async (session) => {
      const report = await command.standalone(session, chosen);
      return () => output(report, flags.json, command.render);
    },
    cluster: async (run) => {
      const report = await command.cluster(run, chosen);
      return () => output(report, flags.json, command.renderCluster);
    },
  }).finally(() => progress.done());
  write();
}
