// The operator's CLI, `npx keyv-failsafe <command>`: read-only, bounded commands that replace
// `redis-cli KEYS`, `TTL` and guesswork about memory on a production Redis.
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { inspectCommand } from './commands/inspect.js';
import { pingCommand } from './commands/ping.js';
import { statsCommand } from './commands/stats.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.js';
import { printableText } from './format.js';
import { redactTyped } from './target.js';

/** The package version; `../package.json` is right both from `cli/` and from the bundle in `dist/`. */
function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Commander's own errors quote what was typed (`unknown option '--ulr=redis://:PASSWORD@host'`):
 * hide the credentials and escape the line before it reaches the terminal.
 */
function safeCommanderOutput(command: Command): Command {
  return command.configureOutput({
    outputError: (text, write) => write(text.split('\n').map(redactTyped).map(printableText).join('\n')),
  });
}

/** Builds the commander program with its three commands. */
export function createProgram(): Command {
  const program = new Command('keyv-failsafe')
    .description(
      'Inspect the Redis behind a keyv-failsafe TieredStore, safely: read-only, SCAN only, every wait bounded.',
    )
    .version(packageVersion())
    // Usage errors must end with exit code 2, not commander's 1: throw them to main instead of exiting.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 runtime failure (refused, wrong password, timeout, not a Redis server), 2 usage error.
The URL may come from REDIS_URL instead of --url, which keeps the password out of ps and shell history.

Examples:
  $ keyv-failsafe ping --url redis://127.0.0.1:6379
  $ keyv-failsafe inspect --url redis://127.0.0.1:6379 --match 'price:*' --config ./ttl.config.mjs
  $ keyv-failsafe stats --url redis://127.0.0.1:6379 --json`,
    );
  safeCommanderOutput(program);
  for (const command of [pingCommand(), inspectCommand(), statsCommand()]) {
    // Subcommands built apart from the program do not inherit its settings: give each the same.
    safeCommanderOutput(command.exitOverride().showHelpAfterError('(add --help for usage)'));
    program.addCommand(command);
  }
  return program;
}

/** Writes one `keyv-failsafe: ...` line to stderr, credentials hidden and escaped. */
function report(message: string): void {
  process.stderr.write(`keyv-failsafe: ${printableText(message)}\n`);
}

/**
 * What went wrong when it is not an operator's mistake (a bug, or a library that threw something
 * unforeseen): one line, as everywhere else; the stack only on request, as it may be long and
 * quote what was typed.
 */
function reportUnexpected(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  report(`unexpected error: ${redactTyped(message)} (set KEYV_FAILSAFE_DEBUG=1 for the stack trace)`);
  if (process.env.KEYV_FAILSAFE_DEBUG === '1' && error instanceof Error && error.stack !== undefined) {
    const lines = redactTyped(error.stack).split('\n').map(printableText);
    process.stderr.write(`${lines.join('\n')}\n`);
  }
}

/** Runs the CLI on `argv` (as `process.argv`) and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its message (or the help) already; --help and --version exit 0.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof CliError) {
      report(error.message);
      return error.exitCode;
    }
    reportUnexpected(error);
    return EXIT_FAILURE;
  }
}

/**
 * Ends the process once stdout and stderr are flushed, instead of waiting for the event loop to
 * empty: a socket or a timer left behind (a config module's, a half-closed connection) must not
 * keep a finished run alive.
 */
function exit(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

let finished = false;

/** Ends the process now, without the 'exit' listener's complaint below. */
function exitNow(code: number): never {
  finished = true;
  process.exit(code);
}

// A reader that went away (`keyv-failsafe inspect | head -1`) is not an error worth a stack trace.
process.stdout.on('error', () => exitNow(EXIT_OK));
// The event loop can empty while main still waits, e.g. for a config module whose top-level await
// never settles: Node would then exit 0 without a word.
process.on('exit', () => {
  if (finished) return;
  report('stopped before finishing: something it waited for (a --config module?) can never complete');
  process.exitCode = EXIT_FAILURE;
});
// The last net for a bug: one line and exit 1, never Node's stack dump.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    reportUnexpected(error);
    exitNow(EXIT_FAILURE);
  });
}

void main(process.argv).then((code) => {
  finished = true;
  process.exitCode = code;
  exit(code);
});
