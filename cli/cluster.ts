// Redis Cluster: telling a cluster node from a standalone server, finding every master from the one
// node given (`CLUSTER SLOTS`, as node-redis's own cluster client does), and checking what the
// cluster announces before anything connects to it: a hostile or broken node gets a one-line error.
import { isIP } from 'node:net';
import { isServerReply } from '../adapters/redis-primary.js';
import { checkRedisUrl } from '../adapters/redis-url.js';
import type { RedisSession } from './connect.js';
import { CliError } from './errors.js';
import { printableKey } from './format.js';
import { parseInfo } from './info.js';
import { describeReply, ProtocolError } from './replies.js';

/** Hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

/** Most masters the CLI connects to: Redis Cluster is designed for up to 1000 nodes. */
export const MAX_MASTERS = 1_000;

/** A slot range, both ends included. */
export type SlotRange = readonly [from: number, to: number];

/** A master as the cluster announces it. */
export interface ClusterMaster {
  /** Its node id (40 hex digits), or `null` when the server did not send one (Redis before 4.0). */
  readonly id: string | null;
  /** The address the cluster announces (the given node's host when it announces none). */
  readonly host: string;
  readonly port: number;
  /** `host:port` (`[::1]:7000` for IPv6), for the table of keys. */
  readonly address: string;
  /** The given URL with this host and port: credentials included, never to be printed. */
  readonly url: string;
  /** The slot ranges it serves, ascending. */
  readonly ranges: readonly SlotRange[];
  /** How many slots it serves. */
  readonly slots: number;
}

/** `CLUSTER INFO` as the report shows it; `null` fields when the ACL refuses it. */
export interface ClusterState {
  /** `ok` or `fail`, as the server wrote it. */
  readonly state: string | null;
  readonly slotsAssigned: number | null;
  readonly slotsOk: number | null;
  readonly knownNodes: number | null;
}

/** A cluster found from the node given. */
export interface ClusterTopology {
  /** Ascending by first slot. */
  readonly masters: readonly ClusterMaster[];
  /** Slots some master serves, per `CLUSTER SLOTS`. */
  readonly slotsCovered: number;
  /** `CLUSTER INFO` of the node given. */
  readonly info: ClusterState;
}

/** True when `error` (a session's {@link CliError}) is a refusal of the command (ACL, renamed away). */
function refused(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return isServerReply(cause) && /^(NOPERM|ERR unknown command)/i.test((cause as Error).message);
}

/** Text of a reply, or `undefined` when it is not a string. */
function textOf(reply: unknown): string | undefined {
  if (typeof reply === 'string') return reply;
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : undefined;
}

/**
 * `CLUSTER SLOTS` of the node given when it is a cluster node, `undefined` when it is not. Decided
 * by `INFO cluster` (`cluster_enabled:1`); when INFO is refused, by whether `CLUSTER SLOTS` answers.
 * A reply of the wrong shape means "not a cluster": the commands then run as on one server, and
 * report whatever is wrong with that server as they always did.
 */
async function clusterSlotsIfCluster(seed: RedisSession): Promise<unknown> {
  let info: unknown;
  try {
    info = await seed.run('INFO cluster', (client) => client.sendCommand(['INFO', 'cluster']));
  } catch (error) {
    if (!refused(error)) throw error;
    try {
      const reply: unknown = await seed.run('CLUSTER SLOTS', (client) => client.sendCommand(['CLUSTER', 'SLOTS']));
      return Array.isArray(reply) ? reply : undefined;
    } catch (denied) {
      // `ERR This instance has cluster support disabled`, or refused too: one server, as far as it says.
      if (denied instanceof CliError && isServerReply(denied.cause)) return undefined;
      throw denied;
    }
  }
  const text = textOf(info);
  if (text === undefined || parseInfo(text).cluster_enabled !== '1') return undefined;
  try {
    return await seed.run('CLUSTER SLOTS', (client) => client.sendCommand(['CLUSTER', 'SLOTS']));
  } catch (error) {
    const cause = error instanceof Error ? error.cause : undefined;
    if (!isServerReply(cause) || !/^NOPERM/.test((cause as Error).message)) throw error;
    // Every cluster client needs it; a user made for the CLI may lack it.
    throw seed.say(
      `${(error as Error).message} (on a cluster node the CLI finds the masters with CLUSTER SLOTS, as every cluster client does: allow it with +cluster|slots)`,
    );
  }
}

/** A field of `CLUSTER INFO` that must be a count. */
function count(fields: Record<string, string>, name: string): number | null {
  const value = Number(fields[name] ?? Number.NaN);
  return Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** `CLUSTER INFO` of `session`; every field `null` when it is refused (an ACL without it). */
export async function readClusterState(session: RedisSession): Promise<ClusterState> {
  try {
    const reply: unknown = await session.run('CLUSTER INFO', (client) => client.sendCommand(['CLUSTER', 'INFO']));
    const text = textOf(reply);
    if (text === undefined)
      throw session.fail('CLUSTER INFO', new ProtocolError(`${describeReply(reply)} instead of text`));
    const fields = parseInfo(text);
    return {
      state: fields.cluster_state ?? null,
      slotsAssigned: count(fields, 'cluster_slots_assigned'),
      slotsOk: count(fields, 'cluster_slots_ok'),
      knownNodes: count(fields, 'cluster_known_nodes'),
    };
  } catch (error) {
    if (refused(error)) return { state: null, slotsAssigned: null, slotsOk: null, knownNodes: null };
    throw error;
  }
}

/** Slot ranges as an operator reads them: `0-5460`, `42`, `0-99, 200-299 (+3 more)`. */
export function formatRanges(ranges: readonly SlotRange[], shown = 4): string {
  const text = ranges.slice(0, shown).map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`));
  const more = ranges.length > shown ? ` (+${ranges.length - shown} more)` : '';
  return `${text.join(', ')}${more}`;
}

/** A DNS name (letters, digits, `-`, `_` as container names have, dots between labels). */
const HOSTNAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** True when `host` may go in a URL as it is: an IPv4 or IPv6 address, or a DNS name. */
function isHost(host: string): boolean {
  return isIP(host) !== 0 || HOSTNAME.test(host);
}

/** `host:port`, brackets around an IPv6 address. */
function addressOf(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The URL given with another host and port: the same scheme and credentials (`redis://user:pass@`),
 * as the cluster's nodes share them; no database (a cluster has only 0) and no query.
 */
function nodeUrl(givenUrl: string, host: string, port: number): string {
  const scheme = (/^([a-z][a-z0-9+.-]*):\/\//i.exec(givenUrl)?.[1] ?? 'redis').toLowerCase();
  const check = checkRedisUrl(givenUrl);
  // The URL was checked before the first connection: this holds.
  const parsed = new URL(check.ok ? check.url : 'redis://localhost');
  const userinfo =
    parsed.username === '' && parsed.password === ''
      ? ''
      : `${parsed.username}${parsed.password === '' ? '' : `:${parsed.password}`}@`;
  return `${scheme}://${userinfo}${addressOf(host, port)}`;
}

/** The host of the URL given, without the brackets of an IPv6 address. */
function givenHost(givenUrl: string): string {
  const check = checkRedisUrl(givenUrl);
  return check.ok ? new URL(check.url).hostname.replace(/^\[(.*)\]$/, '$1') : '';
}

/** An integer reply in `min..max`. */
function integerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

/** What went wrong with a `CLUSTER SLOTS` reply, as the report of the node that sent it. */
type Complaint = { readonly shape: string } | { readonly message: string };

interface Entry {
  readonly id: string | null;
  readonly host: string;
  readonly port: number;
  readonly ranges: SlotRange[];
}

/**
 * The masters in a `CLUSTER SLOTS` reply (`[[from, to, [host, port, id, ...], replica...], ...]`),
 * every part checked: slot numbers, an address that can go in a URL (an empty or null host is the
 * given node's, as the Redis documentation says), a port, no slot served twice, no two masters at
 * one address. Answers the masters, or what is wrong.
 */
function parseSlots(reply: unknown, givenUrl: string): ClusterMaster[] | Complaint {
  if (!Array.isArray(reply)) return { shape: `${describeReply(reply)} instead of an array of slot ranges` };
  if (reply.length === 0) {
    return {
      message:
        'is a cluster node, but CLUSTER SLOTS lists no slot: no master serves any (is the cluster created? redis-cli --cluster create)',
    };
  }
  if (reply.length > CLUSTER_SLOTS) return { shape: `${reply.length} slot ranges, more than there are slots` };
  const owner = new Array<string | undefined>(CLUSTER_SLOTS);
  const byNode = new Map<string, Entry>();
  const byAddress = new Map<string, string>();
  for (const range of reply as unknown[]) {
    if (!Array.isArray(range) || range.length < 3) {
      return { shape: `a slot range that is ${describeReply(range)} instead of [from, to, [host, port, id], ...]` };
    }
    const [from, to, master] = range as [unknown, unknown, unknown];
    if (!integerIn(from, 0, CLUSTER_SLOTS - 1) || !integerIn(to, from, CLUSTER_SLOTS - 1)) {
      return { shape: `a slot range from ${describeReply(from)} to ${describeReply(to)}, not within 0-16383` };
    }
    if (!Array.isArray(master) || master.length < 2) {
      return { shape: `a master that is ${describeReply(master)} instead of [host, port, id]` };
    }
    const [rawHost, port, rawId] = master as [unknown, unknown, unknown];
    const announced = rawHost === null ? '' : textOf(rawHost);
    const slots = formatRanges([[from, to]]);
    if (announced === undefined) return { shape: `a master host that is ${describeReply(rawHost)} instead of text` };
    if (announced === '?') {
      return {
        message: `does not know the address of the master of slots ${slots}: it announces "?" (cluster-preferred-endpoint-type unknown-endpoint)`,
      };
    }
    const host = announced === '' ? givenHost(givenUrl) : announced;
    if (!isHost(host)) {
      return {
        message: `announces the master of slots ${slots} at ${printableKey(host, 64)}, which is not a host name or an IP address`,
      };
    }
    if (!integerIn(port, 1, 65_535)) {
      return {
        message: `announces the master of slots ${slots} with a port that is ${describeReply(port)}, not 1 to 65535`,
      };
    }
    const id = textOf(rawId);
    const nodeId = id !== undefined && /^[0-9a-f]{40}$/i.test(id) ? id.toLowerCase() : null;
    const address = addressOf(host, port);
    if (!checkRedisUrl(nodeUrl(givenUrl, host, port)).ok) {
      return {
        message: `announces the master of slots ${slots} at ${printableKey(address, 64)}, which makes no valid URL`,
      };
    }
    const key = nodeId ?? address;
    const other = byAddress.get(address);
    if (other !== undefined && other !== key) return { shape: `two masters announced at the same address ${address}` };
    byAddress.set(address, key);
    for (let slot = from; slot <= to; slot++) {
      if (owner[slot] !== undefined) return { shape: `slot ${slot} served by two ranges` };
      owner[slot] = key;
    }
    const entry = byNode.get(key) ?? { id: nodeId, host, port, ranges: [] };
    if (entry.host !== host || entry.port !== port) {
      return { shape: `one master announced at two addresses, ${addressOf(entry.host, entry.port)} and ${address}` };
    }
    entry.ranges.push([from, to]);
    byNode.set(key, entry);
    if (byNode.size > MAX_MASTERS) {
      return { message: `announces more than ${MAX_MASTERS} masters; the CLI connects to at most ${MAX_MASTERS}` };
    }
  }
  return [...byNode.values()]
    .map((entry): ClusterMaster => {
      const ranges = entry.ranges.sort((a, b) => a[0] - b[0]);
      return {
        id: entry.id,
        host: entry.host,
        port: entry.port,
        address: addressOf(entry.host, entry.port),
        url: nodeUrl(givenUrl, entry.host, entry.port),
        ranges,
        slots: ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0),
      };
    })
    .sort((a, b) => (a.ranges[0]?.[0] ?? 0) - (b.ranges[0]?.[0] ?? 0));
}

/**
 * The cluster behind the node given, or `undefined` when it is not a cluster node (a standalone
 * server, a Sentinel-managed primary or replica: the commands run on it alone, as always). Any node
 * of the cluster will do, master or replica: the masters are what it announces.
 * @param givenUrl the `--url`, whose scheme and credentials every master's URL gets.
 * @throws {CliError} naming the node given when what it announces cannot be used.
 */
export async function discoverCluster(seed: RedisSession, givenUrl: string): Promise<ClusterTopology | undefined> {
  const reply = await clusterSlotsIfCluster(seed);
  if (reply === undefined) return undefined;
  const masters = parseSlots(reply, givenUrl);
  if (!Array.isArray(masters)) {
    if ('shape' in masters) throw seed.fail('CLUSTER SLOTS', new ProtocolError(masters.shape));
    throw seed.say(`Redis at ${seed.safeUrl} ${masters.message}`);
  }
  const info = await readClusterState(seed);
  return { masters, slotsCovered: masters.reduce((sum, master) => sum + master.slots, 0), info };
}
