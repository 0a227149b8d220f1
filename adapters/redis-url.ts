/**
 * Redis URLs: which forms are accepted, how they are normalised for node-redis, and how they are
 * shown without their credentials. Shared by the store's composition, the Redis adapter and the CLI.
 * Nothing here throws: callers turn a problem into their own error, so that no error built by a URL
 * parser (Node's `TypeError: Invalid URL` carries the whole input in `input`) ever escapes.
 */

/** Schemes accepted, and the one node-redis is given: Valkey speaks the Redis protocol. */
const SCHEMES: Readonly<Record<string, 'redis:' | 'rediss:'>> = {
  'redis:': 'redis:',
  'rediss:': 'rediss:',
  'valkey:': 'redis:',
  'valkeys:': 'rediss:',
};

/** True when `value` starts with a scheme this package accepts (the rest may still be invalid). */
export function hasRedisScheme(value: string): boolean {
  return /^(redis|rediss|valkey|valkeys):\/\//i.test(value);
}

/**
 * A URL (or anything that may hold one) with every credential replaced by `***`, safe for error
 * messages, events and terminals. The credentials are everything between `scheme://` (or the
 * start, without a scheme) and the last `@` before the path, as URL parsers read them: a password
 * may contain `@`, `/` or `:`, and a userinfo without a colon (`redis://SECRET@host`) is a secret too.
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  const at = url.lastIndexOf('@');
  if (at < scheme.length) return url;
  return `${scheme}***${url.slice(at)}`;
}

/** A Redis URL checked and normalised for node-redis, or why it cannot be used. */
export type RedisUrlCheck =
  | { readonly ok: true; readonly url: string }
  | { readonly ok: false; readonly problem: string };

/**
 * Checks what node-redis would otherwise reject by throwing (with the URL in the error): the
 * scheme, the host, the port (1-65535) and the database number. `valkey://` becomes `redis://`.
 */
export function checkRedisUrl(url: string): RedisUrlCheck {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  const target = scheme === undefined ? undefined : SCHEMES[`${scheme}:`];
  if (target === undefined) return { ok: false, problem: 'a redis://, rediss://, valkey:// or valkeys:// URL' };
  const normalised = `${target}${url.slice((scheme as string).length + 1)}`;
  let parsed: URL;
  try {
    parsed = new URL(normalised);
  } catch {
    return { ok: false, problem: 'a well-formed URL (check the host and that the port is 1-65535)' };
  }
  if (parsed.hostname === '') return { ok: false, problem: 'a URL with a host' };
  if (parsed.port !== '' && !(Number(parsed.port) >= 1 && Number(parsed.port) <= 65535)) {
    return { ok: false, problem: 'a port from 1 to 65535' };
  }
  if (parsed.pathname.length > 1 && !/^\/\d{1,5}$/.test(parsed.pathname)) {
    return { ok: false, problem: 'a database number as the path (redis://host:6379/0)' };
  }
  return { ok: true, url: normalised };
}

/** A cluster root node, checked: a normalised URL and the credentials it carries, if any. */
export interface ClusterRootNode {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
}

/** `{ cluster: ... }` checked: every root node, and the credentials every node connection uses. */
export interface ClusterConfig {
  readonly rootNodes: readonly ClusterRootNode[];
  readonly username?: string;
  readonly password?: string;
}

/** `{ sentinel: ... }` checked. */
export interface SentinelConfig {
  readonly name: string;
  readonly sentinelRootNodes: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** For the data nodes (the primary and its replicas). */
  readonly username?: string;
  readonly password?: string;
  /** For the sentinels themselves, when they require one (`requirepass` in sentinel.conf). */
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
}

/**
 * Why a topology option cannot be used: the dotted path of the bad field, its value safe to show
 * (URLs redacted; `hidden` for a secret or an unknown field, whose value is never shown), and what
 * was expected.
 */
export interface TopologyProblem {
  readonly ok: false;
  readonly field: string;
  readonly value: unknown;
  readonly hidden: boolean;
  readonly problem: string;
}

type Checked<T> = { readonly ok: true; readonly config: T } | TopologyProblem;

/** A value safe to show: URLs redacted, and never an object, which may hold a password. */
function safeValue(value: unknown): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (value !== null && typeof value === 'object') return Array.isArray(value) ? '[array]' : '[object]';
  return value;
}

const bad = (field: string, value: unknown, problem: string, hidden = false): TopologyProblem => ({
  ok: false,
  field,
  value: hidden ? undefined : safeValue(value),
  hidden,
  problem,
});

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A field that is not one of `known` (a typo, or a secret in the wrong place: its value is hidden). */
function unknownField(
  value: Record<string, unknown>,
  path: string,
  known: readonly string[],
): TopologyProblem | undefined {
  const extra = Object.keys(value).find((name) => !known.includes(name));
  return extra === undefined
    ? undefined
    : bad(`${path}.${extra}`, undefined, `one of ${known.join(', ')} (no such field)`, true);
}

/** An optional credential: a non-empty string, never shown. */
function credential(value: unknown, path: string): TopologyProblem | undefined {
  if (value === undefined || (typeof value === 'string' && value !== '')) return undefined;
  return bad(path, undefined, 'a non-empty string', true);
}

/** The credentials in a checked URL's userinfo, decoded. */
function urlCredentials(url: string): { username?: string; password?: string } {
  const parsed = new URL(url);
  return {
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
  };
}

const MAX_ROOT_NODES = 1_000;

/**
 * Checks `{ rootNodes, username?, password? }`: each root node a Redis URL or `{ url, username?,
 * password? }`. Every node connection uses the cluster's credentials: `password` if given, else
 * the first root node's (a cluster's nodes share them).
 */
export function checkClusterOption(value: unknown, path = 'primary.cluster'): Checked<ClusterConfig> {
  if (!isObject(value)) return bad(path, value, 'an object with rootNodes: an array of redis:// URLs');
  const extra = unknownField(value, path, ['rootNodes', 'username', 'password']);
  if (extra) return extra;
  for (const name of ['username', 'password'] as const) {
    const problem = credential(value[name], `${path}.${name}`);
    if (problem) return problem;
  }
  const roots = value.rootNodes;
  if (!Array.isArray(roots) || roots.length === 0 || roots.length > MAX_ROOT_NODES) {
    return bad(
      `${path}.rootNodes`,
      Array.isArray(roots) ? `[${roots.length} nodes]` : roots,
      `an array of 1 to ${MAX_ROOT_NODES} redis:// URLs`,
    );
  }
  const rootNodes: ClusterRootNode[] = [];
  for (const [i, root] of roots.entries()) {
    const at = `${path}.rootNodes[${i}]`;
    const node = typeof root === 'string' ? { url: root } : root;
    if (!isObject(node) || typeof node.url !== 'string')
      return bad(at, root, 'a redis:// URL or { url, username?, password? }');
    const fields = unknownField(node, at, ['url', 'username', 'password']);
    if (fields) return fields;
    for (const name of ['username', 'password'] as const) {
      const problem = credential(node[name], `${at}.${name}`);
      if (problem) return problem;
    }
    const check = checkRedisUrl(node.url);
    if (!check.ok) return bad(typeof root === 'string' ? at : `${at}.url`, node.url, check.problem);
    const own = node as { username?: string; password?: string };
    rootNodes.push({
      url: check.url,
      ...urlCredentials(check.url),
      ...(own.username === undefined ? {} : { username: own.username }),
      ...(own.password === undefined ? {} : { password: own.password }),
    });
  }
  const withPassword = rootNodes.find((node) => node.password !== undefined);
  const password = (value.password as string | undefined) ?? withPassword?.password;
  const username = (value.username as string | undefined) ?? withPassword?.username;
  return {
    ok: true,
    config: {
      rootNodes,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    },
  };
}

/**
 * Checks `{ name, sentinelRootNodes, username?, password?, sentinelUsername?, sentinelPassword? }`:
 * each sentinel `{ host, port }` or a `redis://host:port` URL.
 */
export function checkSentinelOption(value: unknown, path = 'primary.sentinel'): Checked<SentinelConfig> {
  if (!isObject(value)) return bad(path, value, 'an object with name and sentinelRootNodes');
  const known = ['name', 'sentinelRootNodes', 'username', 'password', 'sentinelUsername', 'sentinelPassword'];
  const extra = unknownField(value, path, known);
  if (extra) return extra;
  for (const name of ['username', 'password', 'sentinelUsername', 'sentinelPassword'] as const) {
    const problem = credential(value[name], `${path}.${name}`);
    if (problem) return problem;
  }
  if (typeof value.name !== 'string' || !/^[!-~]+$/.test(value.name)) {
    return bad(`${path}.name`, value.name, 'the monitored name, a non-empty string without spaces');
  }
  const roots = value.sentinelRootNodes;
  if (!Array.isArray(roots) || roots.length === 0 || roots.length > MAX_ROOT_NODES) {
    return bad(
      `${path}.sentinelRootNodes`,
      Array.isArray(roots) ? `[${roots.length} nodes]` : roots,
      `an array of 1 to ${MAX_ROOT_NODES} { host, port }`,
    );
  }
  const sentinelRootNodes: Array<{ host: string; port: number }> = [];
  for (const [i, root] of roots.entries()) {
    const at = `${path}.sentinelRootNodes[${i}]`;
    if (typeof root === 'string') {
      const check = checkRedisUrl(root);
      if (!check.ok) return bad(at, root, check.problem);
      const parsed = new URL(check.url);
      sentinelRootNodes.push({ host: parsed.hostname, port: Number(parsed.port || 26379) });
      continue;
    }
    if (!isObject(root)) return bad(at, root, '{ host, port } or a redis://host:port URL');
    const fields = unknownField(root, at, ['host', 'port']);
    if (fields) return fields;
    if (typeof root.host !== 'string' || root.host === '' || /[\s/@]/.test(root.host)) {
      return bad(`${at}.host`, root.host, 'a host name or address');
    }
    if (typeof root.port !== 'number' || !Number.isInteger(root.port) || root.port < 1 || root.port > 65535) {
      return bad(`${at}.port`, root.port, 'a port from 1 to 65535');
    }
    sentinelRootNodes.push({ host: root.host, port: root.port });
  }
  const pick = (name: string) => (value[name] === undefined ? {} : { [name]: value[name] as string });
  return {
    ok: true,
    config: {
      name: value.name,
      sentinelRootNodes,
      ...pick('username'),
      ...pick('password'),
      ...pick('sentinelUsername'),
      ...pick('sentinelPassword'),
    },
  };
}
