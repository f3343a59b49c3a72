import { Cluster, Redis, type Command } from 'ioredis';

export interface HostPort {
  host: string;
  port: number;
}

/** Where Redis is: one node by URL, a Cluster by some of its nodes, or a master found through Sentinel. */
export type RedisTarget =
  | { url: string }
  | { url?: undefined; clusterNodes: HostPort[]; password?: string | undefined }
  | {
      url?: undefined;
      sentinels: HostPort[];
      sentinelName: string;
      password?: string | undefined;
      sentinelPassword?: string | undefined;
    };

interface ClientBehaviour {
  /** How long one command may take before it fails; connecting may take twice as long. */
  commandTimeoutMs: number;
  /** Connection errors (ioredis reports them as events, and prints them when nobody listens). */
  onError?: (error: Error) => void;
  /** Connect at the first command rather than at once (a `keyward` command that may not need Redis). */
  lazyConnect?: boolean | undefined;
}

export type RedisClientOptions = RedisTarget & ClientBehaviour;

const MAX_RECONNECT_DELAY_MS = 1000;

const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);

/** Node-level options shared by every mode: bounded connect and command time, one retry at most. */
function nodeOptions(options: ClientBehaviour) {
  return {
    connectTimeout: options.commandTimeoutMs * 2,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
  };
}

/**
 * Sends the commands of all requests handled in one event-loop turn in one socket write instead of one write each
 * (the write was the largest single cost of an authenticated request in the profile): the first command of a turn
 * corks the connection's socket, and the turn's end (setImmediate, after the I/O callbacks) uncorks it. This is
 * what ioredis's auto-pipelining is for, without its cost: it keeps the batch being built in a `Map` that it sets
 * and deletes on every turn, and V8 then keeps every batch, its commands and their replies alive until a full
 * collection (docs/performance-log.md). It wraps ioredis 5's `sendCommand` (test/unit/library-pins.test.ts).
 */
function batchWritesPerTurn(client: Redis): void {
  const send = client.sendCommand.bind(client);
  let corked = false;
  client.sendCommand = (command, stream) => {
    if (!corked && stream === undefined && client.status === 'ready') {
      const socket = client.stream;
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    return send(command, stream);
  };
}

/** A short, password-free description of the target for logs. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if ('clusterNodes' in target) return `cluster ${list(target.clusterNodes)}`;
  if ('sentinels' in target) return `sentinel ${target.sentinelName} via ${list(target.sentinels)}`;
  return target.url.replace(/\/\/[^@]*@/, '//***@');
}

/**
 * A Redis client that fails fast and heals itself: while Redis is down a command rejects within about
 * commandTimeoutMs instead of hanging, and the client keeps reconnecting (at most a second apart) so that it
 * works again as soon as Redis is back. The offline queue stays on so that commands issued while the first
 * connection is still being made simply wait for it.
 */
export function createRedisClient(options: { url: string } & ClientBehaviour): Redis;
export function createRedisClient(options: RedisClientOptions): Redis | Cluster;
export function createRedisClient(options: RedisClientOptions): Redis | Cluster {
  let client: Redis | Cluster;
  if ('clusterNodes' in options) {
    client = createClusterClient(options.clusterNodes, options);
  } else if ('sentinels' in options) {
    client = new Redis({
      ...nodeOptions(options),
      lazyConnect: options.lazyConnect ?? false,
      sentinels: options.sentinels,
      name: options.sentinelName,
      password: options.password,
      sentinelPassword: options.sentinelPassword,
      enableOfflineQueue: true,
      retryStrategy: reconnectDelay,
      sentinelRetryStrategy: reconnectDelay,
      // A sentinel that answers slowly must not stall the failover search for longer than a command would.
      sentinelCommandTimeout: options.commandTimeoutMs,
    });
  } else {
    client = new Redis(options.url, {
      ...nodeOptions(options),
      lazyConnect: options.lazyConnect ?? false,
      enableOfflineQueue: true,
      retryStrategy: reconnectDelay,
    });
  }
  if (client instanceof Redis) batchWritesPerTurn(client);
  if (options.onError) client.on('error', options.onError);
  return client;
}

function createClusterClient(
  nodes: HostPort[],
  options: ClientBehaviour & { password?: string | undefined },
) {
  const cluster = new Cluster(nodes, {
    redisOptions: { ...nodeOptions(options), password: options.password },
    lazyConnect: options.lazyConnect ?? false,
    enableOfflineQueue: true,
    clusterRetryStrategy: reconnectDelay,
    slotsRefreshTimeout: options.commandTimeoutMs,
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    retryDelayOnTryAgain: 100,
  });
  // Each node's connection batches its writes per event-loop turn, as a single node's does.
  cluster.on('+node', (node: Redis) => {
    batchWritesPerTurn(node);
  });
  // The Cluster client queues commands while it has no slot map (all nodes down) without any deadline, and
  // retries CLUSTERDOWN and closed connections; a deadline armed when the command is first issued bounds the
  // whole journey. Command.setTimeout is idempotent, so the node-level commandTimeout does not extend it.
  const send = cluster.sendCommand.bind(cluster);
  cluster.sendCommand = (command: Command, ...rest: unknown[]) => {
    command.setTimeout(options.commandTimeoutMs);
    return (send as (command: Command, ...rest: unknown[]) => unknown)(command, ...rest);
  };
  return cluster;
}
