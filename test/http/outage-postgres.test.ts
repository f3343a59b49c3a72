import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { POSTGRES_URL } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { assertError, assertOk, expectLive, login, type TokenBody, type UserBody } from './http-helpers.js';
import { assertUnavailable, timed, timedLogin, waitUntilReady, type TimedReply } from './outage-helpers.js';

const skip = (await postgresUnavailable()) ?? false;

describe('PostgreSQL outage over HTTP', { skip }, () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  before(async () => {
    database = await createTestDatabase();
    const upstream = new URL(POSTGRES_URL);
    proxy = await TcpProxy.start({ host: upstream.hostname, port: Number(upstream.port || 5432) });
    const url = new URL(database.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    // The token store stays in memory: only the database goes away.
    t = await makeApp({ DATABASE_URL: url.toString() });
  });

  after(async () => {
    await t.close();
    await proxy.close();
    await database.drop();
  });

  it('routes that need the database answer 503 within 2 s, the others keep working, and it recovers', async () => {
    const s = await signUpAndLogin(t.app);
    const second = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const third = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const fourth = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    assert.ok(proxy.openConnections > 0, 'the app talks to PostgreSQL through the proxy');

    await proxy.cut();

    assertUnavailable(await timedLogin(t.app, s.username));
    assertUnavailable(
      await timed(t.app, 'POST /user', {
        method: 'POST',
        url: '/user',
        payload: { username: uniqueName('pgdown'), password: PASSWORD },
      }),
    );
    // These consumed the presented token before the database failed: the 503 carries the next one.
    const getUser = await timed(t.app, 'GET /user', {
      method: 'GET',
      url: '/user',
      headers: bearer(s.token),
    });
    assertUnavailable(getUser, true);
    const put = await timed(t.app, 'PUT /user', {
      method: 'PUT',
      url: '/user',
      headers: bearer(second.token),
      payload: { username: uniqueName('renamed'), current_password: PASSWORD },
    });
    assertUnavailable(put, true);
    const del = await timed(t.app, 'DELETE /user', {
      method: 'DELETE',
      url: '/user',
      headers: bearer(third.token),
    });
    assertUnavailable(del, true);

    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503, ready.body);
    assert.deepEqual(ready.json(), {
      status: 'unavailable',
      checks: { database: 'unavailable', token_store: 'ok' },
    });
    assertOk(await t.app.inject({ method: 'GET', url: '/healthz' }));

    // Token checks and sessions live in the token store; an audit event that cannot be stored is only logged.
    const validated = await t.app.inject({
      method: 'POST',
      url: '/validate_token',
      headers: bearer(fourth.token),
    });
    assertOk(validated);
    const sessions = await t.app.inject({
      method: 'GET',
      url: '/sessions',
      headers: bearer(validated.json<{ token: string }>().token),
    });
    assertOk(sessions);
    assertOk(
      await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: bearer(sessions.json<{ token: string }>().token),
      }),
    );

    await proxy.restore();
    await waitUntilReady(t.app);

    // The next tokens handed out with the 503s are live: no session was lost to the outage.
    const afterGet = await expectLive(t.app, getUser.res.json<{ token: string }>().token);
    await expectLive(t.app, put.res.json<{ token: string }>().token);
    const user = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(afterGet) });
    assertOk(user);
    assert.equal(user.json<UserBody>().user.username, s.username, 'the failed rename did not happen');
    // The failed delete did not happen either.
    assertOk(await login(t.app, s.username, PASSWORD));
    const fresh = await signUpAndLogin(t.app);
    await expectLive(t.app, fresh.token);
    assertError(
      await t.app.inject({
        method: 'POST',
        url: '/user',
        payload: { username: s.username, password: PASSWORD },
      }),
      409,
      'username_taken',
    );
  });

  it('a stalled network (connections open, no answers) is a 503 within 2 s too, and recovers', async () => {
    const s = await signUpAndLogin(t.app);
    const second = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    await proxy.stall();
    const replies = await Promise.all([
      timedLogin(t.app, s.username),
      timed(t.app, 'POST /user', {
        method: 'POST',
        url: '/user',
        payload: { username: uniqueName('stalled'), password: PASSWORD },
      }),
      timed(t.app, 'GET /user', { method: 'GET', url: '/user', headers: bearer(s.token) }),
    ]);
    assertUnavailable(replies[0]);
    assertUnavailable(replies[1]);
    assertUnavailable(replies[2], true);
    // Once more each, now that every pooled connection is known to hang.
    assertUnavailable(
      await timed(t.app, 'GET /user', { method: 'GET', url: '/user', headers: bearer(second.token) }),
      true,
    );
    const ready = await timed(t.app, 'GET /readyz', { method: 'GET', url: '/readyz' });
    assert.equal(ready.res.statusCode, 503);
    assert.ok(ready.ms < 2000, `readyz answered in ${Math.round(ready.ms)} ms`);

    await proxy.restore();
    await waitUntilReady(t.app);
    assertOk(await login(t.app, s.username, PASSWORD));
    await expectLive(t.app, replies[2].res.json<{ token: string }>().token);
  });

  it('more stalled requests than pooled connections still each answer 503 within 2 s', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => signUpAndLogin(t.app)));
    await proxy.stall();
    // Three times the pool size, arriving over 1.5 s: later requests wait for pooled connections that are
    // themselves hanging, which a per-step timeout alone would let add up past the deadline.
    const pending: Promise<TimedReply>[] = [];
    for (let i = 0; i < 30; i += 1) {
      pending.push(
        timed(t.app, `POST /authenticate_user #${i}`, {
          method: 'POST',
          url: '/authenticate_user',
          payload: { username: users[i % users.length]?.username, password: PASSWORD },
        }),
      );
      await sleep(50);
    }
    const replies = await Promise.all(pending);
    for (const reply of replies) assertUnavailable(reply);
    await proxy.restore();
    await waitUntilReady(t.app);
    assertOk(await login(t.app, users[0]?.username ?? '', PASSWORD));
  });

  it('a second outage and recovery works the same way', async () => {
    const s = await signUpAndLogin(t.app);
    await proxy.cut();
    assertUnavailable(await timedLogin(t.app, s.username));
    await proxy.restore();
    await waitUntilReady(t.app);
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('an app cannot be built while the database is down: a clear error names the database', async () => {
    const down = await TcpProxy.start({ host: '127.0.0.1', port: 5432 });
    await down.cut();
    const url = new URL(database.url);
    url.hostname = '127.0.0.1';
    url.port = String(down.port);
    url.password = 'not-a-real-secret';
    // A credential may also come as a query parameter (pg reads sslpassword, sslkey… from there).
    url.searchParams.set('sslpassword', 'another-unreal-secret');
    await assert.rejects(makeApp({ DATABASE_URL: url.toString() }), (error: Error) => {
      assert.match(error.message, /^cannot reach the database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:/);
      assert.doesNotMatch(error.message, /not-a-real-secret|another-unreal-secret/);
      assert.match(error.message, /sslpassword=\*\*\*/);
      assert.match((error.cause as Error).message, /ECONNREFUSED/);
      return true;
    });
  });
});
