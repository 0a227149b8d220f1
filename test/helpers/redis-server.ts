import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves once something accepts TCP connections and answers PING on `port`. */
async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      const done = (result: boolean) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(200, () => done(false));
      socket.once('error', () => done(false));
      socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (data) => done(data.toString().startsWith('+PONG') || data.toString().startsWith('-NOAUTH')));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A redis-server of the test's own, on a free port, with nothing persisted: a test may kill it
 * (SIGKILL), hang it (SIGSTOP), resume it and restart it without touching anyone else's server.
 */
export class RedisServer {
  readonly port: number;
  readonly #extraArgs: string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, extraArgs: string[]) {
    this.port = port;
    this.#extraArgs = extraArgs;
  }

  /** Starts a server on a free port; `extraArgs` go to redis-server as they are. */
  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), extraArgs);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** (Re)starts the server on the same port, empty. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('redis-server is still running; kill() it first');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.#extraArgs],
      { stdio: 'ignore' },
    );
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.#child = child;
    await waitForPing(this.port, 5_000);
  }

  /** SIGKILL: the server dies at once, connections are reset. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      // SIGKILL alone, even for a stopped process: a SIGCONT first would let it answer what it holds.
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }

  /** SIGSTOP: the server hangs; connections stay open and nothing answers. */
  hang(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** SIGCONT: a hung server resumes and answers what was sent meanwhile. */
  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
