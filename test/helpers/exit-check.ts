import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** How a child process that ran a script ended. */
export interface ScriptExit {
  /** The exit code; `null` when it was killed (it did not exit on its own within the timeout). */
  readonly code: number | null;
  /** Everything it printed on stdout. */
  readonly out: string;
  readonly err: string;
  /**
   * Milliseconds from its last line on stdout to its exit: how long the process stayed alive after
   * its script ended (a socket or a ref'd timer left behind keeps it alive).
   */
  readonly exitedAfterMs: number;
}

/**
 * Runs `script` (an ES module, TypeScript allowed, imports relative to the repository's root) in
 * a process of its own, `node --import tsx`, and resolves how it ended. It must end by itself:
 * nothing asks it to, and after `timeoutMs` it is killed (`code: null`).
 */
export async function runScript(script: string, env: Record<string, string>, timeoutMs = 8_000): Promise<ScriptExit> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let lastOutAt = Number.NaN;
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    lastOutAt = performance.now();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      done(exitCode);
    });
  });
  return { code, out, err, exitedAfterMs: performance.now() - lastOutAt };
}
