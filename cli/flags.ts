// Flags every command shares, and the parsers that turn their text into checked values.
import { type Command, InvalidArgumentError, Option } from 'commander';

/** The connection flags, as commander hands them to an action. */
export interface ConnectionFlags {
  /** `--url`, or `REDIS_URL` from the environment (keeps the password out of `ps` and shell history). */
  readonly url: string;
  /** `--connect-timeout`, ms. */
  readonly connectTimeout: number;
  /** `--timeout`, ms, per command. */
  readonly timeout: number;
  /** `--max-time`, ms, for the whole run. */
  readonly maxTime: number;
  /** `--quiet`: no progress on stderr. */
  readonly quiet?: boolean;
}

/** Longest wait any time flag accepts: a day. Past 2^31 - 1 ms, Node's timers would fire at once. */
export const MAX_MS = 86_400_000;

/**
 * A commander argument parser for a decimal integer from `min` to `max`: no sign, no exponent, no
 * fraction, no hex, nothing empty. `max` keeps a typo from meaning "wait 30 years" or "hold a
 * billion keys in memory".
 */
export function integerInRange(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d{1,16}$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return parsed;
  };
}

/** A commander argument parser for a string that must not be empty (`what` says what it is). */
export function nonEmpty(what: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError(`expected ${what}, not an empty string`);
    return value;
  };
}

/** Adds `--url`, `--connect-timeout`, `--timeout`, `--max-time` and `--quiet` to `command`. */
export function addConnectionFlags(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--url <url>',
        'Redis URL: redis://, rediss://, valkey:// or valkeys:// (credentials allowed; never printed)',
      )
        .env('REDIS_URL')
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--connect-timeout <ms>', 'give up connecting after this long')
        .argParser(integerInRange(1, MAX_MS))
        .default(2_000),
    )
    .addOption(
      new Option('--timeout <ms>', 'give up any single command (or pipelined batch) after this long')
        .argParser(integerInRange(1, MAX_MS))
        .default(5_000),
    )
    .addOption(
      new Option('--max-time <ms>', 'give up the whole run (config, connect, every command) after this long')
        .argParser(integerInRange(1, MAX_MS))
        .default(60_000),
    )
    .option('-q, --quiet', 'no progress lines on stderr');
}

/** Most keys `--limit` / `--max-keys` accept: each is held in memory with its TTL and size. */
export const MAX_KEYS = 1_000_000;

/** Most SCAN calls `--max-scan-calls` accepts: 5 billion keys at 500 a call. */
export const MAX_SCAN_CALLS = 10_000_000;

/** Adds what `inspect` and `stats` share: `--namespace`, `--max-scan-calls`, `--config` and `--json`. */
export function addScanFlags(command: Command): Command {
  return command
    .option('--namespace <name>', "Keyv namespace ('' for keys without a prefix)", 'keyv')
    .addOption(
      new Option(
        '--max-scan-calls <n>',
        'give up a SCAN pass that is not over after this many calls (default: 1000 + 2 x DBSIZE / 500)',
      ).argParser(integerInRange(1, MAX_SCAN_CALLS)),
    )
    .addOption(
      new Option(
        '-c, --config <file>',
        'ES module (or .json) with the { categories, rules } given to TieredStore({ ttl })',
      ).argParser(nonEmpty('a file name')),
    )
    .option('--json', 'print the report as JSON');
}
