import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import {
  assertError,
  assertOk,
  expectDead,
  expectLive,
  login,
  refresh,
  sidOf,
  type ErrorBody,
  type SessionItem,
  type TokenBody,
} from './http-helpers.js';

let t: TestApp;
before(async () => {
  t = await makeApp();
});
after(async () => {
  await t.close();
});

interface SessionsBody {
  sessions: SessionItem[];
  token: string;
}

const listSessions = (token: string, app = t.app) =>
  app.inject({ method: 'GET', url: '/sessions', headers: bearer(token) });
const revokeSession = (token: string, id: string) =>
  t.app.inject({ method: 'DELETE', url: `/sessions/${encodeURIComponent(id)}`, headers: bearer(token) });
const logoutAll = (token: string) =>
  t.app.inject({ method: 'POST', url: '/logout_all', headers: bearer(token) });

describe('GET /sessions', () => {
  it('lists every live session with ids equal to the sid claim and marks the current one', async () => {
    const s = await signUpAndLogin(t.app);
    const phone = (
      await login(t.app, s.username, PASSWORD, { 'user-agent': 'KeywardPhone/2.0' })
    ).json<TokenBody>();
    const res = await listSessions(s.token);
    assertOk(res);
    const body = res.json<SessionsBody>();
    assert.deepEqual(Object.keys(body).sort(), ['sessions', 'token']);
    assert.equal(body.sessions.length, 2);
    const ids = body.sessions.map((x) => x.id).sort();
    assert.deepEqual(ids, [sidOf(s.token), sidOf(phone.token)].sort());
    for (const session of body.sessions) {
      assert.deepEqual(Object.keys(session).sort(), [
        'created_at',
        'current',
        'id',
        'ip',
        'last_used_at',
        'user_agent',
      ]);
      assert.ok(!Number.isNaN(Date.parse(session.created_at)));
      assert.ok(Date.parse(session.last_used_at) >= Date.parse(session.created_at));
      assert.equal(session.current, session.id === sidOf(s.token));
    }
    assert.equal(body.sessions.filter((x) => x.current).length, 1);
    assert.equal(body.sessions.find((x) => x.id === sidOf(phone.token))?.user_agent, 'KeywardPhone/2.0');
    await expectDead(t.app, s.token);
    await expectLive(t.app, body.token);
  });

  it('records the user agent and the client IP of the login', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/authenticate_user',
      payload: { username: s.username, password: PASSWORD },
      headers: { 'user-agent': 'Mozilla/5.0 (KeywardTest)' },
      remoteAddress: '127.0.0.77',
    });
    const laptop = res.json<TokenBody>();
    const body = (await listSessions(laptop.token)).json<SessionsBody>();
    const session = body.sessions.find((x) => x.id === sidOf(laptop.token));
    assert.ok(session);
    assert.equal(session.user_agent, 'Mozilla/5.0 (KeywardTest)');
    assert.equal(session.ip, '127.0.0.77');
    assert.equal(session.current, true);
  });

  it("never lists another user's sessions nor a session that logged out", async () => {
    const a = await signUpAndLogin(t.app);
    const b = await signUpAndLogin(t.app);
    const a2 = (await login(t.app, a.username, PASSWORD)).json<TokenBody>();
    assertOk(await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(a2.token) }));
    const body = (await listSessions(a.token)).json<SessionsBody>();
    assert.deepEqual(
      body.sessions.map((x) => x.id),
      [sidOf(a.token)],
    );
    assert.ok(!body.sessions.some((x) => x.id === sidOf(b.token)));
  });

  it('answers 401 without a token or with a replayed one', async () => {
    assertError(
      await t.app.inject({ method: 'GET', url: '/sessions' }),
      401,
      'token_missing',
      'Token is missing',
    );
    const s = await signUpAndLogin(t.app);
    await expectLive(t.app, s.token);
    assertError(await listSessions(s.token), 401, 'invalid_token', 'Invalid or expired token');
  });
});

describe('the idle lifetime', () => {
  it('slides: a session used before its idle end outlives it, and last_used_at is the time of that use', async () => {
    const start = Date.now();
    let now = start;
    const idle = await makeApp({ SESSION_IDLE_TTL: '60' }, { now: () => now });
    try {
      const s = await signUpAndLogin(idle.app);
      // A second session of the same user lists the sessions, so that listing is not a use of the first.
      let watcher = (await login(idle.app, s.username, PASSWORD)).json<TokenBody>().token;
      const lastUsedAt = async (): Promise<number> => {
        const res = await listSessions(watcher, idle.app);
        assertOk(res);
        const body = res.json<SessionsBody>();
        watcher = body.token;
        const session = body.sessions.find((x) => x.id === sidOf(s.token));
        assert.ok(session);
        assert.equal(Date.parse(session.created_at), start);
        return Date.parse(session.last_used_at);
      };
      now = start + 40_000;
      let token = await expectLive(idle.app, s.token);
      now = start + 50_000;
      assert.equal(await lastUsedAt(), start + 40_000);
      // Past the idle end the login set (60 s), before the one the use at 40 s set (100 s).
      now = start + 70_000;
      token = await expectLive(idle.app, token);
      now = start + 80_000;
      assert.equal(await lastUsedAt(), start + 70_000);
      now = start + 131_000;
      await expectDead(idle.app, token);
    } finally {
      await idle.close();
    }
  });
});

describe('DELETE /sessions/{id}', () => {
  it('revokes one session: its access and refresh tokens die, the caller keeps going', async () => {
    const s = await signUpAndLogin(t.app);
    const other = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const res = await revokeSession(s.token, sidOf(other.token));
    assertOk(res);
    const body = res.json<{ message: string; token: string }>();
    assert.deepEqual(body, { message: 'Session revoked', token: body.token });
    await expectDead(t.app, other.token);
    assertError(await refresh(t.app, other.refresh_token), 401, 'invalid_refresh_token');
    await expectDead(t.app, s.token);
    const next = await expectLive(t.app, body.token);
    const listed = (await listSessions(next)).json<SessionsBody>();
    assert.deepEqual(
      listed.sessions.map((x) => x.id),
      [sidOf(s.token)],
    );
  });

  it('answers 404 identically for an unknown id and for another user’s session, which stays live', async () => {
    const s = await signUpAndLogin(t.app);
    const victim = await signUpAndLogin(t.app);
    const unknown = await revokeSession(s.token, 'AAAAAAAAAAAAAAAAAAAAAA');
    const unknownBody = assertError(unknown, 404, 'session_not_found');
    assert.equal(typeof unknownBody.token, 'string');
    const foreign = await revokeSession(unknownBody.token ?? '', sidOf(victim.token));
    const foreignBody = assertError(foreign, 404, 'session_not_found');
    assert.equal(typeof foreignBody.token, 'string');
    const strip = (body: ErrorBody) => ({ ...body, token: undefined });
    assert.deepEqual(strip(foreignBody), strip(unknownBody));
    await expectLive(t.app, victim.token);
    await expectLive(t.app, foreignBody.token ?? '');
  });

  it('revoking the current session logs the caller out', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await revokeSession(s.token, sidOf(s.token));
    assertOk(res);
    await expectDead(t.app, res.json<{ token: string }>().token);
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
  });

  it('answers 401 without a token', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/sessions/AAAAAAAAAAAAAAAAAAAAAA' });
    assertError(res, 401, 'token_missing', 'Token is missing');
  });
});

describe('POST /logout_all', () => {
  it('revokes every session of the user, the current one included, and counts them', async () => {
    const s = await signUpAndLogin(t.app);
    const second = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const third = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const bystander = await signUpAndLogin(t.app);
    const res = await logoutAll(second.token);
    assertOk(res);
    assert.deepEqual(res.json(), { message: 'Logged out of all sessions', revoked: 3 });
    await expectDead(t.app, s.token);
    await expectDead(t.app, third.token);
    await expectDead(t.app, second.token);
    for (const rt of [s.refreshToken, second.refresh_token, third.refresh_token]) {
      assertError(await refresh(t.app, rt), 401, 'invalid_refresh_token');
    }
    await expectLive(t.app, bystander.token);
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('answers 401 without a token and for a garbage token', async () => {
    assertError(
      await t.app.inject({ method: 'POST', url: '/logout_all' }),
      401,
      'token_missing',
      'Token is missing',
    );
    assertError(await logoutAll('garbage'), 401, 'invalid_token', 'Invalid or expired token');
  });
});
