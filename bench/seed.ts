import { randomBytes, randomUUID } from 'node:crypto';
import { hash, type Algorithm } from '@node-rs/argon2';
import SQLite from 'better-sqlite3';
import { Redis } from 'ioredis';
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
 * Inserts users `from` … `from + count - 1` straight into the SQLite file of a running (hence migrated)
 * Keyward, all with the same precomputed argon2id hash of BENCH_PASSWORD: 100k users in about a second
 * instead of 100k hashes.
 */
export function seedUsers(databaseFile: string, from: number, count: number, passwordHash: string): void {
  const db = new SQLite(databaseFile);
  try {
    db.pragma('busy_timeout = 10000');
    const insert = db.prepare(
      'INSERT INTO users (username, username_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
    );
    const at = new Date().toISOString();
    db.transaction(() => {
      for (let i = from; i < from + count; i++) insert.run(benchUser(i), benchUser(i), passwordHash, at, at);
    })();
  } finally {
    db.close();
  }
}

/** The database id of every seeded user, by name. */
export function userIds(databaseFile: string): Map<string, number> {
  const db = new SQLite(databaseFile, { readonly: true });
  try {
    const rows = db.prepare('SELECT id, username FROM users').all() as { id: number; username: string }[];
    return new Map(rows.map((row) => [row.username, row.id]));
  } finally {
    db.close();
  }
}

const DAY_MS = 86_400_000;

/**
 * Creates `count` live sessions (one per user id from `firstUserId` on, each with one live access token)
 * through the same RedisTokenStore and Lua script Keyward uses, with Keyward's default session policy. The
 * client auto-pipelines, so that the scripts go to Redis in batches rather than one write each.
 */
export async function seedSessions(
  redisUrl: string,
  prefix: string,
  count: number,
  firstUserId: number,
): Promise<void> {
  const client = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
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
