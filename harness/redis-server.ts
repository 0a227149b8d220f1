import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { command, type RespReply } from './resp.js';

export { freePort } from './free-port.js';

/** How a server is started. */
export interface RedisServerOptions {
  /** Extra redis-server arguments, given after the harness's own, so they win. */
  readonly args?: readonly string[];
  /** Adds `--requirepass`; the harness's own commands authenticate with it. */
  readonly password?: string;
  /**
   * A configuration file's text, written into the server's directory and given first: Sentinel
   * refuses to start without a config file it can rewrite.
   */
  readonly config?: string;
}

/** Every server started here and not yet stopped, so that any exit (a crash included) kills them. */
const live = new Set<RedisServer>();
const disposeAll = (): void => {
  for (const server of live) server.dispose();
};
process.once('exit', disposeAll);
// A signal ends the process without 'exit': clean up, then die of the same signal as before.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    disposeAll();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/** `redis-server --version` (e.g. `7.0.15`), or undefined when it is not on the PATH. */
export function redisServerVersion(): string | undefined {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  return /v=(\S+)/.exec(result.stdout)?.[1] ?? result.stdout.trim();
}

/** The password `--requirepass` sets in `args`, if any (the last one wins, as in redis-server). */
function passwordIn(args: readonly string[]): string | undefined {
  const at = args.lastIndexOf('--requirepass');
  return at === -1 ? undefined : args[at + 1];
}

/**
 * A redis-server of our own: a port the OS handed out (never 6379), bound to loopback, a private
 * directory for its snapshot, nothing persisted unless asked (`save()`). It can be killed, hung,
 * resumed and restarted on the same port and directory; only servers of this class are ever
 * signalled, and the harness's commands go only to a server it checked is its own process.
 *
 * A hung server is killed with SIGKILL alone, never SIGCONT first: SIGKILL ends a stopped process
 * at once, while a SIGCONT would let it run for a moment and answer what its clients sent while it
 * was hung, so they would see replies from a server that was meant to die without answering.
 */
export class RedisServer {
  readonly port: number;
  /** Where `SAVE` writes `dump.rdb` and where a restart loads it from. */
  readonly dir: string;
  readonly #args: readonly string[];
  readonly #configFile: string | undefined;
  #password: string | undefined;
  #child: ChildProcess | undefined;

  private constructor(port: number, options: RedisServerOptions) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'keyv-failsafe-redis-'));
    this.#args = options.args ?? [];
    this.#password = options.password ?? passwordIn(this.#args);
    this.#configFile = options.config === undefined ? undefined : join(this.dir, 'redis.conf');
    if (this.#configFile !== undefined) writeFileSync(this.#configFile, options.config as string);
    live.add(this);
  }

  /**
   * Reserves a free port and a directory without starting anything (a server that is not there
   * yet); `restart()` starts it. An array is taken as `options.args`.
   */
  static async create(options: RedisServerOptions | readonly string[] = {}): Promise<RedisServer> {
    return new RedisServer(
      await freePort(),
      Array.isArray(options) ? { args: options } : (options as RedisServerOptions),
    );
  }

  /** Starts a server on a free port; resolves once it answers PING. An array is taken as `options.args`. */
  static async start(options: RedisServerOptions | readonly string[] = {}): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const server = await RedisServer.create(options);
      try {
        await server.restart();
        return server;
      } catch (error) {
        server.dispose();
        // Another process may bind the port between freePort() and redis-server: take another one.
        if (attempt === 3) throw error;
      }
    }
  }

  /** `redis://127.0.0.1:<port>`, without a password even when the server requires one. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The URL with `password` in it (the server's own by default; another to be refused). */
  urlWith(password = this.#password): string {
    return password === undefined ? this.url : `redis://:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  /** The password the server requires now, if any. */
  get password(): string | undefined {
    return this.#password;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /**
   * (Re)starts the process on the same port and directory: empty, or with the data of the last
   * `save()`. Resolves once it answers PING and reports our child's pid as its `process_id`.
   */
  async restart(): Promise<void> {
    if (this.#child) throw new Error(`redis-server on port ${this.port} is still running; kill() it first`);
    const args: string[] = this.#configFile === undefined ? [] : [this.#configFile];
    args.push('--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no');
    args.push('--dir', this.dir, '--dbfilename', 'dump.rdb');
    if (this.#password !== undefined) args.push('--requirepass', this.#password);
    const child = spawn('redis-server', [...args, ...this.#args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let log = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-1_000);
    });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    try {
      await this.#waitUntilOurs(child, 10_000);
    } catch (error) {
      await this.kill();
      throw new Error(`${(error as Error).message}\n${log}`);
    }
  }

  /** SIGKILL: the process dies at once, hung or not, without saving; every connection is reset. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: connections stay open and nothing answers, as a frozen VM would. */
  hang(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** SIGCONT: a hung server resumes and answers what was sent meanwhile. */
  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** A command from the harness's own client (no library code), authenticated when needed. */
  command(args: readonly string[], timeoutMs = 5_000): Promise<RespReply> {
    return command(this.port, args, { password: this.#password, timeoutMs });
  }

  /** `SAVE`: writes the snapshot the next `restart()` loads. */
  async save(): Promise<void> {
    await this.command(['SAVE']);
  }

  /**
   * A server that lost every write since `save()`: SIGKILL (no shutdown save), then a new process
   * that loads that snapshot. Throws when nothing was saved, rather than restart empty.
   */
  async restartFromSnapshot(): Promise<void> {
    if (!existsSync(join(this.dir, 'dump.rdb'))) throw new Error(`no snapshot in ${this.dir}: save() first`);
    await this.kill();
    await this.restart();
  }

  /** Makes the server require `password` from now on (`CONFIG SET requirepass`), as an operator would. */
  async setPassword(password: string): Promise<void> {
    await this.command(['CONFIG', 'SET', 'requirepass', password]);
    this.#password = password;
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    this.dispose();
  }

  /** Synchronous stop, for exit handlers: SIGKILL without waiting, directory removed. */
  dispose(): void {
    this.#child?.kill('SIGKILL');
    this.#child = undefined;
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Polls PING until it is answered (`-LOADING` while a snapshot loads is not), then checks that
   * the server answering is our child: the port may have been taken by someone else's server
   * between choosing it and binding it, and that one must never receive our commands.
   */
  async #waitUntilOurs(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let info: string | undefined;
    let last: unknown;
    while (info === undefined && Date.now() < deadline && child.exitCode === null) {
      try {
        await this.command(['PING'], 500);
        info = String(await this.command(['INFO', 'server'], 500));
      } catch (error) {
        last = error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    if (info === undefined) {
      const why = child.exitCode === null ? String(last) : `it exited with code ${child.exitCode}`;
      throw new Error(`redis-server on port ${this.port} did not answer PING within ${timeoutMs} ms: ${why}`);
    }
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    if (pid !== child.pid) throw new Error(`port ${this.port} is held by another redis-server (pid ${pid})`);
  }
}
