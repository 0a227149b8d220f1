import { join } from 'node:path';
import { parseRunOptions, USAGE } from './lib/args.js';
import { Cleanup } from './lib/cleanup.js';
import type { BenchContext, Scenario } from './lib/context.js';
import { headlines } from './lib/headline.js';
import { timerOverheadNs } from './lib/histogram.js';
import { describeMachine } from './lib/machine.js';
import { allPayloads } from './lib/payloads.js';
import { applyRatios } from './lib/ratios.js';
import { deleteKeysMatching, OwnedRedis, redisServerVersion } from './lib/redis.js';
import { consoleTable, type Report, writeReport } from './lib/report.js';
import { latencyChart } from './lib/svg.js';
import type { Findings, PayloadName, Row, Skip } from './lib/types.js';
import { batches } from './scenarios/batches.js';
import { degraded } from './scenarios/degraded.js';
import { memoryBound } from './scenarios/memory-bound.js';
import { memoryPath } from './scenarios/memory-path.js';
import { redisGet, redisSet } from './scenarios/redis-path.js';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(import.meta.dirname, 'results');
// Memory bound first, so that its RSS figures are not inflated by what earlier scenarios left behind.
const SCENARIOS: readonly Scenario[] = [memoryBound, memoryPath, redisGet, redisSet, batches, degraded];

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Which server the Redis scenarios use, and why a scenario that needs one may have to be skipped. */
async function chooseRedis(version: string | undefined): Promise<{ url?: string; owned?: OwnedRedis; label: string }> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, label: 'REDIS_URL (shared; not hung, killed or flushed)' };
  if (version === undefined) return { label: 'none: redis-server is not on the PATH and REDIS_URL is unset' };
  const owned = await OwnedRedis.start();
  return { url: owned.url, owned, label: `started by the benchmark on port ${owned.port}` };
}

function skipReason(scenario: Scenario, redisUrl: string | undefined, canStartRedis: boolean): string | undefined {
  if (scenario.requires === 'redis' && redisUrl === undefined) {
    return 'needs a Redis server: redis-server is not on the PATH and REDIS_URL is unset';
  }
  if (scenario.requires === 'own-redis' && !canStartRedis) {
    return 'needs redis-server on the PATH: it hangs (SIGSTOP) a server of its own, never REDIS_URL';
  }
  return undefined;
}

async function main(): Promise<number> {
  const options = parseRunOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const wallStarted = performance.now();
  const startedAt = new Date().toISOString();
  const version = redisServerVersion();
  const redis = await chooseRedis(version);
  const globalCleanup = new Cleanup();
  if (redis.owned) globalCleanup.add('shared redis-server', () => redis.owned?.kill());
  const payloads: readonly PayloadName[] = options.quick ? ['1KB'] : allPayloads;
  const timing = options.quick
    ? { warmupMs: 50, durationMs: 150, minOps: 50 }
    : { warmupMs: 300, durationMs: 1_000, minOps: 200 };
  const rounds = options.quick ? 2 : 5;
  const runId = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const context: BenchContext = {
    quick: options.quick,
    payloads,
    timing,
    rounds,
    redisUrl: redis.url,
    redisIsOurs: redis.owned !== undefined,
    canStartRedis: version !== undefined,
    runId,
    progress,
  };
  progress(
    `keyv-failsafe bench${options.quick ? ' --quick' : ''}: payloads ${payloads.join(', ')}; Redis: ${redis.label}`,
  );
  const overheadNs = await timerOverheadNs();

  const rows: Row[] = [];
  const findings: Findings = {};
  const skipped: Skip[] = [];
  const failures: string[] = [];
  const selected = SCENARIOS.filter(
    (s) => options.filter === undefined || s.name.toLowerCase().includes(options.filter.toLowerCase()),
  );
  if (selected.length === 0) failures.push(`--filter "${options.filter}" matches no scenario`);
  for (const [index, scenario] of selected.entries()) {
    const reason = skipReason(scenario, redis.url, context.canStartRedis);
    if (reason !== undefined) {
      skipped.push({ scenario: scenario.name, reason });
      progress(`[${index + 1}/${selected.length}] ${scenario.name}: SKIPPED, ${reason}`);
      continue;
    }
    progress(`[${index + 1}/${selected.length}] ${scenario.name}`);
    const started = performance.now();
    const cleanup = new Cleanup();
    try {
      const result = await scenario.run(context, cleanup);
      rows.push(...result.rows);
      Object.assign(findings, result.findings);
      skipped.push(...(result.skipped ?? []));
    } catch (error) {
      failures.push(`${scenario.name}: ${(error as Error)?.stack ?? String(error)}`);
      progress(`  ${scenario.name} FAILED: ${(error as Error)?.message ?? String(error)}`);
    } finally {
      const stuck = await cleanup.run();
      if (stuck.length > 0) progress(`  cleanup of ${scenario.name} did not finish: ${stuck.join(', ')}`);
    }
    progress(`  ${scenario.name} done in ${((performance.now() - started) / 1e3).toFixed(1)} s`);
  }

  if (redis.url !== undefined && redis.owned === undefined) {
    const deleted = await deleteKeysMatching(redis.url, `*${runId}*`).catch(() => -1);
    progress(`deleted ${deleted} keys this run wrote to REDIS_URL`);
  }
  const stuck = await globalCleanup.run();
  if (stuck.length > 0) failures.push(`cleanup did not finish: ${stuck.join(', ')}`);

  applyRatios(rows);
  const machine = describeMachine(ROOT, version ?? (redis.url ? 'unknown (REDIS_URL)' : 'not installed'));
  const report: Report = {
    startedAt,
    wallSeconds: (performance.now() - wallStarted) / 1e3,
    quick: options.quick,
    filter: options.filter,
    redis: redis.label,
    timing: { ...timing, rounds, timerOverheadNs: overheadNs },
    machine,
    payloads,
    headlines: headlines(rows, findings, payloads),
    rows,
    findings,
    skipped,
    failures,
  };
  const chartPayload: PayloadName = payloads.includes('1KB') ? '1KB' : (payloads[0] as PayloadName);
  const svg = latencyChart(
    rows,
    chartPayload,
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, redis-server ${machine.redisServer}, ${startedAt.slice(0, 10)}${options.quick ? ', quick run' : ''}`,
  );
  // A quick run (CI's) must not overwrite the committed results of a full run.
  const files = writeReport(options.quick ? join(RESULTS, 'quick') : RESULTS, report, svg);
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${consoleTable(rows)}\n`);
  for (const skip of skipped) progress(`skipped ${skip.scenario}: ${skip.reason}`);
  for (const failure of failures) progress(`FAILED ${failure.split('\n')[0]}`);
  progress(`wrote ${files.join(', ')} in ${report.wallSeconds.toFixed(1)} s total`);
  return failures.length > 0 ? 1 : 0;
}

process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

main().then(
  (code) => {
    process.exitCode = code;
    // Everything was disconnected; if a neighbour still holds a socket or a reconnect timer, do not
    // hang the terminal or CI on it. Unref'd: a clean exit is not delayed.
    setTimeout(() => {
      process.stderr.write('some handle was still open 3 s after the results were written; exiting\n');
      process.exit(code);
    }, 3_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
