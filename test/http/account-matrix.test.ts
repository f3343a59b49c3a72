// SPEC §9 over HTTP on the other backends: accounts and mail rows on PostgreSQL (memory token store), and tokens
// and rate-limit counters in Redis (SQLite). account-routes.test.ts covers SQLite + memory.
import { randomBytes } from 'node:crypto';
import { createTestDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { accountScenarios } from './account-scenarios.js';

accountScenarios('email and password recovery over HTTP (PostgreSQL, memory store)', {
  skip: (await postgresUnavailable()) ?? false,
  setup: async () => {
    const database = await createTestDatabase();
    return { env: { DATABASE_URL: database.url }, cleanup: () => database.drop() };
  },
});

accountScenarios('email and password recovery over HTTP (SQLite, Redis)', {
  skip: (await redisUnavailable()) ?? false,
  setup: async () => ({
    env: { REDIS_URL, REDIS_KEY_PREFIX: `kwa${randomBytes(3).toString('hex')}` },
    cleanup: async () => undefined,
  }),
});
