import type { KeyvStoreAdapter } from 'keyv';
import { KeyvStorePrimary } from '../adapters/keyv-primary.js';
import { createFailFastClient, isKeyvRedisLike, RedisPrimary } from '../adapters/redis-primary.js';
import { checkRedisUrl, hasRedisScheme, redactUrl } from '../adapters/redis-url.js';
import { InvalidOptionError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Primary } from './primary.js';

/**
 * The composition root: the one module of the core that knows the concrete adapters. It turns the
 * `primary` option into a {@link Primary}; everything else in `src/` sees the port only.
 */

const EXPECTED = 'a redis://, rediss://, valkey:// or valkeys:// URL, a KeyvRedis, a Keyv store, or a Primary';

/** The methods that make an object a ready {@link Primary} (a scripted one in tests, a custom adapter). */
const PRIMARY_METHODS = ['classify', 'get', 'getMany', 'set', 'setMany', 'delete', 'deleteMany', 'has', 'hasMany'];

function isPrimary(value: object): value is Primary {
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.separator === 'string' &&
    typeof candidate.probe === 'function' &&
    typeof candidate.iterator === 'function' &&
    PRIMARY_METHODS.every((method) => typeof candidate[method] === 'function')
  );
}

function isKeyvStore(value: object): value is KeyvStoreAdapter {
  const store = value as Record<string, unknown>;
  return ['get', 'set', 'delete', 'clear'].every((method) => typeof store[method] === 'function');
}

/** A primary from a URL: checked first, so that node-redis never throws an error holding the URL. */
function fromUrl(url: string, resolved: ResolvedOptions): Primary {
  const check = checkRedisUrl(url);
  if (!check.ok) throw new InvalidOptionError('primary', redactUrl(url), check.problem);
  let client: ReturnType<typeof createFailFastClient>;
  try {
    // The near-cache's invalidations arrive as RESP3 push messages on the command connection.
    client = createFailFastClient(check.url, { ...resolved, tracking: resolved.readPolicy === 'near-cache' });
  } catch {
    // Deliberately without `cause`: the client's error may quote the URL, password included.
    throw new InvalidOptionError('primary', redactUrl(url), 'a URL node-redis accepts');
  }
  return new RedisPrimary(client);
}

/**
 * The primary for the `primary` option: a URL (the store builds a fail-fast client), a `KeyvRedis`,
 * any other Keyv store, or a ready {@link Primary}.
 * @throws {InvalidOptionError} naming `primary`, with any URL redacted.
 */
export function createPrimary(option: unknown, resolved: ResolvedOptions): Primary {
  if (typeof option === 'string') {
    if (!hasRedisScheme(option) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(option)) {
      throw new InvalidOptionError('primary', redactUrl(option), EXPECTED);
    }
    return fromUrl(option, resolved);
  }
  if (option !== null && typeof option === 'object') {
    if (isPrimary(option)) return option;
    if (isKeyvRedisLike(option)) return new RedisPrimary(option);
    if (isKeyvStore(option)) return new KeyvStorePrimary(option);
  }
  throw new InvalidOptionError(
    'primary',
    typeof option === 'object' && option !== null ? `[object ${option.constructor?.name ?? 'Object'}]` : option,
    EXPECTED,
  );
}
