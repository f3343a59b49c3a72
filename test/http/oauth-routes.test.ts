import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { deleteRedisKeys, REDIS_URL, redisUnavailable } from '../helpers/services.js';
import {
  assertError,
  assertOk,
  expectDead,
  expectLive,
  login,
  refresh,
  type TokenBody,
} from './http-helpers.js';

const CLIENT = { id: 'orders-api', secret: 'a-client-secret-of-some-length' };
const basic = (id: string, secret: string) => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
});
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let t: TestApp;
before(async () => {
  t = await makeApp({
    INTROSPECTION_CLIENTS: `${CLIENT.id}:${CLIENT.secret},other:another-secret-0123456789`,
  });
});
after(async () => {
  await t.close();
});

const introspect = (body: string, headers: Record<string, string> = basic(CLIENT.id, CLIENT.secret)) =>
  t.app.inject({ method: 'POST', url: '/introspect', headers: { ...FORM, ...headers }, payload: body });
const revoke = (body: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/revoke', headers: { ...FORM, ...headers }, payload: body });

describe('POST /introspect (RFC 7662)', () => {
  it("the RFC's example request: a form body with token and token_type_hint, Basic auth → the claims", async () => {
    const s = await signUpAndLogin(t.app);
    await t.deps.users.setRoles(s.userId, ['reader']);
    const fresh = (await login(t.app, s.username, PASSWORD)).json<TokenBody>().token;
    const res = await introspect(`token=${fresh}&token_type_hint=access_token`);
    assertOk(res);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json<Record<string, unknown>>();
    const payload = JSON.parse(Buffer.from(fresh.split('.')[1] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(body, {
      active: true,
      token_type: 'access_token',
      sub: String(s.userId),
      user_id: s.userId,
      sid: payload.sid,
      roles: ['reader'],
      iss: 'keyward',
      aud: 'keyward',
      iat: payload.iat,
      exp: payload.exp,
      jti: payload.jti,
    });
  });

  it('never consumes a single-use token: introspected twice, the token still works once', async () => {
    const s = await signUpAndLogin(t.app);
    assert.equal((await introspect(`token=${s.token}`)).json<{ active: boolean }>().active, true);
    assert.equal((await introspect(`token=${s.token}`)).json<{ active: boolean }>().active, true);
    const next = await expectLive(t.app, s.token);
    assert.deepEqual((await introspect(`token=${s.token}`)).json(), { active: false }, 'consumed: inactive');
    assert.equal((await introspect(`token=${next}`)).json<{ active: boolean }>().active, true);
  });

  it('accepts a JSON body too', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: basic(CLIENT.id, CLIENT.secret),
      payload: { token: s.token },
    });
    assert.equal(res.json<{ active: boolean }>().active, true);
  });

  it('{"active":false} alone for a revoked, garbage, refresh or empty token', async () => {
    const s = await signUpAndLogin(t.app);
    await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(s.token) });
    for (const token of [s.token, 'garbage', s.refreshToken, '', 'a.b.c', 'x'.repeat(9000)]) {
      const res = await introspect(`token=${encodeURIComponent(token)}`);
      assertOk(res);
      assert.deepEqual(res.json(), { active: false }, token.slice(0, 20));
    }
  });

  it('without client authentication, or with a wrong secret, 401 with WWW-Authenticate: Basic', async () => {
    const s = await signUpAndLogin(t.app);
    const cases: Record<string, string>[] = [
      {},
      basic(CLIENT.id, 'wrong-secret-wrong-secret'),
      basic('nobody', CLIENT.secret),
      basic(CLIENT.id, ''),
      { authorization: 'Basic !!!' },
      { authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` },
      bearer(s.token),
    ];
    for (const headers of cases) {
      const res = await introspect(`token=${s.token}`, headers);
      assertError(res, 401, 'invalid_client');
      assert.match(String(res.headers['www-authenticate']), /^Basic /);
    }
    await expectLive(t.app, s.token);
  });

  it('client ids and secrets are form-decoded (RFC 6749 §2.3.1)', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await introspect(
      `token=${s.token}`,
      basic('other', encodeURIComponent('another-secret-0123456789')),
    );
    assert.equal(res.json<{ active: boolean }>().active, true);
  });

  it('a missing token, a repeated field or a wrong media type is a clear 4xx', async () => {
    assertError(await introspect('token_type_hint=access_token'), 400, 'validation_failed');
    assertError(await introspect('token=a&token=b'), 400, 'validation_failed');
    const res = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { ...basic(CLIENT.id, CLIENT.secret), 'content-type': 'text/plain' },
      payload: 'token=x',
    });
    assert.equal(res.statusCode, 415);
  });

  it('form bodies are accepted only by the standard endpoints', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/authenticate_user',
      headers: FORM,
      payload: 'username=a&password=b',
    });
    assertError(res, 415, 'unsupported_media_type');
  });
});

describe('POST /revoke (RFC 7009)', () => {
  it("the RFC's example: a refresh token with token_type_hint=refresh_token revokes its session", async () => {
    const s = await signUpAndLogin(t.app);
    const res = await revoke(`token=${encodeURIComponent(s.refreshToken)}&token_type_hint=refresh_token`);
    assertOk(res);
    assert.deepEqual(res.json(), {});
    await expectDead(t.app, s.token);
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
  });

  it("a live access token's session is revoked, with or without a hint", async () => {
    for (const hint of ['', '&token_type_hint=access_token', '&token_type_hint=refresh_token']) {
      const s = await signUpAndLogin(t.app);
      assertOk(await revoke(`token=${s.token}${hint}`));
      assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    }
  });

  it('answers 200 whatever the token: unknown, garbage, already revoked, an unknown hint', async () => {
    const s = await signUpAndLogin(t.app);
    for (const body of [
      'token=garbage',
      `token=${s.token.slice(0, -2)}xx`,
      'token=kwr1.1.x.0.y',
      'token=a&token_type_hint=foo',
    ]) {
      const res = await revoke(body);
      assertOk(res);
      assert.deepEqual(res.json(), {});
    }
    await expectLive(t.app, s.token);
  });

  it('a consumed access token revokes nothing (only a live token proves its session)', async () => {
    const s = await signUpAndLogin(t.app);
    const next = await expectLive(t.app, s.token);
    assertOk(await revoke(`token=${s.token}`));
    await expectLive(t.app, next);
  });

  it('client credentials are optional, but wrong ones are 401', async () => {
    const s = await signUpAndLogin(t.app);
    assertError(
      await revoke(`token=${s.token}`, basic(CLIENT.id, 'wrong-secret-wrong')),
      401,
      'invalid_client',
    );
    await expectLive(t.app, s.token);
    const fresh = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    assertOk(await revoke(`token=${fresh.token}`, basic(CLIENT.id, CLIENT.secret)));
    assertError(await refresh(t.app, fresh.refresh_token), 401, 'invalid_refresh_token');
  });

  it('a missing token is 400', async () => {
    assertError(await revoke('token_type_hint=refresh_token'), 400, 'validation_failed');
  });
});

describe('INTROSPECTION_CLIENTS unset', () => {
  it('every introspection is 401', async () => {
    const bare = await makeApp();
    try {
      const s = await signUpAndLogin(bare.app);
      const res = await bare.app.inject({
        method: 'POST',
        url: '/introspect',
        headers: { ...FORM, ...basic('', '') },
        payload: `token=${s.token}`,
      });
      assertError(res, 401, 'invalid_client');
    } finally {
      await bare.close();
    }
  });
});

describe('on the Redis token store', { skip: (await redisUnavailable()) ?? false }, () => {
  it('introspection does not consume; /revoke with a refresh token kills the session', async () => {
    const prefix = `kwtest-oauth-${randomBytes(4).toString('hex')}:`;
    const r = await makeApp({
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      INTROSPECTION_CLIENTS: `${CLIENT.id}:${CLIENT.secret}`,
    });
    try {
      const s = await signUpAndLogin(r.app);
      const ask = () =>
        r.app.inject({
          method: 'POST',
          url: '/introspect',
          headers: { ...FORM, ...basic(CLIENT.id, CLIENT.secret) },
          payload: `token=${s.token}`,
        });
      assert.equal((await ask()).json<{ active: boolean }>().active, true);
      assert.equal((await ask()).json<{ active: boolean }>().active, true);
      const next = await expectLive(r.app, s.token);
      assert.deepEqual((await ask()).json(), { active: false });
      const res = await r.app.inject({
        method: 'POST',
        url: '/revoke',
        headers: FORM,
        payload: `token=${encodeURIComponent(s.refreshToken)}`,
      });
      assertOk(res);
      await expectDead(r.app, next);
    } finally {
      await r.close();
      await deleteRedisKeys(prefix);
    }
  });
});
