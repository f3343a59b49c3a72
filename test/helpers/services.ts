import { Redis } from 'ioredis';
import { inCi } from './ci.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Resolves to undefined when Redis answers; otherwise to a skip reason outside CI, and throws when CI is set,
 * where a missing service must fail the run rather than skip it.
 */
export async function redisUnavailable(url = REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    const reason = `Redis not reachable at ${url}: ${(error as Error).message}`;
    if (inCi) throw new Error(`${reason} (CI is set: a missing service fails the run)`);
    console.warn(`WARNING: skipping, ${reason}`);
    return reason;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under `prefix:` (a test's own key space) from the Redis at `url`. */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    for await (const batch of admin.scanStream({ match: `${prefix}:*`, count: 1000 }) as AsyncIterable<
      string[]
    >) {
      keys.push(...batch);
    }
    if (keys.length > 0) await admin.del(...keys);
  } finally {
    admin.disconnect();
  }
}
