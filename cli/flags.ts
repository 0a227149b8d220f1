// Flags every command shares, and the parsers that turn their text into checked numbers.
import { type Command, InvalidArgumentError, Option } from 'commander';

/** The connection flags, as commander hands them to an action. */
export interface ConnectionFlags {
  /** `--url`, or `REDIS_URL` from the environment (keeps the password out of `ps` and shell history). */
  readonly url: string;
  /** `--connect-timeout`, ms. */
  readonly connectTimeout: number;
  /** `--timeout`, ms, per command. */
  readonly timeout: number;
  /** `--quiet`: no progress on stderr. */
  readonly quiet?: boolean;
}

/** A commander argument parser for an integer of at least `min`. */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return parsed;
  };
}

/** Adds `--url`, `--connect-timeout`, `--timeout` and `--quiet` to `command`. */
export function addConnectionFlags(command: Command): Command {
  return command
    .addOption(
      new Option('--url <url>', 'Redis URL, redis:// or rediss:// (credentials allowed; never printed)')
        .env('REDIS_URL')
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--connect-timeout <ms>', 'give up connecting after this long')
        .argParser(integerAtLeast(1))
        .default(2_000),
    )
    .addOption(
      new Option('--timeout <ms>', 'give up any single command (or pipelined batch) after this long')
        .argParser(integerAtLeast(1))
        .default(5_000),
    )
    .option('-q, --quiet', 'no progress lines on stderr');
}
