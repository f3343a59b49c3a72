import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { freePort, redisBinariesMissing, RedisServer } from '../helpers/redis-server.js';
import { assertError, assertOk, expectLive, login, refresh, sidOf, type TokenBody } from './http-helpers.js';
import { assertUnavailable, timed, timedLogin, waitUntilReady, type TimedReply } from './outage-helpers.js';

const skip = (await redisBinariesMissing()) ?? false;
const apps: TestApp[] = [];
const servers: RedisServer[] = [];

after(async () => {
  await Promise.all(apps.map((t) => t.close()));
  await Promise.all(servers.map((s) => s.destroy()));
});

/** An app whose token store and rate limits live in a private Redis (rate limits on, as in production). */
async function appOn(url: string, env: Record<string, string> = {}): Promise<TestApp> {
  const t = await makeApp({ REDIS_URL: url, RATE_LIMIT: 'on', ...env });
  apps.push(t);
  return t;
}

async function privateRedis(port?: number): Promise<RedisServer> {
  const server = await RedisServer.start(port === undefined ? {} : { port });
  servers.push(server);
  return server;
}

/** Senders for every route that needs the token store or the rate limits, with a live session's credentials. */
function storeRoutes(
  t: TestApp,
  s: { username: string; token: string; refreshToken: string },
): (() => Promise<TimedReply>)[] {
  const auth = bearer(s.token);
  return [
    () => timed(t.app, 'GET /user', { method: 'GET', url: '/user', headers: auth }),
    () =>
      timed(t.app, 'PUT /user', {
        method: 'PUT',
        url: '/user',
        headers: auth,
        payload: { username: uniqueName('renamed'), current_password: PASSWORD },
      }),
    () => timed(t.app, 'DELETE /user', { method: 'DELETE', url: '/user', headers: auth }),
    () => timed(t.app, 'POST /validate_token', { method: 'POST', url: '/validate_token', headers: auth }),
    () => timed(t.app, 'POST /logout', { method: 'POST', url: '/logout', headers: auth }),
    () => timed(t.app, 'POST /logout_all', { method: 'POST', url: '/logout_all', headers: auth }),
    () =>
      timed(t.app, 'POST /refresh_token', {
        method: 'POST',
        url: '/refresh_token',
        payload: { refresh_token: s.refreshToken },
      }),
    () => timed(t.app, 'GET /sessions', { method: 'GET', url: '/sessions', headers: auth }),
    () =>
      timed(t.app, 'DELETE /sessions/:id', {
        method: 'DELETE',
        url: `/sessions/${sidOf(s.token)}`,
        headers: auth,
      }),
    () => timedLogin(t.app, s.username),
    () =>
      timed(t.app, 'POST /user', {
        method: 'POST',
        url: '/user',
        payload: { username: uniqueName('outage'), password: PASSWORD },
      }),
  ];
}

async function assertStoreDown(t: TestApp): Promise<void> {
  const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503, ready.body);
  assert.deepEqual(ready.json(), {
    status: 'unavailable',
    checks: { database: 'ok', token_store: 'unavailable' },
  });
  const health = await t.app.inject({ method: 'GET', url: '/healthz' });
  assertOk(health);
  assert.deepEqual(health.json(), { status: 'ok' });
}

describe('Redis outage over HTTP', () => {
  it(
    'every store-backed route answers 503 within 2 s, fails closed, and recovers by itself',
    { skip },
    async () => {
      const redis = await privateRedis();
      const t = await appOn(redis.url);
      const s = await signUpAndLogin(t.app);
      const other = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
      await expectLive(t.app, other.token);

      await redis.stop();

      for (const reply of await Promise.all(storeRoutes(t, s).map((send) => send())))
        assertUnavailable(reply);
      // One at a time too: a request alone must not wait longer than one among many.
      for (const send of storeRoutes(t, s)) assertUnavailable(await send());
      await assertStoreDown(t);
      assertOk(await t.app.inject({ method: 'GET', url: '/metrics' }));

      await redis.restart();
      await waitUntilReady(t.app);

      // The private Redis kept nothing: every session from before the outage is gone, and stays refused.
      assertError(
        await t.app.inject({ method: 'GET', url: '/user', headers: bearer(s.token) }),
        401,
        'invalid_token',
      );
      assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
      assertError(
        await t.app.inject({ method: 'POST', url: '/validate_token', headers: bearer(other.token) }),
        401,
        'invalid_token',
      );

      const fresh = await login(t.app, s.username, PASSWORD);
      assertOk(fresh);
      const next = await expectLive(t.app, fresh.json<TokenBody>().token);
      const again = await signUpAndLogin(t.app);
      await expectLive(t.app, again.token);
      const sessions = await t.app.inject({ method: 'GET', url: '/sessions', headers: bearer(next) });
      assertOk(sessions);
      assert.equal(sessions.json<{ sessions: unknown[] }>().sessions.length, 1);
    },
  );

  it(
    'a stop in the middle of many requests leaves no request hanging and no process crash',
    { skip },
    async () => {
      const redis = await privateRedis();
      const t = await appOn(redis.url);
      // Three groups of sessions (a token is single-use, so no two requests share one): sent before the stop,
      // while it is under way, and after it; the last group is the outage every run is sure to meet.
      const sessions = await Promise.all(Array.from({ length: 15 }, () => signUpAndLogin(t.app)));
      const send = (group: number) =>
        sessions
          .slice(group * 5, group * 5 + 5)
          .map((s) => timed(t.app, 'GET /user', { method: 'GET', url: '/user', headers: bearer(s.token) }));
      const before = send(0);
      const stopping = redis.stop();
      const during = send(1);
      await stopping;
      const after = send(2);
      for (const reply of await Promise.all([...before, ...during])) {
        // Each request either finished before the stop or failed closed with the 503.
        if (reply.res.statusCode !== 200) assertUnavailable(reply);
      }
      for (const reply of await Promise.all(after)) assertUnavailable(reply);
      await redis.restart();
      await waitUntilReady(t.app);
      const s = await signUpAndLogin(t.app);
      await expectLive(t.app, s.token);
    },
  );

  it(
    'an app started while Redis is down answers 503 and recovers when Redis comes up',
    { skip },
    async () => {
      const port = await freePort();
      const t = await appOn(`redis://127.0.0.1:${port}`);
      await assertStoreDown(t);
      assertUnavailable(
        await timed(t.app, 'POST /user', {
          method: 'POST',
          url: '/user',
          payload: { username: uniqueName('early'), password: PASSWORD },
        }),
      );
      assertUnavailable(await timedLogin(t.app, uniqueName('early')));

      await privateRedis(port);
      await waitUntilReady(t.app);
      const s = await signUpAndLogin(t.app);
      await expectLive(t.app, s.token);
    },
  );

  it('with RATE_LIMIT=off, login and signup still answer 503 while Redis is down', { skip }, async () => {
    const redis = await privateRedis();
    const t = await appOn(redis.url, { RATE_LIMIT: 'off' });
    const s = await signUpAndLogin(t.app);
    await redis.stop();
    assertUnavailable(await timedLogin(t.app, s.username));
    const refused = uniqueName('nolimit');
    assertUnavailable(
      await timed(t.app, 'POST /user', {
        method: 'POST',
        url: '/user',
        payload: { username: refused, password: PASSWORD },
      }),
    );
    await redis.restart();
    await waitUntilReady(t.app);
    assertOk(await login(t.app, s.username, PASSWORD));
    // The 503 signup left no account behind: the client's retry creates it rather than meeting a 409.
    const retry = await t.app.inject({
      method: 'POST',
      url: '/user',
      payload: { username: refused, password: PASSWORD },
    });
    assert.equal(retry.statusCode, 201, retry.body);
  });
});
