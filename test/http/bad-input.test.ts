import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HTTPMethods } from 'fastify';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { assertError, assertOk, expectLive, type Reply } from './http-helpers.js';

let t: TestApp;
before(async () => {
  t = await makeApp();
});
after(async () => {
  await t.close();
});

const JSON_TYPE = { 'content-type': 'application/json' };

const raw = (
  method: HTTPMethods,
  url: string,
  payload: string,
  headers: Record<string, string> = JSON_TYPE,
) => t.app.inject({ method, url, payload, headers });

const ROUTES: [HTTPMethods, string][] = [
  ['POST', '/user'],
  ['PUT', '/user'],
  ['POST', '/authenticate_user'],
  ['POST', '/validate_token'],
  ['POST', '/logout'],
  ['POST', '/refresh_token'],
];

function assertClientError(res: Reply): void {
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, `got ${res.statusCode} ${res.body}`);
  const body = res.json<{ error: unknown; code: unknown }>();
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.code, 'string');
}

describe('request bodies', () => {
  for (const [method, url] of ROUTES) {
    it(`${method} ${url}: malformed JSON is 400 invalid_json`, async () => {
      assertError(await raw(method, url, '{"username": "abc",'), 400, 'invalid_json');
    });

    it(`${method} ${url}: a text/plain body is 415`, async () => {
      const res = await raw(method, url, '{}', { 'content-type': 'text/plain' });
      assertError(res, 415, 'unsupported_media_type');
    });

    it(`${method} ${url}: a body over 64 KiB is 413`, async () => {
      const payload = JSON.stringify({ username: 'someone', password: 'x'.repeat(70 * 1024) });
      assertError(await raw(method, url, payload), 413, 'payload_too_large');
    });

    it(`${method} ${url}: a JSON array or null body is 400`, async () => {
      assertError(await raw(method, url, '[]'), 400, 'validation_failed');
      assertError(await raw(method, url, '["a","b"]'), 400, 'validation_failed');
      assertError(await raw(method, url, 'null'), 400, 'validation_failed');
      assertError(await raw(method, url, '"just a string"'), 400, 'validation_failed');
      assertError(await raw(method, url, '12'), 400, 'validation_failed');
    });

    it(`${method} ${url}: prototype-pollution keys are 400, never 500`, async () => {
      for (const payload of [
        '{"__proto__":{"isAdmin":true},"username":"someone","password":"long enough passphrase"}',
        '{"constructor":{"prototype":{"isAdmin":true}},"username":"someone","password":"long enough pass"}',
        '{"token":{"__proto__":{"x":1}}}',
      ]) {
        const res = await raw(method, url, payload, { ...JSON_TYPE, ...bearer('garbage') });
        assert.equal(res.statusCode, 400, `${payload}: ${res.statusCode} ${res.body}`);
        assertClientError(res);
      }
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    });
  }

  it('form-encoded and content-type-less bodies are 415', async () => {
    const form = await raw('POST', '/user', 'username=abcd&password=x', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assertError(form, 415, 'unsupported_media_type');
    const xml = await raw('POST', '/authenticate_user', '<a/>', { 'content-type': 'application/xml' });
    assertError(xml, 415, 'unsupported_media_type');
  });

  it('a JSON content type with a charset parameter is accepted', async () => {
    const res = await raw('POST', '/user', JSON.stringify({ username: uniqueName(), password: PASSWORD }), {
      'content-type': 'application/json; charset=utf-8',
    });
    assertOk(res, 201);
  });

  it('an empty body with a JSON content type is 400 on routes that need a body', async () => {
    assertError(await raw('POST', '/user', ''), 400, 'validation_failed');
    assertError(await raw('POST', '/authenticate_user', ''), 400, 'validation_failed');
    assertError(await raw('POST', '/refresh_token', ''), 400, 'validation_failed');
  });

  it('unknown fields are ignored', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/user',
      payload: { username: uniqueName(), password: PASSWORD, id: 1, is_admin: true },
    });
    assertOk(res, 201);
    assert.deepEqual(Object.keys(res.json<{ user: object }>().user).sort(), [
      'email',
      'email_verified',
      'id',
      'mfa_enabled',
      'roles',
      'username',
    ]);
  });

  it('oversized or deeply nested fields are 400, never 500', async () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const bodies = [
      JSON.stringify({ username: 'u'.repeat(300), password: PASSWORD }),
      JSON.stringify({ username: 'someone', password: 'p'.repeat(5000) }),
      JSON.stringify({ username: { a: { b: { c: 1 } } }, password: PASSWORD }),
      `{"username":"someone","password":${nested(5000)}}`,
    ];
    for (const payload of bodies) {
      const res = await raw('POST', '/user', payload);
      assert.equal(res.statusCode, 400, res.body);
      assertClientError(res);
    }
    const extra = `{"username":"${uniqueName()}","password":"${PASSWORD}","extra":${nested(5000)}}`;
    assertError(await raw('POST', '/authenticate_user', extra), 401, 'invalid_credentials');
    const deep = await raw('POST', '/authenticate_user', '['.repeat(20000) + ']'.repeat(20000));
    assertClientError(deep);
  });

  it('a malformed request never consumes the token', async () => {
    const s = await signUpAndLogin(t.app);
    const headers = { ...JSON_TYPE, ...bearer(s.token) };
    assertError(await raw('PUT', '/user', '{"username":', headers), 400, 'invalid_json');
    assertError(await raw('PUT', '/user', '[]', headers), 400, 'validation_failed');
    assertError(
      await raw('PUT', '/user', '{}', { 'content-type': 'text/plain', ...bearer(s.token) }),
      415,
      'unsupported_media_type',
    );
    assertError(await raw('POST', '/validate_token', '{"token":', headers), 400, 'invalid_json');
    const longId = await t.app.inject({
      method: 'DELETE',
      url: `/sessions/${'a'.repeat(150)}`,
      headers: bearer(s.token),
    });
    assertClientError(longId);
    await expectLive(t.app, s.token);
  });
});

describe('tokens', () => {
  it('a token over 8 KiB is 401 Invalid or expired token, in the header or in the body', async () => {
    const huge = `${'a'.repeat(4200)}.${'b'.repeat(4200)}.${'c'.repeat(100)}`;
    const viaHeader = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(huge) });
    assertError(viaHeader, 401, 'invalid_token', 'Invalid or expired token');
    const viaBody = await t.app.inject({ method: 'POST', url: '/validate_token', payload: { token: huge } });
    assertError(viaBody, 401, 'invalid_token', 'Invalid or expired token');
    const logout = await t.app.inject({ method: 'POST', url: '/logout', payload: { token: huge } });
    assertError(logout, 401, 'invalid_token', 'Invalid or expired token');
  });

  it('garbage in every shape is 401, never 500', async () => {
    const shapes = [
      'a',
      '...',
      'a.b',
      'a.b.c.d',
      'eyJhbGciOiJub25lIn0.e30.',
      `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.e30.`,
      `${Buffer.from('[]').toString('base64url')}.e30.sig`,
      `${Buffer.from('null').toString('base64url')}.e30.sig`,
      '%%%.%%%.%%%',
      '\u00e9\u00e9\u00e9',
    ];
    for (const token of shapes) {
      const res = await t.app.inject({ method: 'POST', url: '/validate_token', payload: { token } });
      assertError(res, 401, 'invalid_token');
    }
  });

  it('error bodies never echo the password or the token', async () => {
    const secret = 'password123';
    const weak = await t.app.inject({
      method: 'POST',
      url: '/user',
      payload: { username: uniqueName(), password: secret },
    });
    assertError(weak, 400, 'weak_password');
    assert.ok(!weak.body.includes(secret));
    const s = await signUpAndLogin(t.app);
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/authenticate_user',
      payload: { username: s.username, password: 'hunter2 hunter2 hunter2' },
    });
    assert.ok(!wrong.body.includes('hunter2'));
    await expectLive(t.app, s.token);
    const replay = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(s.token) });
    assertError(replay, 401, 'invalid_token');
    assert.ok(!replay.body.includes(s.token));
  });
});

describe('routing', () => {
  it('an unknown route is a 404 envelope', async () => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['POST', '/users'],
      ['GET', '/user/1'],
      ['DELETE', '/sessions'],
    ] as const) {
      const res = await t.app.inject({ method, url });
      assertError(res, 404, 'not_found');
    }
  });

  it('an unsupported method on a known path is a 4xx envelope', async () => {
    const res = await t.app.inject({ method: 'PATCH', url: '/user', payload: {} });
    assertClientError(res);
  });
});
