/** Exit codes of the CLI: 0 ok, 1 the command failed at runtime (Redis unreachable...), 2 bad usage. */
export const EXIT_OK = 0;
/** The command was well formed but failed: connection refused, wrong password, timeout. */
export const EXIT_FAILURE = 1;
/** The command line was wrong: unknown option, bad `--url`, unreadable `--config`. */
export const EXIT_USAGE = 2;

/**
 * An error whose message is meant for the operator as it is (no stack trace), already free of
 * secrets, with the exit code it ends the process with.
 */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A mistake in the command line or the files it names: exit code 2. */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT_USAGE, options);
  }
}
