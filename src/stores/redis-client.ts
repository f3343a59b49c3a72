import { Redis } from 'ioredis';

export interface RedisClientOptions {
  url: string;
  /** How long one command may take before it fails; connecting may take twice as long. */
  commandTimeoutMs: number;
  /** Connection errors (ioredis reports them as events, and prints them when nobody listens). */
  onError?: (error: Error) => void;
}

const MAX_RECONNECT_DELAY_MS = 1000;

/**
 * A Redis client that fails fast and heals itself: while Redis is down a command rejects within about
 * commandTimeoutMs instead of hanging, and the client keeps reconnecting (at most a second apart) so that it
 * works again as soon as Redis is back. The offline queue stays on so that commands issued while the first
 * connection is still being made simply wait for it.
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  const client = new Redis(options.url, {
    connectTimeout: options.commandTimeoutMs * 2,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  });
  if (options.onError) client.on('error', options.onError);
  return client;
}
