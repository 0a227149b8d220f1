// The operator's CLI, `npx keyv-failsafe <command>`: read-only, bounded commands that replace
// `redis-cli KEYS`, `TTL` and guesswork about memory on a production Redis.
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { inspectCommand } from './commands/inspect.js';
import { pingCommand } from './commands/ping.js';
import { statsCommand } from './commands/stats.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.js';

/** The package version; `../package.json` is right both from `cli/` and from the bundle in `dist/`. */
function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
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
Exit codes: 0 ok, 1 runtime failure (refused, wrong password, timeout), 2 usage error.
The URL may come from REDIS_URL instead of --url, which keeps the password out of ps and shell history.

Examples:
  $ keyv-failsafe ping --url redis://127.0.0.1:6379
  $ keyv-failsafe inspect --url redis://127.0.0.1:6379 --match 'price:*' --config ./ttl.config.mjs
  $ keyv-failsafe stats --url redis://127.0.0.1:6379 --json`,
    );
  for (const command of [pingCommand(), inspectCommand(), statsCommand()]) {
    // Subcommands built apart from the program do not inherit its settings: give each the same.
    command.exitOverride().showHelpAfterError('(add --help for usage)');
    program.addCommand(command);
  }
  return program;
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
      process.stderr.write(`keyv-failsafe: ${error.message}\n`);
      return error.exitCode;
    }
    // A bug, not an operator mistake: keep the stack to report it. URLs are never in our stacks.
    process.stderr.write(`keyv-failsafe: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`);
    return EXIT_FAILURE;
  }
}

process.exitCode = await main(process.argv);
