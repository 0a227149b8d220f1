import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { describeMachine } from './machine.js';
import {
  type Job,
  LIBRARY_NAMES,
  type LibraryName,
  type PairResult,
  SCENARIO_NAMES,
  type ScenarioName,
  type Timings,
  type ToChild,
  type ToParent,
} from './protocol.js';
import { killAllRedisProcesses, RedisProcess } from './redis-process.js';
import { type Report, textTable, writeReport } from './report.js';
import { SCENARIOS } from './scenarios.js';
import { control } from './server-control.js';
import { FULL, hardCapMs, QUICK } from './timings.js';

/**
 * Orchestration: for every (scenario, library) pair, a fresh redis-server of our own and a fresh
 * child process running worker.ts. The child asks for server actions over IPC; this process carries
 * them out, so every server it started is killed here, whatever the child does.
 */

const USAGE = `usage: npx tsx benchmarks/resilience/run.ts [--quick] [--only <library>[,…]] [--scenario <name>[,…]]
libraries: ${LIBRARY_NAMES.join(', ')}
scenarios: ${SCENARIO_NAMES.join(', ')}`;

const RESULTS_DIR = fileURLToPath(new URL('./results', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** Bytes of a child's stderr kept for the report when something goes wrong. */
const STDERR_TAIL = 2_000;

function pick<T extends string>(value: string | undefined, all: readonly T[], what: string): T[] {
  if (value === undefined) return [...all];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(all as readonly string[]).includes(name))
      throw new Error(`unknown ${what} ${JSON.stringify(name)}\n${USAGE}`);
  }
  return names as T[];
}

const children = new Set<ChildProcess>();

function cleanUp(): void {
  for (const child of children) child.kill('SIGKILL');
  killAllRedisProcesses();
}

process.once('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: killing children and redis-servers\n`);
    process.exit(130);
  });
}

function emptyResult(
  library: LibraryName,
  scenario: ScenarioName,
  error: string,
  durationMs: number,
  stderrTail: string,
): PairResult {
  const calls = {
    made: 0,
    settled: 0,
    hung: 0,
    slow: 0,
    rejected: 0,
    writesReportedFailed: 0,
    latency: { p50Ms: null, p99Ms: null, maxMs: null },
  };
  return {
    library,
    scenario,
    harnessError: error,
    durationMs,
    calls,
    phases: { before: calls, outage: calls, after: calls },
    errorSamples: [],
    errorEvents: 0,
    unhandledRejections: 0,
    uncaughtExceptions: 0,
    recovery: { ms: null, probes: 0 },
    staleSameInstance: null,
    staleFreshInstance: null,
    circuit: null,
    libraryStats: null,
    stderrTail,
  };
}

/** Runs one pair: its own server (and proxy, if the scenario has one), its own child, a hard cap on both. */
async function runPair(library: LibraryName, scenarioName: ScenarioName, timings: Timings): Promise<PairResult> {
  const scenario = SCENARIOS[scenarioName];
  const server = await RedisProcess.create(scenario.serverArgs, scenario.serverPassword);
  const started = performance.now();
  let stderr = '';
  let lastPhase = 'start';
  let proxy: TcpProxy | undefined;
  try {
    if (!scenario.startsDown) await server.start();
    // The proxy lives here, next to the server, so the child's control messages reach it; it dies
    // with this process whatever happens.
    if (scenario.proxied) proxy = await TcpProxy.start(server.port);
    const proxyControl = proxy && { proxy, delayMs: timings.proxyDelayMs };
    const job: Job = {
      library,
      scenario: scenarioName,
      port: server.port,
      libraryPort: proxy?.port ?? server.port,
      clientPassword: scenario.clientPassword ?? scenario.serverPassword,
      // Once the outage is over, the server takes the password the client was given.
      probePassword: scenario.clientPassword ?? scenario.serverPassword,
      timings,
    };
    // The parent runs under tsx; the child needs its loader too, resolved from here, not from cwd.
    const child = fork(WORKER, [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    children.add(child);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    const result = await new Promise<PairResult>((resolve) => {
      const capMs = hardCapMs(timings);
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(
          emptyResult(
            library,
            scenarioName,
            `killed at the ${capMs / 1000} s hard cap in phase ${lastPhase}`,
            capMs,
            stderr,
          ),
        );
      }, capMs);
      child.on('message', (message: ToParent) => {
        if (message.type === 'phase') lastPhase = message.phase;
        else if (message.type === 'result') {
          clearTimeout(timer);
          resolve(stderr.trim() === '' ? message.result : { ...message.result, stderrTail: stderr.trim() });
        } else if (message.type === 'control') {
          control(server, message.action, job.clientPassword, proxyControl).then(
            () => child.send({ type: 'control-done', id: message.id } satisfies ToChild),
            (error: unknown) =>
              child.send({ type: 'control-done', id: message.id, error: String(error) } satisfies ToChild),
          );
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const elapsed = Math.round(performance.now() - started);
        resolve(
          emptyResult(library, scenarioName, `child exited (${signal ?? code}) in phase ${lastPhase}`, elapsed, stderr),
        );
      });
      child.send({ type: 'job', job } satisfies ToChild);
    });
    child.kill('SIGKILL');
    children.delete(child);
    return result;
  } finally {
    await proxy?.close();
    await server.dispose();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      scenario: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const libraries = pick(values.only, LIBRARY_NAMES, 'library');
  const scenarios = pick(values.scenario, SCENARIO_NAMES, 'scenario');
  const filtered = values.only !== undefined || values.scenario !== undefined;
  const timings = values.quick ? QUICK : FULL;
  const machine = describeMachine();
  const started = performance.now();
  const results: PairResult[] = [];
  for (const scenario of scenarios) {
    for (const library of libraries) {
      const pairStarted = performance.now();
      const result = await runPair(library, scenario, timings);
      results.push(result);
      const seconds = ((performance.now() - pairStarted) / 1000).toFixed(1);
      process.stderr.write(
        `${scenario.padEnd(16)} ${library.padEnd(14)} ${seconds} s${result.harnessError ? `  ${result.harnessError}` : ''}\n`,
      );
    }
  }
  const report: Report = {
    mode: values.quick ? 'quick' : 'full',
    filters: filtered ? { libraries, scenarios } : null,
    machine,
    timings,
    totalMs: Math.round(performance.now() - started),
    results,
  };
  process.stdout.write(`\n${textTable(report)}\n\n`);
  // Only the full, unfiltered matrix is the committed report; a quick or filtered run must not replace it.
  const written = writeReport(RESULTS_DIR, filtered || values.quick ? 'partial' : 'latest', report);
  process.stdout.write(`written: ${written.join(', ')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
