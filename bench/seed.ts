import { randomBytes, randomUUID } from 'node:crypto';
import { hash, type Algorithm } from '@node-rs/argon2';
import { openDatabase } from '../src/db/database.js';
import { KyselyUserRepository } from '../src/repositories/kysely-user-repository.js';
import { createRedisClient } from '../src/stores/redis-client.js';
import { RedisTokenStore } from '../src/stores/redis-token-store.js';
import { INITIAL_GENERATION } from '../src/stores/token-store.js';

export const BENCH_PASSWORD = 'bench-Pa55word-hasher';

/** Keyward's default argon2id parameters (config.ts), which every seeded hash uses. */
export const ARGON2 = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

// Algorithm is an ambient const enum, which isolated modules cannot read: 2 is its Argon2id member.
const ARGON2ID = 2 as unknown as Algorithm;

/** One argon2id hash of BENCH_PASSWORD at Keyward's parameters, shared by every seeded user. */
export function benchPasswordHash(): Promise<string> {
  return hash(BENCH_PASSWORD, { algorithm: ARGON2ID, ...ARGON2 });
}

/** The name of seeded user `i` (lower-case ASCII, so it is its own lookup key). */
export const benchUser = (i: number): string => `bench_${i}`;

/**
 * Creates users `from` … `from + count - 1` in the SQLite file of a running (hence migrated) Keyward through
 * Keyward's own repository, in one transaction, all with the same precomputed argon2id hash of BENCH_PASSWORD:
 * 100k users in seconds instead of 100k hashes.
 */
export async function seedUsers(
  databaseFile: string,
  from: number,
  count: number,
  passwordHash: string,
): Promise<void> {
  const database = openDatabase(`sqlite:${databaseFile}`);
  try {
    await database.db.transaction().execute(async (db) => {
      // Kysely's queries only: the synchronous reader would read outside this transaction.
      const users = new KyselyUserRepository({ ...database, db, readRow: undefined });
      for (let i = from; i < from + count; i++) {
        await users.create({ username: benchUser(i), usernameKey: benchUser(i), passwordHash });
      }
    });
  } finally {
    await database.close();
  }
}

const DAY_MS = 86_400_000;

/**
 * Creates `count` live sessions (one per user id from `firstUserId` on, each with one live access token)
 * through the same RedisTokenStore, Lua script and Redis client Keyward uses, with Keyward's default session policy.
 * The client sends each event-loop turn's scripts in one write, so that they go to Redis in batches.
 */
export async function seedSessions(
  redisUrl: string,
  prefix: string,
  count: number,
  firstUserId: number,
): Promise<void> {
  const client = createRedisClient({ url: redisUrl, commandTimeoutMs: 10_000 });
  const store = new RedisTokenStore(client, prefix, {
    idleTtlMs: 14 * DAY_MS,
    maxTtlMs: 30 * DAY_MS,
    refreshReuseWindowMs: 10_000,
  });
  try {
    const now = Date.now();
    const inFlight = 2000;
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) {
          const i = next++;
          await store.createSession(
            {
              userId: firstUserId + i,
              sid: randomBytes(16).toString('base64url'),
              userAgent: 'keyward-bench',
              ip: '127.0.0.1',
              generation: INITIAL_GENERATION,
              token: { jti: randomUUID(), expiresAt: now + 35 * 60_000 },
            },
            now,
          );
        }
      }),
    );
  } finally {
    await store.close();
  }
}

/** Deletes every key under `prefix:` (the bench's own key prefix). */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  const client = createRedisClient({ url: redisUrl, commandTimeoutMs: 10_000 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
      cursor = nextCursor;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await client.quit();
  }
  return deleted;
}
