import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RedisServer } from '../../harness/redis-server.js';
import { TcpProxy } from '../../harness/tcp-proxy.js';
import { LIBRARY_NAMES, type LibraryName } from '../lib/libraries.js';
import { describeMachine } from '../lib/machine.js';
import { writeResults } from '../lib/report.js';
import { type Outcome, type Report, reportJson, reportMarkdown, textReport } from './report.js';
import type { Scenario, ScenarioName } from './scenarios.js';
import { ACTIONS, FULL, hardCapMs, QUICK, SCENARIO_NAMES, SCENARIOS, type Timings } from './scenarios.js';
import type { Job, ToChild, ToParent } from './worker.js';

/**
 * `npm run bench:resilience`: for every (scenario, library) pair, a fresh redis-server of our own
 * (and a TCP proxy in the proxied scenarios) and a fresh child process running worker.ts. The child
 * asks for server actions over IPC and this process carries them out, so that every server it
 * started dies here, whatever the child does (also on errors and Ctrl-C).
 */
const USAGE = `usage: npx tsx benchmarks/resilience/run.ts [--quick] [--only <library>[,…]] [--scenario <name>[,…]]
libraries: ${LIBRARY_NAMES.join(', ')}
scenarios: ${SCENARIO_NAMES.join(', ')}`;

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
// Exit on a signal, so that the 'exit' handlers (these children, the harness's servers) run.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

function pick<T extends string>(value: string | undefined, all: readonly T[], what: string): T[] {
  const names = value === undefined ? all : value.split(',').map((name) => name.trim());
  const unknown = names.find((name) => !all.includes(name as T));
  if (unknown !== undefined) throw new Error(`unknown ${what} ${JSON.stringify(unknown)}\n${USAGE}`);
  return names as T[];
}

/** One pair: its own server (and proxy), its own child, a hard cap on both. */
async function runPair(library: LibraryName, name: ScenarioName, timings: Timings): Promise<Outcome> {
  const scenario: Scenario = SCENARIOS[name];
  const { serverPassword: password, clientPassword = password } = scenario;
  const server = await RedisServer.create({ args: scenario.serverArgs ?? [], ...(password ? { password } : {}) });
  const [started, capMs] = [performance.now(), hardCapMs(timings)];
  let [proxy, timer, stderr, phase]: [TcpProxy?, NodeJS.Timeout?, string?, string?] = [];
  try {
    if (!scenario.startsDown) await server.restart();
    if (scenario.proxied) proxy = await TcpProxy.start(server.port);
    const libraryPort = proxy?.port ?? server.port;
    const job: Job = { library, scenario: name, port: server.port, libraryPort, clientPassword, timings };
    // The parent runs under tsx; the child needs its loader too, resolved from here, not from cwd.
    const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    children.add(child);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = `${stderr ?? ''}${chunk}`.slice(-2_000);
    });
    const failed = (error: string, durationMs = Math.round(performance.now() - started)): Outcome => {
      const harnessError = `${error} in phase ${phase ?? 'start'}`;
      return { library, scenario: name, harnessError, durationMs, stderrTail: stderr?.trim() ?? '' };
    };
    const target = { server, proxy, clientPassword, timings };
    const result = await new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve(failed(`killed at the ${capMs / 1000} s hard cap`, capMs)), capMs);
      child.once('exit', (code, signal) => resolve(failed(`child exited (${signal ?? code})`)));
      child.on('message', (message: ToParent) => {
        if (message.type === 'phase') phase = message.phase;
        const tail = stderr?.trim() ? { stderrTail: stderr.trim() } : {};
        if (message.type === 'result') resolve({ ...message.result, ...tail });
        if (message.type !== 'control') return;
        const done = (error?: unknown): void => {
          const reply: ToChild = { type: 'control-done', id: message.id };
          child.send(error ? { ...reply, error: String(error) } : reply);
        };
        Promise.resolve()
          .then(() => ACTIONS[message.action](target))
          .then(() => done(), done);
      });
      child.send({ type: 'job', job } satisfies ToChild);
    });
    child.kill('SIGKILL');
    children.delete(child);
    return result;
  } finally {
    clearTimeout(timer);
    await proxy?.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const [bool, text] = [{ type: 'boolean' }, { type: 'string' }] as const;
  const flags = { quick: bool, only: text, scenario: text, help: bool };
  const { values } = parseArgs({ options: flags });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const libraries = pick(values.only, LIBRARY_NAMES, 'library');
  const scenarios = pick(values.scenario, SCENARIO_NAMES, 'scenario');
  const filtered = values.only !== undefined || values.scenario !== undefined;
  const [timings, machine, started] = [values.quick ? QUICK : FULL, describeMachine(), performance.now()];
  const results: Outcome[] = [];
  for (const scenario of scenarios) {
    for (const library of libraries) {
      const pairStarted = performance.now();
      const result = await runPair(library, scenario, timings);
      results.push(result);
      const seconds = ((performance.now() - pairStarted) / 1000).toFixed(1);
      const error = 'harnessError' in result ? `  ${result.harnessError}` : '';
      process.stderr.write(`${scenario.padEnd(16)} ${library.padEnd(14)} ${seconds} s${error}\n`);
    }
  }
  const [mode, totalMs] = [values.quick ? 'quick' : 'full', Math.round(performance.now() - started)] as const;
  const filters = filtered ? { libraries, scenarios } : null;
  const report: Report = { mode, filters, machine, timings, totalMs, results };
  process.stdout.write(`\n${textReport(report)}\n\n`);
  // Only the full, unfiltered matrix is the committed report; a quick or filtered run must not replace it.
  const base = filtered || values.quick ? 'partial' : 'latest';
  const files = { [`${base}.md`]: reportMarkdown(report), [`${base}.json`]: reportJson(report) };
  const written = writeResults(fileURLToPath(new URL('./results', import.meta.url)), files);
  process.stdout.write(`written: ${written.join(', ')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
