// node:test's describe/it return promises that the runner itself awaits.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../src/errors.js';
import { createRedisClient } from '../../src/stores/redis-client.js';
import { RedisTokenStore } from '../../src/stores/redis-token-store.js';
import type { SessionPolicy } from '../../src/stores/token-store.js';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { countWrites } from '../helpers/socket-writes.js';
import { contractPolicy, tokenStoreContract, uniqueUserId } from './token-store-contract.js';

const COMMAND_TIMEOUT_MS = 1000;
const ACCESS_TTL_MS = 35 * 60_000;
const HOUR = 60 * 60_000;

const unavailable = await redisUnavailable();
const skip = unavailable ?? false;
const runPrefix = `kwtest:${process.pid}:${randomBytes(4).toString('hex')}`;

function ignore(): void {
  // connection errors are asserted through the rejected commands
}

function client(url = REDIS_URL): Redis {
  return createRedisClient({ url, commandTimeoutMs: COMMAND_TIMEOUT_MS, onError: ignore });
}

function id(): string {
  return randomBytes(12).toString('base64url');
}

async function deleteKeys(admin: Redis, prefix: string): Promise<void> {
  const stream = admin.scanStream({ match: `${prefix}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) {
    if (keys.length > 0) await admin.del(...keys);
  }
}

async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  const stream = admin.scanStream({ match: `${prefix}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) found.push(...keys);
  return found.sort();
}

/** Asserts that `ms` is within `slackMs` below `expected` (a TTL read back a moment after it was set). */
function assertTtl(ms: number, expected: number, slackMs = 5000): void {
  assert.ok(ms <= expected && ms > expected - slackMs, `TTL ${ms} ms, expected about ${expected} ms`);
}

await tokenStoreContract('RedisTokenStore', async (policy) => {
  if (unavailable !== undefined) return unavailable;
  const prefix = `${runPrefix}:contract`;
  const redis = client();
  const store = new RedisTokenStore(redis, prefix, policy);
  return {
    store,
    cleanup: async () => {
      await deleteKeys(redis, prefix);
      await store.close();
    },
  };
});

describe('RedisTokenStore on a real Redis', () => {
  const itWithRedis = (behaviour: string, fn: () => Promise<void>): void => {
    void it(behaviour, { skip }, fn);
  };
  const prefix = `${runPrefix}:props`;
  let admin: Redis;
  let store: RedisTokenStore;

  before(() => {
    if (unavailable !== undefined) return;
    admin = new Redis(REDIS_URL);
    store = new RedisTokenStore(client(), prefix, contractPolicy);
  });

  after(async () => {
    if (unavailable !== undefined) return;
    await deleteKeys(admin, prefix);
    await store.close();
    await admin.quit();
  });

  const keys = (userId: number) => ({
    session: (sid: string) => `${prefix}:{u:${userId}}:s:${sid}`,
    token: (jti: string) => `${prefix}:{u:${userId}}:t:${jti}`,
    sessions: `${prefix}:{u:${userId}}:ss`,
  });

  itWithRedis("a token key's TTL is the token's remaining lifetime, not an epoch", async () => {
    const userId = uniqueUserId();
    const sid = id();
    const now = Date.now();
    const first = { jti: id(), expiresAt: now + ACCESS_TTL_MS };
    await store.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token: first }, now);
    assertTtl(await admin.pttl(keys(userId).token(first.jti)), ACCESS_TTL_MS);

    const later = now + 60_000;
    const next = { jti: id(), expiresAt: later + ACCESS_TTL_MS };
    assert.equal(await store.consume({ userId, sid, jti: first.jti }, next, later), true);
    assert.equal(await admin.exists(keys(userId).token(first.jti)), 0, 'a consumed token key is deleted');
    assertTtl(await admin.pttl(keys(userId).token(next.jti)), ACCESS_TTL_MS);
  });

  itWithRedis("a session key's TTL is the shorter of the idle ttl and the remaining max ttl", async () => {
    const userId = uniqueUserId();
    const sid = id();
    const t0 = Date.now();
    const token = { userId, sid, jti: id(), expiresAt: t0 + 4 * HOUR };
    await store.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token }, t0);
    assertTtl(await admin.pttl(keys(userId).session(sid)), contractPolicy.idleTtlMs);

    assert.equal(await store.check(token, t0 + 50 * 60_000), true);
    assertTtl(await admin.pttl(keys(userId).session(sid)), contractPolicy.idleTtlMs);
    assert.equal(await store.check(token, t0 + 100 * 60_000), true);
    assertTtl(await admin.pttl(keys(userId).session(sid)), contractPolicy.idleTtlMs);
    assert.equal(await store.check(token, t0 + 150 * 60_000), true);
    assertTtl(await admin.pttl(keys(userId).session(sid)), contractPolicy.maxTtlMs - 150 * 60_000);
  });

  itWithRedis("the session set lives as long as the user's longest possible session", async () => {
    const userId = uniqueUserId();
    const now = Date.now();
    await store.createSession(
      {
        userId,
        sid: id(),
        userAgent: 'ua',
        ip: 'ip',
        generation: '0',
        token: { jti: id(), expiresAt: now + ACCESS_TTL_MS },
      },
      now,
    );
    assertTtl(await admin.pttl(keys(userId).sessions), contractPolicy.maxTtlMs);
  });

  itWithRedis("every key of a user carries the user's {u:<id>} hash tag", async () => {
    const tagPrefix = `${prefix}:tags`;
    const tagged = new RedisTokenStore(client(), tagPrefix, contractPolicy);
    try {
      const userId = uniqueUserId();
      const sid = id();
      const now = Date.now();
      const first = { jti: id(), expiresAt: now + ACCESS_TTL_MS };
      await tagged.createSession(
        { userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token: first },
        now,
      );
      const second = { jti: id(), expiresAt: now + ACCESS_TTL_MS };
      await tagged.consume({ userId, sid, jti: first.jti }, second, now);
      const third = { jti: id(), expiresAt: now + ACCESS_TTL_MS };
      await tagged.refresh(userId, sid, 0, third, now);

      const found = await keysUnder(admin, tagPrefix);
      const tag = `${tagPrefix}:{u:${userId}}:`;
      assert.deepEqual(
        found,
        [`${tag}s:${sid}`, `${tag}ss`, `${tag}t:${second.jti}`, `${tag}t:${third.jti}`].sort(),
      );
      for (const key of found)
        assert.equal(key.indexOf('{'), tagPrefix.length + 1, `${key} has one leading hash tag`);
    } finally {
      await deleteKeys(admin, tagPrefix);
      await tagged.close();
    }
  });

  itWithRedis("a fence's generation key carries the user's hash tag and lives SESSION_MAX_TTL", async () => {
    const userId = uniqueUserId();
    const now = Date.now();
    assert.equal(await store.generation(userId), '0');
    await store.revokeUserSessions(userId, now);
    const key = `${prefix}:{u:${userId}}:g`;
    assert.equal(await admin.get(key), '1');
    assertTtl(await admin.pttl(key), contractPolicy.maxTtlMs);
    assert.equal(await store.generation(userId), '1');
  });

  itWithRedis("a session's evicted and revoked tokens leave no key behind", async () => {
    const userId = uniqueUserId();
    const sid = id();
    const now = Date.now();
    const first = { jti: id(), expiresAt: now + ACCESS_TTL_MS };
    await store.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token: first }, now);
    const jtis = [first.jti];
    for (let counter = 0; counter < 20; counter += 1) {
      const next = { jti: id(), expiresAt: now + ACCESS_TTL_MS };
      await store.refresh(
        userId,
        sid,
        counter,
        next,
        now + counter * 2 * contractPolicy.refreshReuseWindowMs,
      );
      jtis.push(next.jti);
    }
    const tokenKeys = jtis.map(keys(userId).token);
    assert.equal(await admin.exists(...tokenKeys), 16);
    assert.equal(await store.revokeSession(userId, sid, now + 1_000_000), true);
    assert.equal(await admin.exists(...tokenKeys), 0);
  });

  itWithRedis('idle sessions and expired tokens disappear from Redis by themselves', async () => {
    const shortPolicy: SessionPolicy = { idleTtlMs: 300, maxTtlMs: 1000, refreshReuseWindowMs: 10 };
    const short = new RedisTokenStore(client(), `${prefix}:short`, shortPolicy);
    try {
      const userId = uniqueUserId();
      const sid = id();
      const now = Date.now();
      const token = { jti: id(), expiresAt: now + 200 };
      await short.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token }, now);
      const k = {
        session: `${prefix}:short:{u:${userId}}:s:${sid}`,
        token: `${prefix}:short:{u:${userId}}:t:${token.jti}`,
      };
      assert.equal(await admin.exists(k.session, k.token), 2);
      await sleep(450);
      assert.equal(await admin.exists(k.session, k.token), 0);
    } finally {
      await deleteKeys(admin, `${prefix}:short`);
      await short.close();
    }
  });

  itWithRedis('listing drops set members whose session key has gone', async () => {
    const userId = uniqueUserId();
    const sid = id();
    const now = Date.now();
    await store.createSession(
      {
        userId,
        sid,
        userAgent: 'ua',
        ip: 'ip',
        generation: '0',
        token: { jti: id(), expiresAt: now + ACCESS_TTL_MS },
      },
      now,
    );
    await admin.del(keys(userId).session(sid));
    assert.equal(await admin.sismember(keys(userId).sessions, sid), 1);
    assert.deepEqual(await store.listSessions(userId, now), []);
    assert.equal(await admin.exists(keys(userId).sessions), 0);
  });

  itWithRedis("revoking all sessions deletes the user's session keys and set", async () => {
    const userId = uniqueUserId();
    const now = Date.now();
    const sids = [id(), id(), id()];
    for (const sid of sids) {
      await store.createSession(
        {
          userId,
          sid,
          userAgent: 'ua',
          ip: 'ip',
          generation: '0',
          token: { jti: id(), expiresAt: now + ACCESS_TTL_MS },
        },
        now,
      );
    }
    assert.equal(await store.revokeUserSessions(userId, now), 3);
    assert.equal(await admin.exists(keys(userId).sessions, ...sids.map(keys(userId).session)), 0);
  });

  itWithRedis('a session revoked on one instance is rejected by another at once', async () => {
    const other = new RedisTokenStore(client(), prefix, contractPolicy);
    try {
      const userId = uniqueUserId();
      const sid = id();
      const now = Date.now();
      const token = { userId, sid, jti: id(), expiresAt: now + ACCESS_TTL_MS };
      await store.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token }, now);
      assert.equal(await other.check(token, now), true);
      assert.equal(await store.revokeSession(userId, sid, now), true);
      assert.equal(await other.check(token, now), false);
    } finally {
      await other.close();
    }
  });
});

describe('the Redis client', () => {
  it(
    'sends the commands of one event-loop turn in one socket write, and each gets its own reply',
    { skip },
    async () => {
      const redis = client();
      try {
        await redis.ping();
        const writes = countWrites(redis.stream);
        const key = `${runPrefix}:batch`;
        const keys = Array.from({ length: 16 }, (_, i) => `${key}:${i}`);
        const sets = await Promise.all(keys.map((k, i) => redis.set(k, String(i), 'PX', 60_000)));
        assert.deepEqual(sets, Array(16).fill('OK'));
        assert.equal(writes(), 1, '16 commands issued in one turn, one write');
        const gets = await Promise.all(keys.map((k) => redis.get(k)));
        assert.deepEqual(
          gets,
          keys.map((_, i) => String(i)),
        );
        assert.equal(writes(), 2);
        await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    },
  );
});

describe('RedisTokenStore when Redis is unreachable', () => {
  it('a store pointed at a closed port rejects with StoreUnavailableError within 3 seconds', async () => {
    const store = new RedisTokenStore(client('redis://127.0.0.1:1'), `${runPrefix}:down`, contractPolicy);
    try {
      const now = Date.now();
      const started = performance.now();
      await assert.rejects(store.ping(), StoreUnavailableError);
      await assert.rejects(
        store.consume({ userId: 1, sid: 's', jti: 'j' }, { jti: 'k', expiresAt: now + 1000 }, now),
        StoreUnavailableError,
      );
      await assert.rejects(store.listSessions(1, now), StoreUnavailableError);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 3000, `took ${Math.round(elapsed)} ms`);
    } finally {
      await store.close();
    }
  });

  it('a store recovers by itself when Redis comes back', { skip }, async () => {
    const proxy = await startProxy(new URL(REDIS_URL));
    const url = new URL(REDIS_URL);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const prefix = `${runPrefix}:outage`;
    const admin = new Redis(REDIS_URL);
    const store = new RedisTokenStore(client(url.toString()), prefix, contractPolicy);
    try {
      const userId = uniqueUserId();
      const sid = id();
      const now = Date.now();
      const token = { userId, sid, jti: id(), expiresAt: now + ACCESS_TTL_MS };
      await store.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token }, now);

      await proxy.stop();
      const started = performance.now();
      await assert.rejects(store.check(token, now), StoreUnavailableError);
      assert.ok(performance.now() - started < 3000, 'fails fast while Redis is away');

      await proxy.start();
      const deadline = performance.now() + 5000;
      let checked: boolean | undefined;
      while (checked === undefined) {
        try {
          checked = await store.check(token, now);
        } catch (error) {
          assert.ok(error instanceof StoreUnavailableError);
          assert.ok(performance.now() < deadline, 'recovered within 5 seconds');
          await sleep(100);
        }
      }
      assert.equal(checked, true, 'the session survived the outage');
    } finally {
      await store.close();
      await proxy.stop();
      await deleteKeys(admin, prefix);
      await admin.quit();
    }
  });
});

/** A TCP relay in front of the real Redis that can be cut and restored, to simulate an outage. */
async function startProxy(
  target: URL,
): Promise<{ port: number; start: () => Promise<void>; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const start = async (): Promise<void> => {
    const listening = createServer((inbound) => {
      const outbound = connect(Number(target.port || 6379), target.hostname);
      for (const [a, b] of [
        [inbound, outbound],
        [outbound, inbound],
      ] as const) {
        sockets.add(a);
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          sockets.delete(a);
          b.destroy();
        });
      }
    });
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', resolve);
    });
    const address = listening.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    port = address.port;
    server = listening;
  };

  const stop = async (): Promise<void> => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (closing)
      await new Promise<void>((resolve) =>
        closing.close(() => {
          resolve();
        }),
      );
  };

  await start();
  return { port, start, stop };
}
