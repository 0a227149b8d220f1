import { once } from 'node:events';
import { createServer } from 'node:net';

/** The conventional Redis port: whatever listens there belongs to someone else and is never touched. */
export const RESERVED_PORT = 6379;

/**
 * A loopback port nobody listens on right now: the OS hands one out (listen on 0) and it is
 * released at once. Never 6379. Another process may still take it before the caller binds it,
 * which is why the launcher checks that the server answering is its own.
 */
export async function freePort(): Promise<number> {
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
