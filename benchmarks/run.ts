import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@keyv/redis';
import { RedisServer, redisServerVersion } from '../harness/redis-server.js';
import { describeMachine } from './lib/machine.js';
import { Cleanup, describeError, timerOverheadNs as measureTimerOverhead } from './lib/measure.js';
import { batches } from './scenarios/batches.js';
import { cluster } from './scenarios/cluster.js';
import { degraded } from './scenarios/degraded.js';
import { farRedis } from './scenarios/far-redis.js';
import { getOrSet } from './scenarios/get-or-set.js';
import { invalidationLag } from './scenarios/lag.js';
import { type Link, parseLinks } from './scenarios/links.js';
import { memoryBound } from './scenarios/memory-bound.js';
import { memoryPath, redisGet, redisSet } from './scenarios/paths.js';
import { applyRatios, consoleTable, headlines, type Report, writeReport } from './scenarios/report.js';
import { ALL_PAYLOADS } from './scenarios/runner.js';
import type { BenchContext, Findings, Row, Scenario, Skip } from './scenarios/types.js';

/** `npm run bench`: the memory path against the Redis path, side by side with the neighbours. */
const USAGE = `Usage: npx tsx benchmarks/run.ts [--quick] [--filter <substring>] [--rtt <links>] [--json]

  --quick            1 KB payload only, short measurements, 100 k keys for the memory bound,
                     Redis 1 ms away only (< 60 s)
  --filter <text>    run only scenarios whose name contains <text>: memory path, redis get,
                     redis set, batch, cluster, invalidation lag, getOrSet, degraded, memory bound, rtt
  --rtt <links>      where the rtt scenario puts Redis, e.g. 1ms,5ms or loopback,5ms~1ms (jitter:
                     0 to 1 ms more each way), through a delaying TCP proxy; alone, it runs only the
                     rtt scenario. Default: loopback,1ms,5ms (full), 1ms (--quick)
  --json             print latest.json's content on stdout instead of the table

Environment: REDIS_URL uses that server for the Redis-path scenarios instead of starting one
(it is never hung, killed or flushed; only this run's keys are deleted at the end).`;

const RESULTS = join(import.meta.dirname, 'results');
// Memory bound first, so that its RSS figures are not inflated by what earlier scenarios left behind.
const SCENARIOS = [
  memoryBound,
  memoryPath,
  redisGet,
  redisSet,
  batches,
  cluster,
  invalidationLag,
  getOrSet,
  farRedis,
  degraded,
];
const progress = (line: string): void => void process.stderr.write(`${line}\n`);
/** Payloads, rounds per row and one measurement's warm-up, duration and sample floor, full and `--quick`. */
const FULL = { payloads: ALL_PAYLOADS, rounds: 5, timing: { warmupMs: 300, durationMs: 1_000, minOps: 200 } };
const QUICK = { payloads: ['1KB' as const], rounds: 2, timing: { warmupMs: 50, durationMs: 150, minOps: 50 } };
/** Where the rtt scenario puts Redis unless `--rtt` says: the full run's three columns, the quick run's one. */
const LINKS = { full: 'loopback,1ms,5ms', quick: '1ms' };

/** Unlinks the keys this run wrote to a server that is not ours (REDIS_URL), by their run-id pattern. */
async function deleteOwnKeys(url: string, runId: string): Promise<number> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  let deleted = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `*${runId}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await client.unlink(keys);
    }
  } finally {
    client.destroy();
  }
  return deleted;
}

/** What a scenario's `requires` means, and why it is skipped without it. */
const NEEDS = {
  redis: ['redisUrl', 'needs a Redis server: redis-server is not on the PATH and REDIS_URL is unset'],
  'own-redis': ['canStartRedis', 'needs redis-server on the PATH: it hangs (SIGSTOP) a server of its own'],
} as const;

/** Runs the scenarios one after the other, each with its own bounded clean-up; a failure is reported, not fatal. */
async function runScenarios(context: BenchContext, selected: readonly Scenario[]) {
  const [rows, findings, sections, skipped, failures] = [[] as Row[], {} as Findings, {}, [] as Skip[], [] as string[]];
  for (const [index, scenario] of selected.entries()) {
    const [need, reason] = scenario.requires ? NEEDS[scenario.requires] : [];
    const label = `[${index + 1}/${selected.length}] ${scenario.name}`;
    if (need !== undefined && !context[need]) {
      skipped.push({ scenario: scenario.name, reason: reason as string });
      progress(`${label}: SKIPPED, ${reason}`);
      continue;
    }
    progress(label);
    const [started, cleanup] = [performance.now(), new Cleanup()];
    try {
      const result = await scenario.run(context, cleanup);
      rows.push(...result.rows);
      Object.assign(findings, result.findings);
      Object.assign(sections, result.sections);
    } catch (error) {
      failures.push(`${scenario.name}: ${(error as Error)?.stack ?? String(error)}`);
      progress(`  ${scenario.name} FAILED: ${describeError(error)}`);
    }
    const stuck = await cleanup.run();
    if (stuck.length > 0) progress(`  cleanup of ${scenario.name} did not finish: ${stuck.join(', ')}`);
    progress(`  ${scenario.name} done in ${((performance.now() - started) / 1e3).toFixed(1)} s`);
  }
  return { rows, findings, sections, skipped, failures };
}

async function main(): Promise<number> {
  const flags = { quick: { type: 'boolean' }, filter: { type: 'string' }, rtt: { type: 'string' } } as const;
  const { values: options } = parseArgs({
    options: { ...flags, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [quick, started, startedAt] = [options.quick === true, performance.now(), new Date()];
  // `--rtt` alone asks for the far-Redis rows: the other scenarios would only make the wait longer.
  const filter = options.filter ?? (options.rtt === undefined ? undefined : 'rtt');
  let links: Link[];
  try {
    links = parseLinks(options.rtt ?? (quick ? LINKS.quick : LINKS.full));
  } catch (error) {
    progress(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const version = redisServerVersion();
  // REDIS_URL: a shared server, never hung, killed or flushed. Else one of ours, if redis-server is there.
  const shared = process.env.REDIS_URL || undefined;
  const owned = shared || version === undefined ? undefined : await RedisServer.start();
  const redisUrl = shared ?? owned?.url;
  const none = 'none: redis-server is not on the PATH and REDIS_URL is unset';
  const ours = owned && `started by the benchmark on port ${owned.port}`;
  const redis = shared ? 'REDIS_URL (shared; not hung, killed or flushed)' : (ours ?? none);
  const settings = quick ? QUICK : FULL;
  const [runId, where] = [`${process.pid.toString(36)}${Date.now().toString(36)}`, { redisIsOurs: !!owned }];
  const context: BenchContext = {
    ...settings,
    ...where,
    quick,
    links,
    redisUrl,
    canStartRedis: !!version,
    runId,
    progress,
  };
  progress(`keyv-failsafe bench${quick ? ' --quick' : ''}: payloads ${settings.payloads.join(', ')}; Redis: ${redis}`);
  const timerOverheadNs = await measureTimerOverhead();
  const selected = SCENARIOS.filter((s) => !filter || s.name.toLowerCase().includes(filter.toLowerCase()));
  const { sections, ...outcome } = await runScenarios(context, selected);
  if (selected.length === 0) outcome.failures.push(`--filter "${filter}" matches no scenario`);
  const deleted = shared && (await deleteOwnKeys(shared, runId).catch(() => -1));
  if (shared) progress(`deleted ${deleted} keys this run wrote to REDIS_URL`);
  await owned?.stop();

  applyRatios(outcome.rows);
  const machine = describeMachine(version ?? (redisUrl ? 'unknown (REDIS_URL)' : 'not installed'));
  const [wallSeconds, when] = [(performance.now() - started) / 1e3, startedAt.toISOString()];
  const timing = { ...settings.timing, rounds: settings.rounds, timerOverheadNs };
  const heads = headlines(outcome.rows, outcome.findings, settings.payloads);
  const run = { startedAt: when, wallSeconds, quick, filter, redis, machine, payloads: settings.payloads };
  const report: Report = { ...run, ...outcome, headlines: heads, timing };
  // A quick (CI's) or filtered run must not overwrite the committed results of a full run.
  const files = writeReport(quick || filter ? join(RESULTS, 'quick') : RESULTS, report, sections);
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${consoleTable(report.rows)}\n`);
  for (const skip of report.skipped) progress(`skipped ${skip.scenario}: ${skip.reason}`);
  for (const failure of report.failures) progress(`FAILED ${failure.split('\n')[0]}`);
  progress(`wrote ${files.join(', ')} in ${wallSeconds.toFixed(1)} s total`);
  return report.failures.length > 0 ? 1 : 0;
}

// Exit on a signal, so that the harness's 'exit' handler kills every server this run started.
process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
main().then(
  (code) => {
    process.exitCode = code;
    // If a neighbour still holds a socket or a reconnect timer, do not hang the terminal or CI on
    // it; unref'd, so that a clean exit is not delayed.
    setTimeout(() => {
      progress('some handle was still open 3 s after the results were written; exiting');
      process.exit(code);
    }, 3_000).unref();
  },
  (error: unknown) => {
    progress(`${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  },
);
