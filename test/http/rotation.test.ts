import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { MAX_TOKENS_PER_SESSION } from '../../src/stores/token-store.js';
import {
  assertError,
  assertOk,
  expectDead,
  expectLive,
  getUser,
  jwtPart,
  login,
  refresh,
  sidOf,
  type TokenBody,
  type UserBody,
} from './http-helpers.js';

const lifetime = (token: string): number => {
  const claims = jwtPart(token, 1);
  return (claims.exp as number) - (claims.iat as number);
};

describe('TOKEN_ROTATION=per-request', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp();
  });
  after(async () => {
    await t.close();
  });

  it('of 20 concurrent GET /user with one token exactly one succeeds', async () => {
    const s = await signUpAndLogin(t.app);
    const results = await Promise.all(Array.from({ length: 20 }, () => getUser(t.app, s.token)));
    const ok = results.filter((r) => r.statusCode === 200);
    assert.equal(ok.length, 1, results.map((r) => r.statusCode).join(','));
    for (const r of results.filter((x) => x.statusCode !== 200)) assertError(r, 401, 'invalid_token');
    await expectLive(t.app, ok[0]?.json<UserBody>().token ?? '');
  });

  it('of 20 concurrent /validate_token with one token exactly one succeeds', async () => {
    const s = await signUpAndLogin(t.app);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.app.inject({ method: 'POST', url: '/validate_token', payload: { token: s.token } }),
      ),
    );
    assert.equal(results.filter((r) => r.statusCode === 200).length, 1);
    assert.equal(results.filter((r) => r.statusCode === 401).length, 19);
  });

  it('20 concurrent refreshes with one refresh token all succeed with the same successor', async () => {
    const s = await signUpAndLogin(t.app);
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(t.app, s.refreshToken)));
    for (const r of results) assertOk(r);
    const successors = new Set(results.map((r) => r.json<TokenBody>().refresh_token));
    assert.equal(successors.size, 1);
    const accessTokens = results.map((r) => r.json<TokenBody>().token);
    assert.equal(new Set(accessTokens).size, 20);
    // The session holds at most MAX_TOKENS_PER_SESSION of the 21 tokens (SPEC §8): the oldest went.
    const live = [];
    for (const token of [s.token, ...accessTokens])
      live.push((await getUser(t.app, token)).statusCode === 200);
    assert.equal(live.filter(Boolean).length, MAX_TOKENS_PER_SESSION);
    assert.equal(live[0], false, 'the login token was the oldest');
  });

  it('every authenticated route hands out a working successor and rejects the replay', async () => {
    const s = await signUpAndLogin(t.app);
    let token = s.token;
    const calls = [
      () => getUser(t.app, token),
      () => t.app.inject({ method: 'GET', url: '/sessions', headers: bearer(token) }),
      () =>
        t.app.inject({
          method: 'PUT',
          url: '/user',
          headers: bearer(token),
          payload: { username: s.username },
        }),
      () => t.app.inject({ method: 'POST', url: '/validate_token', headers: bearer(token) }),
    ];
    for (const call of calls) {
      const used = token;
      const res = await call();
      assertOk(res);
      token = res.json<{ token: string }>().token;
      assert.notEqual(token, used);
      assert.equal(sidOf(token), sidOf(used));
      await expectDead(t.app, used);
    }
    await expectLive(t.app, token);
  });
});

describe('TOKEN_ROTATION=off', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp({ TOKEN_ROTATION: 'off' });
  });
  after(async () => {
    await t.close();
  });

  it('a token is reusable and every response echoes the same token', async () => {
    const s = await signUpAndLogin(t.app);
    for (let i = 0; i < 3; i += 1) {
      const res = await getUser(t.app, s.token);
      assertOk(res);
      assert.equal(res.json<UserBody>().token, s.token);
    }
    const sessions = await t.app.inject({ method: 'GET', url: '/sessions', headers: bearer(s.token) });
    assertOk(sessions);
    assert.equal(sessions.json<{ token: string }>().token, s.token);
    const put = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(s.token),
      payload: { username: s.username },
    });
    assertOk(put);
    assert.equal(put.json<UserBody>().token, s.token);
  });

  it('20 concurrent requests with one token all succeed', async () => {
    const s = await signUpAndLogin(t.app);
    const results = await Promise.all(Array.from({ length: 20 }, () => getUser(t.app, s.token)));
    for (const r of results) assertOk(r);
  });

  it('/validate_token still renews: the presented token is consumed and the new one is reusable', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/validate_token', headers: bearer(s.token) });
    assertOk(res);
    const next = res.json<{ token: string; expires_in: number }>();
    assert.notEqual(next.token, s.token);
    assert.equal(next.expires_in, 2100);
    await expectDead(t.app, s.token);
    await expectLive(t.app, next.token);
    await expectLive(t.app, next.token);
  });

  it('logout still revokes the session', async () => {
    const s = await signUpAndLogin(t.app);
    assertOk(await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(s.token) }));
    await expectDead(t.app, s.token);
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
  });

  it('a password change still revokes the other sessions and the current token keeps working', async () => {
    const s = await signUpAndLogin(t.app);
    const other = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const res = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(s.token),
      payload: { password: 'rotation off new passphrase', current_password: PASSWORD },
    });
    assertOk(res);
    assert.equal(res.json<UserBody>().token, s.token);
    await expectDead(t.app, other.token);
    await expectLive(t.app, s.token);
  });

  it('logout_all, session revocation and account deletion still kill tokens', async () => {
    const s = await signUpAndLogin(t.app);
    const other = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/sessions/${sidOf(other.token)}`,
      headers: bearer(s.token),
    });
    assertOk(revoked);
    assert.equal(revoked.json<{ token: string }>().token, s.token);
    await expectDead(t.app, other.token);

    const third = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const all = await t.app.inject({ method: 'POST', url: '/logout_all', headers: bearer(third.token) });
    assert.deepEqual(all.json(), { message: 'Logged out of all sessions', revoked: 2 });
    await expectDead(t.app, s.token);
    await expectDead(t.app, third.token);

    const fourth = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    assertOk(await t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(fourth.token) }));
    await expectDead(t.app, fourth.token);
  });
});

describe('REFRESH_REUSE_WINDOW=0', () => {
  let t: TestApp;
  // A frozen clock: the reuse below happens in the same millisecond as the rotation, and still counts as reuse.
  const frozen = Date.now();
  before(async () => {
    t = await makeApp({ REFRESH_REUSE_WINDOW: '0' }, { now: () => frozen });
  });
  after(async () => {
    await t.close();
  });

  it('presenting the refresh token just rotated revokes the session', async () => {
    const s = await signUpAndLogin(t.app);
    const rotated = await refresh(t.app, s.refreshToken);
    assertOk(rotated);
    const next = rotated.json<TokenBody>();
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    await expectDead(t.app, next.token);
    assertError(await refresh(t.app, next.refresh_token), 401, 'invalid_refresh_token');
  });
});

describe('REFRESH_REUSE_WINDOW default (10 s)', () => {
  let t: TestApp;
  let now = Date.now();
  before(async () => {
    t = await makeApp({}, { now: () => now });
  });
  after(async () => {
    await t.close();
  });

  /** Logs in and rotates the refresh token once at the current clock; returns the login and the rotation. */
  const loginAndRotate = async () => {
    const s = await signUpAndLogin(t.app);
    const rotated = await refresh(t.app, s.refreshToken);
    assertOk(rotated);
    return { s, first: rotated.json<TokenBody>() };
  };

  it('the refresh token just rotated, presented 9 s later, returns the same successor and a fresh access token', async () => {
    const { s, first } = await loginAndRotate();
    now += 9_000;
    const again = await refresh(t.app, s.refreshToken);
    assertOk(again);
    const body = again.json<TokenBody>();
    assert.equal(body.refresh_token, first.refresh_token);
    assert.notEqual(body.token, first.token);
    assert.equal(body.access_token, body.token);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 2100);
    assert.equal(sidOf(body.token), sidOf(s.token));
    await expectLive(t.app, body.token);
    assertOk(await refresh(t.app, body.refresh_token));
  });

  it('the refresh token just rotated, presented 11 s later, revokes the session', async () => {
    const { s, first } = await loginAndRotate();
    now += 11_000;
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    await expectDead(t.app, first.token);
    await expectDead(t.app, s.token);
    assertError(await refresh(t.app, first.refresh_token), 401, 'invalid_refresh_token');
  });
});

describe('lifetimes', () => {
  it('every token has the ACCESS_TOKEN_TTL lifetime whatever route issued it', async () => {
    const t = await makeApp({ ACCESS_TOKEN_TTL: '600' });
    try {
      const s = await signUpAndLogin(t.app);
      assert.equal(lifetime(s.token), 600);
      const refreshed = (await refresh(t.app, s.refreshToken)).json<TokenBody>();
      assert.equal(refreshed.expires_in, 600);
      assert.equal(lifetime(refreshed.token), 600);
      const validated = (
        await t.app.inject({ method: 'POST', url: '/validate_token', headers: bearer(refreshed.token) })
      ).json<{ token: string; expires_in: number }>();
      assert.equal(validated.expires_in, 600);
      assert.equal(lifetime(validated.token), 600);
      const got = (await getUser(t.app, validated.token)).json<UserBody>();
      assert.equal(lifetime(got.token), 600);
    } finally {
      await t.close();
    }
  });

  it('a token past its expiry is rejected', async () => {
    // The server's clock jumps past the token's lifetime: the token, which this very process signed (and
    // may remember as verified), is refused all the same.
    let offset = 0;
    const t = await makeApp({ ACCESS_TOKEN_TTL: '600' }, { now: () => Date.now() + offset });
    try {
      const s = await signUpAndLogin(t.app);
      offset = 600_000;
      await expectDead(t.app, s.token);
    } finally {
      await t.close();
    }
  });

  it('a session kept busy is gone with its refresh token at SESSION_MAX_TTL', async () => {
    const start = Date.now();
    let now = start;
    // ACCESS_TOKEN_TTL may not exceed SESSION_MAX_TTL.
    const env = { SESSION_IDLE_TTL: '60', SESSION_MAX_TTL: '120', ACCESS_TOKEN_TTL: '120' };
    const t = await makeApp(env, { now: () => now });
    try {
      const s = await signUpAndLogin(t.app);
      let token = s.token;
      let refreshToken = s.refreshToken;
      // Each use comes before the idle end set by the one before it.
      for (const at of [50_000, 100_000, 119_000]) {
        now = start + at;
        token = await expectLive(t.app, token);
        const refreshed = await refresh(t.app, refreshToken);
        assertOk(refreshed);
        refreshToken = refreshed.json<TokenBody>().refresh_token;
      }
      // Last used 2 s ago, with a token and a refresh token 2 s old: only the absolute end has passed.
      now = start + 121_000;
      await expectDead(t.app, token);
      assertError(await refresh(t.app, refreshToken), 401, 'invalid_refresh_token');
    } finally {
      await t.close();
    }
  });

  it('a session idle for longer than SESSION_IDLE_TTL is gone with its refresh token', async () => {
    let offset = 0;
    const t = await makeApp({ SESSION_IDLE_TTL: '60' }, { now: () => Date.now() + offset });
    try {
      const s = await signUpAndLogin(t.app);
      const fresh = await signUpAndLogin(t.app);
      offset = 30_000;
      const next = await expectLive(t.app, fresh.token);
      offset = 61_000;
      await expectDead(t.app, s.token);
      assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
      // The session used 31 s ago is alive, tokens and refresh token both.
      await expectLive(t.app, next);
      assertOk(await refresh(t.app, fresh.refreshToken));
    } finally {
      await t.close();
    }
  });
});
