import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';
import { createClient } from '@keyv/redis';

/** `redis-server --version`, or undefined when it is not on the PATH. */
export function redisServerVersion(): string | undefined {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  return /v=(\S+)/.exec(result.stdout)?.[1] ?? result.stdout.trim();
}

/** A port the OS just handed out (listen on 0) and nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address !== 'object') throw new Error('the OS gave no port');
  return address.port;
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(200, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/** Every server this process started, so that an exit on any path (even a crash) kills them. */
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});

/**
 * A redis-server this benchmark started and owns: on a port the OS chose, nothing persisted, bound
 * to loopback. Only servers of this class are ever hung, killed or flushed.
 */
export class OwnedRedis {
  readonly port: number;
  readonly #child: ChildProcess;
  #alive = true;

  private constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.#child = child;
  }

  static async start(): Promise<OwnedRedis> {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    started.add(child);
    child.once('exit', () => started.delete(child));
    const server = new OwnedRedis(port, child);
    const deadline = Date.now() + 5_000;
    while (!(await answersPing(port))) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await server.kill();
        throw new Error(`redis-server on port ${port} did not answer PING within 5 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** SIGSTOP: connections stay open and nothing answers, as with a frozen VM or a network black hole. */
  hang(): void {
    if (this.#alive) this.#child.kill('SIGSTOP');
  }

  resume(): void {
    if (this.#alive) this.#child.kill('SIGCONT');
  }

  /** SIGKILL (after SIGCONT, so that a hung server dies too); resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.#alive) return;
    this.#alive = false;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGCONT');
    this.#child.kill('SIGKILL');
    await exited;
  }
}

/** Calls per command name from `INFO commandstats`, e.g. `{ get: 120, pttl: 120 }`. */
export async function commandCalls(url: string): Promise<Record<string, number>> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  try {
    const info = await client.info('commandstats');
    const calls: Record<string, number> = {};
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1] as string] = Number(match[2]);
    return calls;
  } finally {
    client.destroy();
  }
}

/** `after - before` per command, leaving out the ones that did not change and our own `info`. */
export function commandDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after)) {
    const change = calls - (before[name] ?? 0);
    if (change > 0 && name !== 'info' && name !== 'client|setname' && name !== 'hello') delta[name] = change;
  }
  return delta;
}

/** Unlinks the keys this run wrote to a server that is not ours (REDIS_URL), by their run-id pattern. */
export async function deleteKeysMatching(url: string, pattern: string): Promise<number> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const reply = await client.scan(cursor, { MATCH: pattern, COUNT: 1000 });
      cursor = String(reply.cursor);
      if (reply.keys.length > 0) deleted += await client.unlink(reply.keys);
    } while (cursor !== '0');
  } finally {
    client.destroy();
  }
  return deleted;
}
