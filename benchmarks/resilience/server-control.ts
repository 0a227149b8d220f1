import type { TcpProxy } from '../../test/helpers/tcp-proxy.js';
import type { ControlAction } from './protocol.js';
import type { RedisProcess } from './redis-process.js';
import { command, RespError, sendCommands } from './resp.js';

/** Filler values are this big: few enough commands to fill 16 MB quickly. */
const FILLER_BYTES = 64 * 1024;
const FILLER_PREFIX = 'resilience:filler:';
/** Room below the filled level, so the library's own deletes (allowed under OOM) cannot reopen writes. */
const OOM_MARGIN_BYTES = 1024 * 1024;

/** Redis arguments of the out-of-memory scenario: small, and refusing writes instead of evicting. */
export const OOM_SERVER_ARGS = ['--maxmemory', '16mb', '--maxmemory-policy', 'noeviction'] as const;

const TIMEOUT_MS = 5_000;

/** Writes filler until Redis answers OOM, then pins `maxmemory` just below what is used. */
async function fillMemory(server: RedisProcess): Promise<void> {
  const filler = 'x'.repeat(FILLER_BYTES);
  const options = { password: server.password, timeoutMs: TIMEOUT_MS };
  for (let batch = 0; batch < 20; batch++) {
    const commands = Array.from({ length: 64 }, (_, i) => ['SET', `${FILLER_PREFIX}${batch}:${i}`, filler]);
    const replies = await sendCommands(server.port, commands, options);
    if (replies.some((reply) => reply instanceof RespError && reply.message.startsWith('OOM'))) {
      const info = String(await command(server.port, ['INFO', 'memory'], options));
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1]);
      if (!Number.isFinite(used)) throw new Error('INFO memory has no used_memory');
      await command(server.port, ['CONFIG', 'SET', 'maxmemory', String(used - OOM_MARGIN_BYTES)], options);
      return;
    }
  }
  throw new Error('redis never answered OOM while being filled');
}

/** Frees the memory the way an operator would: deletes the filler, and lifts the limit. */
async function freeMemory(server: RedisProcess): Promise<void> {
  const options = { password: server.password, timeoutMs: TIMEOUT_MS };
  const keys = await command(server.port, ['KEYS', `${FILLER_PREFIX}*`], options);
  if (Array.isArray(keys) && keys.length > 0) await command(server.port, ['DEL', ...keys.map(String)], options);
  await command(server.port, ['CONFIG', 'SET', 'maxmemory', '0'], options);
}

/** The proxy in front of a pair's server (proxy scenarios only), and the delay of its `slow` mode. */
export interface ProxyControl {
  readonly proxy: TcpProxy;
  readonly delayMs: number;
}

/**
 * Carries out what a pair's child asks of its server. `clientPassword` is what the library was
 * given; `fix-password` makes the server accept it, as an operator correcting the secret would.
 * `proxy-*` actions act on the proxy between the library and the server.
 */
export async function control(
  server: RedisProcess,
  action: ControlAction,
  clientPassword: string | undefined,
  proxy?: ProxyControl,
): Promise<void> {
  if (action.startsWith('proxy-') && proxy === undefined) throw new Error(`${action} needs a proxied scenario`);
  const options = { password: server.password, timeoutMs: TIMEOUT_MS };
  switch (action) {
    case 'start':
      return server.start();
    case 'kill':
      return server.kill();
    case 'hang':
      return server.hang();
    case 'resume':
      return server.resume();
    case 'save':
      await command(server.port, ['SAVE'], options);
      return;
    case 'fill-memory':
      return fillMemory(server);
    case 'free-memory':
      return freeMemory(server);
    case 'fix-password':
      if (clientPassword === undefined) throw new Error('fix-password needs the client password');
      await command(server.port, ['CONFIG', 'SET', 'requirepass', clientPassword], options);
      server.password = clientPassword;
      return;
    case 'proxy-pass':
      return proxy?.proxy.setMode('pass');
    case 'proxy-slow':
      return proxy?.proxy.setMode('slow', proxy.delayMs);
    case 'proxy-blackhole':
      return proxy?.proxy.setMode('blackhole');
    case 'proxy-reset':
      return proxy?.proxy.resetAll();
  }
}
