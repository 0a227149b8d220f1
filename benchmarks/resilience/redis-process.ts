import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command, RespError } from './resp.js';

/** The conventional Redis port: a server there belongs to someone else and is never touched. */
const RESERVED_PORT = 6379;

/** Every server this process started and has not yet disposed of, so an interrupted run can kill them. */
const live = new Set<RedisProcess>();

/** Kills every server still running and removes its directory; synchronous, for exit handlers. */
export function killAllRedisProcesses(): void {
  for (const server of live) {
    server.killNow();
    rmSync(server.dir, { recursive: true, force: true });
  }
}

/** A port the OS says is free now, never 6379. */
async function freePort(): Promise<number> {
  for (;;) {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const address = probe.address();
    probe.close();
    await once(probe, 'close');
    if (typeof address === 'object' && address !== null && address.port !== RESERVED_PORT) return address.port;
  }
}

/**
 * A redis-server of the harness's own: a free port, a private directory for the snapshot, nothing
 * persisted unless asked (`SAVE`). It can be killed, stopped, resumed and started again on the same
 * port and directory, so a restart loads the snapshot when one was taken.
 */
export class RedisProcess {
  readonly port: number;
  readonly dir: string;
  /** The password the server requires right now, if any (the wrong-password scenario changes it). */
  password: string | undefined;
  readonly #extraArgs: readonly string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, extraArgs: readonly string[], password: string | undefined) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'keyv-failsafe-resilience-'));
    this.#extraArgs = extraArgs;
    this.password = password;
    live.add(this);
  }

  /** Reserves a port and a directory; the server is not started (the never-started scenario needs that). */
  static async create(extraArgs: readonly string[], password: string | undefined): Promise<RedisProcess> {
    return new RedisProcess(await freePort(), extraArgs, password);
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error(`redis-server on port ${this.port} is already running`);
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--dir', this.dir, '--dbfilename', 'dump.rdb', ...this.#extraArgs);
    if (this.password !== undefined) args.push('--requirepass', this.password);
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    await this.#waitForPing(10_000);
  }

  /** SIGKILL: no shutdown save, every connection reset. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Synchronous kill for exit handlers. */
  killNow(): void {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
  }

  /** SIGSTOP: connections stay open, nothing answers. */
  hang(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  async dispose(): Promise<void> {
    await this.kill();
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #waitForPing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        // Loading a snapshot answers -LOADING; NOAUTH means it is up but wants a password.
        await command(this.port, ['PING'], { password: this.password, timeoutMs: 500 });
        return;
      } catch (error) {
        last = error;
        if (error instanceof RespError && /^NOAUTH|^WRONGPASS/.test(error.message)) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`redis-server on port ${this.port} did not answer PING within ${timeoutMs} ms: ${String(last)}`);
  }
}
