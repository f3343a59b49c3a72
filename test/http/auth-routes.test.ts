import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import {
  assertError,
  assertOk,
  expectDead,
  expectLive,
  jwtPart,
  login,
  refresh,
  sidOf,
  type TokenBody,
} from './http-helpers.js';
import { verifications } from './metrics-helpers.js';

let t: TestApp;
before(async () => {
  t = await makeApp();
});
after(async () => {
  await t.close();
});

interface ValidateBody {
  message: string;
  token: string;
  user_id: number;
  expires_in: number;
}

function assertTokenResponse(body: TokenBody): void {
  assert.deepEqual(Object.keys(body).sort(), [
    'access_token',
    'expires_in',
    'refresh_token',
    'token',
    'token_type',
  ]);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.access_token, body.token);
  assert.equal(body.expires_in, 2100);
  assert.equal(typeof body.refresh_token, 'string');
  assert.ok(body.refresh_token.length > 0);
}

describe('POST /authenticate_user', () => {
  it('answers 200 with token, access_token, token_type Bearer, expires_in 2100 and refresh_token', async () => {
    const username = uniqueName();
    const created = await t.app.inject({
      method: 'POST',
      url: '/user',
      payload: { username, password: PASSWORD },
    });
    const userId = created.json<{ user: { id: number } }>().user.id;
    const res = await login(t.app, username, PASSWORD);
    assertOk(res);
    const body = res.json<TokenBody>();
    assertTokenResponse(body);

    const header = jwtPart(body.token, 0);
    assert.equal(header.alg, 'EdDSA');
    assert.equal(header.typ, 'at+jwt');
    assert.equal(typeof header.kid, 'string');
    const claims = jwtPart(body.token, 1);
    assert.equal(claims.iss, 'keyward');
    assert.equal(claims.aud, 'keyward');
    assert.equal(claims.sub, String(userId));
    assert.equal(claims.user_id, userId);
    assert.equal(typeof claims.sid, 'string');
    assert.equal(typeof claims.jti, 'string');
    assert.equal((claims.exp as number) - (claims.iat as number), 2100);
    await expectLive(t.app, body.token);
  });

  it('matches the username case-insensitively', async () => {
    const s = await signUpAndLogin(t.app, uniqueName('MixedCase'));
    for (const spelling of [s.username.toLowerCase(), s.username.toUpperCase()]) {
      assert.notEqual(spelling, s.username);
      const res = await login(t.app, spelling, PASSWORD);
      assertOk(res);
      // The token is the existing account's (not a second one), and it names the username as registered.
      const token = res.json<TokenBody>().token;
      assert.equal(jwtPart(token, 1).user_id, s.userId);
      assert.equal(jwtPart(token, 1).sub, String(s.userId));
      const user = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(token) });
      assertOk(user);
      const { id, username } = user.json<{ user: { id: number; username: string } }>().user;
      assert.deepEqual({ id, username }, { id: s.userId, username: s.username });
    }
  });

  it('answers an unknown user and a wrong password with the same 401 "Invalid credentials"', async () => {
    const s = await signUpAndLogin(t.app);
    const wrong = await login(t.app, s.username, 'not the password at all');
    const unknown = await login(t.app, uniqueName('ghost'), 'not the password at all');
    assertError(wrong, 401, 'invalid_credentials', 'Invalid credentials');
    assert.equal(unknown.statusCode, wrong.statusCode);
    assert.equal(unknown.body, wrong.body);
    assert.equal(unknown.headers['content-type'], wrong.headers['content-type']);
  });

  it('runs exactly one password verification for an unknown user, as for a wrong password', async () => {
    // Measured on the hash metric (every verification that ran, the dummy one included): an unknown user that
    // skipped the dummy verification would answer faster and tell that the account does not exist.
    const s = await signUpAndLogin(t.app);
    const before = await verifications(t.app);
    assertError(await login(t.app, s.username, 'not the password at all'), 401, 'invalid_credentials');
    const afterWrong = await verifications(t.app);
    assert.equal(afterWrong - before, 1, 'a wrong password runs one verification');
    assertError(
      await login(t.app, uniqueName('ghost'), 'not the password at all'),
      401,
      'invalid_credentials',
    );
    assert.equal((await verifications(t.app)) - afterWrong, 1, 'an unknown user runs one verification too');
  });

  for (const [label, payload, field, other] of [
    ['a missing username', { password: PASSWORD }, 'username', 'password'],
    ['a missing password', { username: 'someone' }, 'password', 'username'],
    ['a number as password', { username: 'someone', password: 12345678 }, 'password', 'username'],
    ['an array as username', { username: ['someone'], password: PASSWORD }, 'username', 'password'],
    ['a null password', { username: 'someone', password: null }, 'password', 'username'],
  ] as const) {
    it(`answers 400 for ${label}, naming that field`, async () => {
      const res = await t.app.inject({ method: 'POST', url: '/authenticate_user', payload });
      const body = assertError(res, 400, 'validation_failed');
      assert.match(body.error, new RegExp(`\\b${field}\\b`));
      assert.doesNotMatch(body.error, new RegExp(`\\b${other}\\b`));
    });
  }

  it('answers 400 for an empty object, naming a missing field', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/authenticate_user', payload: {} });
    const body = assertError(res, 400, 'validation_failed');
    assert.match(body.error, /\b(username|password)\b/);
  });

  it('opens a new session on every login', async () => {
    const s = await signUpAndLogin(t.app);
    const second = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    assert.notEqual(sidOf(second.token), sidOf(s.token));
    assert.notEqual(second.refresh_token, s.refreshToken);
    await expectLive(t.app, s.token);
    await expectLive(t.app, second.token);
  });
});

describe('POST /validate_token', () => {
  const validate = (options: { token?: string; body?: unknown }) =>
    t.app.inject({
      method: 'POST',
      url: '/validate_token',
      ...(options.token !== undefined ? { headers: bearer(options.token) } : {}),
      ...(options.body !== undefined ? { payload: options.body as Record<string, unknown> } : {}),
    });

  for (const via of ['header', 'body'] as const) {
    it(`accepts the token in the ${via}, consumes it and returns a working successor`, async () => {
      const s = await signUpAndLogin(t.app);
      const res = await validate(via === 'header' ? { token: s.token } : { body: { token: s.token } });
      assertOk(res);
      const body = res.json<ValidateBody>();
      assert.deepEqual(body, {
        message: 'Token is valid',
        token: body.token,
        user_id: s.userId,
        expires_in: 2100,
      });
      assert.notEqual(body.token, s.token);
      assert.equal(sidOf(body.token), sidOf(s.token));

      const replay = await validate(via === 'header' ? { token: s.token } : { body: { token: s.token } });
      assertError(replay, 401, 'invalid_token', 'Invalid or expired token');
      await expectLive(t.app, body.token);
    });
  }

  it('answers 401 "Token is missing" with neither header nor body token', async () => {
    assertError(await validate({}), 401, 'token_missing', 'Token is missing');
    assertError(await validate({ body: {} }), 401, 'token_missing', 'Token is missing');
    assertError(await validate({ body: { token: '' } }), 401, 'token_missing', 'Token is missing');
  });

  it('answers 401 "Invalid or expired token" for a garbage token', async () => {
    assertError(await validate({ token: 'garbage' }), 401, 'invalid_token', 'Invalid or expired token');
    assertError(
      await validate({ body: { token: 'x.y.z' } }),
      401,
      'invalid_token',
      'Invalid or expired token',
    );
  });

  it('answers 400 naming the field for a token of the wrong type in the body', async () => {
    for (const token of [42, ['a']]) {
      const body = assertError(await validate({ body: { token } }), 400, 'validation_failed');
      assert.match(body.error, /\btoken\b/);
    }
  });

  it('answers 400 for an ill-typed body token without consuming the header token', async () => {
    const s = await signUpAndLogin(t.app);
    const body = assertError(
      await validate({ token: s.token, body: { token: 42 } }),
      400,
      'validation_failed',
    );
    assert.match(body.error, /\btoken\b/);
    assert.equal(body.token, undefined);
    await expectLive(t.app, s.token);
  });
});

describe('POST /logout', () => {
  const logout = (options: { token?: string; body?: Record<string, unknown> }) =>
    t.app.inject({
      method: 'POST',
      url: '/logout',
      ...(options.token !== undefined ? { headers: bearer(options.token) } : {}),
      ...(options.body !== undefined ? { payload: options.body } : {}),
    });

  for (const via of ['header', 'body'] as const) {
    it(`with the token in the ${via} revokes the session: its tokens and refresh token die`, async () => {
      const s = await signUpAndLogin(t.app);
      const other = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
      const refreshed = (await refresh(t.app, s.refreshToken)).json<TokenBody>();
      const current = await expectLive(t.app, refreshed.token);

      const res = await logout(via === 'header' ? { token: current } : { body: { token: current } });
      assertOk(res);
      assert.deepEqual(res.json(), { message: 'Logged out successfully' });

      await expectDead(t.app, current);
      assertError(await refresh(t.app, refreshed.refresh_token), 401, 'invalid_refresh_token');
      assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
      assertError(await logout({ token: current }), 401, 'invalid_token', 'Invalid or expired token');
      await expectLive(t.app, other.token);
    });
  }

  it('answers 401 "Token is missing" without a token', async () => {
    assertError(await logout({}), 401, 'token_missing', 'Token is missing');
    assertError(await logout({ body: {} }), 401, 'token_missing', 'Token is missing');
  });

  it('answers 401 "Invalid or expired token" for an invalid or already used token', async () => {
    assertError(await logout({ token: 'garbage' }), 401, 'invalid_token', 'Invalid or expired token');
    const s = await signUpAndLogin(t.app);
    const next = await expectLive(t.app, s.token);
    assertError(await logout({ body: { token: s.token } }), 401, 'invalid_token', 'Invalid or expired token');
    await expectLive(t.app, next);
  });
});

describe('POST /refresh_token', () => {
  it('answers 200 like /authenticate_user with a new access and refresh token of the same session', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await refresh(t.app, s.refreshToken);
    assertOk(res);
    const body = res.json<TokenBody>();
    assertTokenResponse(body);
    assert.notEqual(body.refresh_token, s.refreshToken);
    assert.equal(sidOf(body.token), sidOf(s.token));
    const claims = jwtPart(body.token, 1);
    assert.equal((claims.exp as number) - (claims.iat as number), 2100);
    await expectLive(t.app, body.token);
    assertOk(await refresh(t.app, body.refresh_token));
  });

  it('answers 400 for a missing or ill-typed refresh_token', async () => {
    const empty = await t.app.inject({ method: 'POST', url: '/refresh_token', payload: {} });
    assertError(empty, 400, 'validation_failed');
    assert.match(empty.json<{ error: string }>().error, /refresh_token/);
    const typed = await t.app.inject({
      method: 'POST',
      url: '/refresh_token',
      payload: { refresh_token: 7 },
    });
    assertError(typed, 400, 'validation_failed');
  });

  it('answers 401 for an unknown, forged or garbage refresh token', async () => {
    const s = await signUpAndLogin(t.app);
    const parts = s.refreshToken.split('.');
    const forgedCounter = [...parts.slice(0, 3), '5', parts[4]].join('.');
    const forgedMac = [...parts.slice(0, 4), 'A'.repeat(parts[4]?.length ?? 43)].join('.');
    for (const token of ['garbage', 'a.b.c.d.e', forgedCounter, forgedMac, s.refreshToken + 'x']) {
      assertError(await refresh(t.app, token), 401, 'invalid_refresh_token');
    }
    await expectLive(t.app, s.token);
    assertOk(await refresh(t.app, s.refreshToken));
  });

  it('the refresh token just rotated returns the same successor within the reuse window', async () => {
    const s = await signUpAndLogin(t.app);
    const first = (await refresh(t.app, s.refreshToken)).json<TokenBody>();
    const again = await refresh(t.app, s.refreshToken);
    assertOk(again);
    const second = again.json<TokenBody>();
    assert.equal(second.refresh_token, first.refresh_token);
    assert.notEqual(second.token, first.token);
    await expectLive(t.app, first.token);
    await expectLive(t.app, second.token);
    assertOk(await refresh(t.app, first.refresh_token));
  });

  it('reuse of an older refresh token revokes the session and all its access tokens', async () => {
    const s = await signUpAndLogin(t.app);
    const other = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const r1 = (await refresh(t.app, s.refreshToken)).json<TokenBody>();
    const r2 = (await refresh(t.app, r1.refresh_token)).json<TokenBody>();
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    await expectDead(t.app, r2.token);
    await expectDead(t.app, r1.token);
    assertError(await refresh(t.app, r2.refresh_token), 401, 'invalid_refresh_token');
    await expectLive(t.app, other.token);
  });
});
