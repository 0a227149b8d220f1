import { parseArgs } from 'node:util';

export interface RunOptions {
  readonly quick: boolean;
  /** Substring of a scenario name (case-insensitive); undefined runs all. */
  readonly filter: string | undefined;
  /** Print the report as JSON on stdout instead of the table. */
  readonly json: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: npx tsx benchmarks/run.ts [--quick] [--filter <substring>] [--json]

  --quick            1 KB payload only, short measurements, 100 k keys for the memory bound (< 60 s)
  --filter <text>    run only scenarios whose name contains <text>: memory path, redis get,
                     redis set, batch, degraded, memory bound
  --json             print latest.json's content on stdout instead of the table

Environment: REDIS_URL uses that server for the Redis-path scenarios instead of starting one
(it is never hung, killed or flushed; only this run's keys are deleted at the end).`;

export function parseRunOptions(argv: string[]): RunOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      filter: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  return { quick: values.quick, filter: values.filter, json: values.json, help: values.help };
}
