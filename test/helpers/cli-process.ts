// The operator CLI as an operator runs it: bundled from the sources once per test file, then spawned
// as a child process for each run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('../..', import.meta.url).pathname;

/** One run of the CLI. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time from spawn to exit. */
  readonly ms: number;
}

/**
 * Bundles the CLI from the sources to `outfile`, with esbuild as `scripts/build.mjs` does, but
 * self-contained: no `npm run build` needed, and each run starts in about 0.2 s instead of about
 * 1 s through tsx, which on 2 cores is most of a CLI test file's runtime.
 */
export async function bundleCli(outfile: string): Promise<void> {
  await build({
    entryPoints: [join(root, 'cli/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    // Bundled CommonJS dependencies (commander) call require(); ESM output has none of its own.
    banner: {
      js: "import { createRequire as bannerRequire } from 'node:module'; const require = bannerRequire(import.meta.url);",
    },
  });
}

/**
 * Runs the bundled CLI with `args`, without any REDIS_URL around (`extraEnv` added). A CLI that
 * hangs is killed after 15 s, and its exit code (null) fails the test that ran it.
 */
export async function spawnCli(
  bundle: string,
  args: readonly string[],
  extraEnv: Record<string, string> = {},
): Promise<CliRun> {
  const { REDIS_URL: _ignored, ...inherited } = process.env;
  const env = { ...inherited, ...extraEnv };
  const started = Date.now();
  const child = spawn(process.execPath, [bundle, ...args], { cwd: root, env });
  let stdout = '';
  let stderr = '';
  // Decoded as a stream, so that a character split across two chunks is not mistaken for U+FFFD.
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(killer);
  return { code, stdout, stderr, ms: Date.now() - started };
}
