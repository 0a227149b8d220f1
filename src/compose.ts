import type { KeyvStoreAdapter } from 'keyv';
import { KeyvStorePrimary } from '../adapters/keyv-primary.js';
import { isKeyvRedisLike, RedisPrimary } from '../adapters/redis-primary.js';
import { createFailFastClient, createFailFastCluster, createFailFastSentinel } from '../adapters/redis-topology.js';
import {
  checkClusterOption,
  checkRedisUrl,
  checkSentinelOption,
  hasRedisScheme,
  redactUrl,
  type TopologyProblem,
} from '../adapters/redis-url.js';
import { InvalidOptionError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Primary } from './primary.js';

/**
 * The composition root: the one module of the core that knows the concrete adapters. It turns the
 * `primary` option into a {@link Primary}; everything else in `src/` sees the port only.
 */

const EXPECTED =
  'a redis://, rediss://, valkey:// or valkeys:// URL, { cluster: { rootNodes } }, { sentinel: { name, sentinelRootNodes } }, a KeyvRedis, a Keyv store, or a Primary';

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

function invalid(problem: TopologyProblem): InvalidOptionError {
  return new InvalidOptionError(problem.field, problem.value, problem.problem, problem.hidden);
}

/**
 * A primary from `{ cluster }` or `{ sentinel }`: checked field by field, then a client that fails
 * fast on every node connection. The object must hold that one key.
 */
function fromTopology(option: Record<string, unknown>, resolved: ResolvedOptions): RedisPrimary {
  const keys = Object.keys(option);
  if (keys.length !== 1) {
    const extra = keys.find((key) => key !== 'cluster' && key !== 'sentinel') ?? keys[1];
    throw new InvalidOptionError(`primary.${extra}`, undefined, 'either { cluster } or { sentinel }, alone', true);
  }
  let client: object;
  try {
    if ('cluster' in option) {
      const check = checkClusterOption(option.cluster);
      if (!check.ok) throw invalid(check);
      client = createFailFastCluster(check.config, resolved);
    } else {
      const check = checkSentinelOption(option.sentinel);
      if (!check.ok) throw invalid(check);
      client = createFailFastSentinel(check.config, resolved);
    }
  } catch (error) {
    if (error instanceof InvalidOptionError) throw error;
    // Deliberately without `cause`: the client's error may quote a node's URL, password included.
    throw new InvalidOptionError(`primary.${keys[0]}`, undefined, 'options node-redis accepts', true);
  }
  return new RedisPrimary(client);
}

/** True for `{ cluster: ... }` or `{ sentinel: ... }`, the store's own topology options. */
function isTopologyOption(value: object): value is Record<string, unknown> {
  return Object.getPrototypeOf(value) === Object.prototype && ('cluster' in value || 'sentinel' in value);
}

/**
 * The near-cache tracks invalidations on one connection to one server. A cluster would need a
 * tracking connection per master, re-armed on the promoted node after every failover and slot
 * move, and one master's missed invalidations are silently stale reads: refused rather than half
 * done. (Sentinel is one primary at a time: tracked where its client speaks RESP3, otherwise
 * `memory-first` with a `near-cache:state` event, as any primary that cannot report changes.)
 */
function refuseNearCacheOnCluster(primary: RedisPrimary, resolved: ResolvedOptions): Primary {
  if (resolved.readPolicy === 'near-cache' && primary.topologyKind === 'cluster') {
    throw new InvalidOptionError(
      'readPolicy',
      'near-cache',
      "'primary-first' or 'memory-first' with a Redis Cluster primary (the near-cache tracks one server's invalidations, not every master's)",
    );
  }
  return primary;
}

/**
 * The primary for the `primary` option: a URL, `{ cluster }` or `{ sentinel }` (the store builds a
 * fail-fast client), a `KeyvRedis` (on one Redis, a cluster or a Sentinel client; the store turns
 * its offline queue off and, on a cluster, bounds node connections the application left unbounded),
 * any other Keyv store, or a ready {@link Primary}.
 * @throws {InvalidOptionError} naming `primary` (or the bad field, e.g. `primary.cluster.rootNodes[1]`),
 * with any URL redacted and no password shown.
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
    if (isTopologyOption(option)) return refuseNearCacheOnCluster(fromTopology(option, resolved), resolved);
    if (isKeyvRedisLike(option)) return refuseNearCacheOnCluster(new RedisPrimary(option, resolved), resolved);
    if (isKeyvStore(option)) return new KeyvStorePrimary(option);
  }
  throw new InvalidOptionError(
    'primary',
    typeof option === 'object' && option !== null ? `[object ${option.constructor?.name ?? 'Object'}]` : option,
    EXPECTED,
  );
}
