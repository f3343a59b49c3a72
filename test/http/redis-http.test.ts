import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';
import {
  assertError,
  assertOk,
  expectDead,
  expectLive,
  getUser,
  login,
  refresh,
  sidOf,
  type TokenBody,
  type UserBody,
} from './http-helpers.js';

const skip = (await redisUnavailable()) ?? false;
const runId = `kwh:${process.pid}:${randomBytes(3).toString('hex')}`;
const prefixes: string[] = [];
const apps: TestApp[] = [];
const DAY_MS = 86_400_000;

/** An app on Redis with a key prefix of its own (each app numbers its users from 1). */
async function redisApp(env: Record<string, string> = {}, overrides = {}): Promise<TestApp> {
  const prefix = `${runId}:${prefixes.length}`;
  prefixes.push(prefix);
  const t = await makeApp({ REDIS_URL, REDIS_KEY_PREFIX: prefix, ...env }, overrides);
  apps.push(t);
  return t;
}

async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  const stream = admin.scanStream({ match: `${prefix}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) found.push(...keys);
  return found;
}

after(async () => {
  await Promise.all(apps.map((t) => t.close()));
  if (skip !== false) return;
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for (const prefix of prefixes) {
      const keys = await keysUnder(admin, prefix);
      if (keys.length > 0) await admin.del(...keys);
    }
  } finally {
    admin.disconnect();
  }
});

describe('HTTP on the Redis token store', () => {
  it('of 20 concurrent GET /user with one token exactly one succeeds', { skip }, async () => {
    const t = await redisApp();
    const s = await signUpAndLogin(t.app);
    const results = await Promise.all(Array.from({ length: 20 }, () => getUser(t.app, s.token)));
    const ok = results.filter((r) => r.statusCode === 200);
    assert.equal(ok.length, 1, results.map((r) => r.statusCode).join(','));
    for (const r of results.filter((x) => x.statusCode !== 200)) assertError(r, 401, 'invalid_token');
    await expectLive(t.app, ok[0]?.json<UserBody>().token ?? '');
  });

  it(
    'login, rotation, sessions, refresh grace and reuse, logout and logout_all work end to end',
    { skip },
    async () => {
      const t = await redisApp();
      const s = await signUpAndLogin(t.app);
      const next = await expectLive(t.app, s.token);
      await expectDead(t.app, s.token);

      const other = (
        await login(t.app, s.username, PASSWORD, { 'user-agent': 'RedisAgent/1' })
      ).json<TokenBody>();
      const listed = await t.app.inject({ method: 'GET', url: '/sessions', headers: bearer(next) });
      assertOk(listed);
      const sessions = listed.json<{
        sessions: { id: string; current: boolean; user_agent: string }[];
        token: string;
      }>();
      assert.deepEqual(
        sessions.sessions.map((x) => x.id).sort(),
        [sidOf(s.token), sidOf(other.token)].sort(),
      );
      assert.equal(sessions.sessions.find((x) => x.current)?.id, sidOf(s.token));
      assert.equal(sessions.sessions.find((x) => !x.current)?.user_agent, 'RedisAgent/1');

      const r1 = (await refresh(t.app, other.refresh_token)).json<TokenBody>();
      const grace = await refresh(t.app, other.refresh_token);
      assertOk(grace);
      assert.equal(grace.json<TokenBody>().refresh_token, r1.refresh_token);
      const r2 = (await refresh(t.app, r1.refresh_token)).json<TokenBody>();
      assertError(await refresh(t.app, other.refresh_token), 401, 'invalid_refresh_token');
      await expectDead(t.app, r2.token);

      const current = await expectLive(t.app, sessions.token);
      const third = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
      assertOk(await t.app.inject({ method: 'POST', url: '/logout', payload: { token: third.token } }));
      await expectDead(t.app, third.token);
      assertError(await refresh(t.app, third.refresh_token), 401, 'invalid_refresh_token');

      const fourth = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
      const all = await t.app.inject({ method: 'POST', url: '/logout_all', headers: bearer(current) });
      assert.deepEqual(all.json(), { message: 'Logged out of all sessions', revoked: 2 });
      await expectDead(t.app, fourth.token);
    },
  );

  it('a password change revokes the other sessions; deleting the user revokes all', { skip }, async () => {
    const t = await redisApp();
    const s = await signUpAndLogin(t.app);
    const other = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const res = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(s.token),
      payload: { password: 'redis backed new passphrase', current_password: PASSWORD },
    });
    assertOk(res);
    await expectDead(t.app, other.token);
    const next = await expectLive(t.app, res.json<UserBody>().token);
    const second = (await login(t.app, s.username, 'redis backed new passphrase')).json<TokenBody>();
    assertOk(await t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(next) }));
    await expectDead(t.app, second.token);
    assertError(await refresh(t.app, second.refresh_token), 401, 'invalid_refresh_token');
  });

  it('every key the server writes expires within the session lifetime', { skip }, async () => {
    const t = await redisApp();
    const s = await signUpAndLogin(t.app);
    await refresh(t.app, s.refreshToken);
    await expectLive(t.app, s.token);
    const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keys = await keysUnder(admin, prefixes[prefixes.length - 1] ?? '');
      assert.ok(keys.length > 0);
      for (const key of keys) {
        const ttl = await admin.pttl(key);
        assert.ok(ttl > 0 && ttl <= 30 * DAY_MS, `${key}: PTTL ${ttl}`);
      }
    } finally {
      admin.disconnect();
    }
  });

  it('REFRESH_REUSE_WINDOW=0: the refresh token just rotated revokes the session', { skip }, async () => {
    const frozen = Date.now();
    const t = await redisApp({ REFRESH_REUSE_WINDOW: '0' }, { now: () => frozen });
    const s = await signUpAndLogin(t.app);
    const rotated = (await refresh(t.app, s.refreshToken)).json<TokenBody>();
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    await expectDead(t.app, rotated.token);
  });

  it('TOKEN_ROTATION=off: a token is reusable until its session is revoked', { skip }, async () => {
    const t = await redisApp({ TOKEN_ROTATION: 'off' });
    const s = await signUpAndLogin(t.app);
    const results = await Promise.all(Array.from({ length: 5 }, () => getUser(t.app, s.token)));
    for (const r of results) {
      assertOk(r);
      assert.equal(r.json<UserBody>().token, s.token);
    }
    assertOk(await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(s.token) }));
    await expectDead(t.app, s.token);
  });

  it('refresh tokens are never stored: no key or value holds one, nor its MAC', { skip }, async () => {
    const t = await redisApp();
    const s = await signUpAndLogin(t.app);
    const rotated = await refresh(t.app, s.refreshToken);
    assertOk(rotated);
    const secrets = [s.refreshToken, rotated.json<TokenBody>().refresh_token].flatMap((token) => [
      token,
      token.slice(token.lastIndexOf('.') + 1),
    ]);
    const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const stored: string[] = [];
      const keys = await keysUnder(admin, prefixes.at(-1) ?? '');
      assert.ok(keys.length > 0, 'the session is in Redis');
      for (const key of keys) {
        stored.push(key);
        const type = await admin.type(key);
        if (type === 'string') stored.push((await admin.get(key)) ?? '');
        else if (type === 'hash') stored.push(...Object.entries(await admin.hgetall(key)).flat());
        else if (type === 'set') stored.push(...(await admin.smembers(key)));
        else assert.fail(`unexpected ${type} at ${key}`);
      }
      for (const secret of secrets) {
        assert.ok(secret.length >= 20, 'a MAC segment long enough to mean something');
        for (const item of stored) assert.ok(!item.includes(secret), `found in Redis: ${item}`);
      }
    } finally {
      admin.disconnect();
    }
  });

  it("the seed's REDIS_HOST and REDIS_PORT select the Redis store", { skip }, async () => {
    const url = new URL(REDIS_URL);
    const prefix = `${runId}:${prefixes.length}`;
    prefixes.push(prefix);
    const t = await makeApp({
      REDIS_HOST: url.hostname,
      REDIS_PORT: url.port || '6379',
      REDIS_KEY_PREFIX: prefix,
    });
    apps.push(t);
    const s = await signUpAndLogin(t.app);
    await expectLive(t.app, s.token);
    const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      assert.ok((await keysUnder(admin, prefix)).length > 0, 'the session was written to that Redis');
    } finally {
      admin.disconnect();
    }
  });
});
