import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { decodeToken, forge, serverKey, type JsonObject, type Signing } from '../helpers/jwt-forge.js';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';

type Patch = Record<string, unknown>;

/** `base` with `patch` applied; a patch value of undefined removes the member. */
function patched(base: JsonObject, patch: Patch): JsonObject {
  const merged: Patch = { ...base, ...patch };
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
}

/** Asserts a 401 with the envelope's code, never a 5xx. */
function assert401(response: { statusCode: number; body: string }, code = 'invalid_token'): void {
  assert.equal(response.statusCode, 401, `expected 401, got ${response.statusCode}: ${response.body}`);
  const body = JSON.parse(response.body) as { code: string; error: string };
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
}

/** Presents a token in the Authorization header (GET /user) and in the body (POST /validate_token). */
async function assertRejected(app: FastifyInstance, token: string, { header = true } = {}): Promise<void> {
  if (header) assert401(await app.inject({ method: 'GET', url: '/user', headers: bearer(token) }));
  assert401(await app.inject({ method: 'POST', url: '/validate_token', payload: { token } }));
}

async function validate(app: FastifyInstance, token: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/validate_token', payload: { token } });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<{ token: string }>().token;
}

async function login(app: FastifyInstance, username: string, password = PASSWORD) {
  const response = await app.inject({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password },
  });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json<{ token: string; refresh_token: string }>();
  return { token: body.token, refreshToken: body.refresh_token };
}

describe('forged and tampered access tokens (EdDSA signing key)', () => {
  let t: TestApp;
  let server: { kid: string; key: KeyObject };
  let victim: { userId: number; username: string; refreshToken: string };
  let otherUserId: number;
  // The victim session's current token: every attack below is built from its live claims, so that only the
  // forgery can be the reason for the 401; afterwards the live token must still work (and is replaced).
  let live: string;

  before(async () => {
    t = await makeApp();
    server = serverKey(t.dataDir);
    const v = await signUpAndLogin(t.app);
    victim = { userId: v.userId, username: v.username, refreshToken: v.refreshToken };
    live = v.token;
    otherUserId = (await signUpAndLogin(t.app)).userId;
  });

  after(async () => {
    await t.close();
  });

  const realKey = (): Signing => ({ alg: 'EdDSA', key: server.key });

  /** The live token re-signed after patching its header and payload (with the server's key by default). */
  function resign(headerPatch: Patch, payloadPatch: Patch = {}, signing: Signing = realKey()): string {
    const { header, payload } = decodeToken(live);
    return forge(patched(header, headerPatch), patched(payload, payloadPatch), signing);
  }

  /**
   * Every forged token is refused, and the live token they were built from was not consumed by the attempts.
   * When a forgery gets through, the session is replaced so that one failure does not cascade into the next test.
   */
  async function refused(tokens: string | string[], options: { header?: boolean } = {}): Promise<void> {
    let allRefused = false;
    try {
      for (const token of Array.isArray(tokens) ? tokens : [tokens])
        await assertRejected(t.app, token, options);
      allRefused = true;
    } finally {
      if (allRefused) live = await validate(t.app, live);
      else live = (await login(t.app, victim.username)).token;
    }
  }

  it('accepts the live claims re-signed here with the server key (the forgery helper is sound)', async () => {
    const { header, payload } = decodeToken(live);
    // Members reordered, so the signature is ours and not the server's (Ed25519 is deterministic).
    const token = forge({ kid: header.kid, typ: header.typ, alg: header.alg }, payload, realKey());
    assert.notEqual(token, live);
    live = await validate(t.app, token);
  });

  it('issues tokens whose header is exactly {alg: EdDSA, typ: at+jwt, kid}', () => {
    assert.deepEqual(decodeToken(live).header, { alg: 'EdDSA', typ: 'at+jwt', kid: server.kid });
  });

  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    for (const [label, sig] of [
      ['an empty', ''],
      ['a garbage', 'Z2FyYmFnZQ'],
    ] as const) {
      it(`rejects alg "${alg}" with ${label} signature`, async () => {
        await refused(resign({ alg }, {}, { signature: sig }));
      });
    }
  }

  it('rejects alg "none" without a kid', async () => {
    await refused(resign({ alg: 'none', kid: undefined }, {}, { signature: '' }));
  });

  it('rejects a token whose signature is stripped (header.payload.)', async () => {
    const [h, p] = live.split('.');
    await refused(`${h}.${p}.`);
  });

  it('rejects a token whose signature segment is missing (header.payload)', async () => {
    const [h, p] = live.split('.');
    await refused(`${h}.${p}`);
  });

  it('rejects a payload naming another user with the original signature kept', async () => {
    const { header, payload, signature } = decodeToken(live);
    const tampered = forge(
      header,
      { ...payload, user_id: otherUserId, sub: String(otherUserId) },
      { signature },
    );
    await refused(tampered);
  });

  it('rejects a payload whose user_id alone was changed, signature kept', async () => {
    const { header, payload, signature } = decodeToken(live);
    await refused(forge(header, { ...payload, user_id: otherUserId }, { signature }));
  });

  it('rejects a payload with a later exp, signature kept', async () => {
    const { header, payload, signature } = decodeToken(live);
    await refused(forge(header, { ...payload, exp: Number(payload.exp) + 86400 }, { signature }));
  });

  it('rejects HS256 signed with the PEM of the server public key as secret (key confusion)', async () => {
    const pem = createPublicKey(server.key).export({ type: 'spki', format: 'pem' }).toString();
    await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret: pem }));
    await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret: pem.trim() }));
  });

  it('rejects HS256 signed with the raw Ed25519 public key bytes as secret', async () => {
    const jwk = createPublicKey(server.key).export({ format: 'jwk' });
    const raw = Buffer.from(String(jwk.x), 'base64url');
    await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret: raw }));
    await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret: String(jwk.x) }));
  });

  it("rejects tokens signed with the seed's old default secret 'default_jwt_secret_key'", async () => {
    const secret = 'default_jwt_secret_key';
    await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret }));
    await refused(resign({ alg: 'HS256', typ: 'JWT', kid: undefined }, {}, { alg: 'HS256', secret }));
    const { payload } = decodeToken(live);
    // The seed's own token shape: {user_id, exp, jti}, HS256, typ JWT.
    const seedStyle = forge(
      { alg: 'HS256', typ: 'JWT' },
      { user_id: victim.userId, exp: payload.exp, jti: payload.jti },
      { alg: 'HS256', secret },
    );
    await refused(seedStyle);
  });

  it('rejects an unknown kid and a missing kid', async () => {
    await refused(resign({ kid: randomBytes(32).toString('base64url') }));
    await refused(resign({ kid: undefined }));
  });

  it('rejects an unknown kid whose token is signed by its own key', async () => {
    const attacker = generateKeyPairSync('ed25519').privateKey;
    await refused(resign({ kid: 'attacker' }, {}, { alg: 'EdDSA', key: attacker }));
    await refused(resign({}, {}, { alg: 'EdDSA', key: attacker }));
  });

  for (const kid of ['../../etc/passwd', '../keys/REALKID', 'REALKID.pem', 'keys/REALKID', '/etc/passwd']) {
    it(`rejects the path-traversal kid ${JSON.stringify(kid)} on a token signed by the server key`, async () => {
      await refused(resign({ kid: kid.replace('REALKID', server.kid) }));
    });
  }

  for (const kid of ["' OR 1=1 --", '" OR ""="', '*', '', '\u0000', ' ']) {
    it(`rejects the kid ${JSON.stringify(kid)}`, async () => {
      await refused(resign({ kid }));
    });
  }

  it('rejects non-string kids', async () => {
    await refused(
      [null, 0, 1, true, [], {}, [server.kid], { kid: server.kid }].map((kid) => resign({ kid })),
    );
  });

  it('rejects a jku header on a token signed by the server key', async () => {
    await refused(resign({ jku: 'https://attacker.example/jwks.json' }));
  });

  it('rejects an x5u header on a token signed by the server key', async () => {
    await refused(resign({ x5u: 'https://attacker.example/cert.pem' }));
  });

  it('rejects an x5c header on a token signed by the server key', async () => {
    await refused(resign({ x5c: ['MIIB'] }));
  });

  it('rejects a jwk header carrying the server public key, signed by the server key', async () => {
    const jwk = createPublicKey(server.key).export({ format: 'jwk' });
    await refused(resign({ jwk }));
  });

  it("rejects a jwk header carrying the attacker's key, signed by the attacker", async () => {
    const pair = generateKeyPairSync('ed25519');
    const jwk = pair.publicKey.export({ format: 'jwk' });
    await refused(resign({ jwk }, {}, { alg: 'EdDSA', key: pair.privateKey }));
  });

  it('rejects a crit header on a token signed by the server key', async () => {
    await refused(resign({ crit: ['exp'] }));
    await refused(resign({ crit: ['kw'], kw: 1 }));
  });

  it('rejects an unexpected b64 or cty header on a token signed by the server key', async () => {
    await refused(resign({ b64: false, crit: ['b64'] }));
    await refused(resign({ cty: 'JWT' }));
  });

  it('rejects an expired token (exp in the past, validly signed)', async () => {
    const past = Math.floor(Date.now() / 1000) - 60;
    await refused(resign({}, { iat: past - 2100, exp: past }));
  });

  it('rejects a token expiring now', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(resign({}, { iat: now - 2100, exp: now }));
  });

  it('rejects a token without exp', async () => {
    await refused(resign({}, { exp: undefined }));
  });

  it('rejects a token with a non-numeric exp', async () => {
    const { payload } = decodeToken(live);
    await refused(resign({}, { exp: String(payload.exp) }));
  });

  it('rejects a token whose nbf is in the future', async () => {
    await refused(resign({}, { nbf: Math.floor(Date.now() / 1000) + 600 }));
  });

  it('rejects a wrong typ', async () => {
    await refused(resign({ typ: 'JWT' }));
  });

  it('rejects a missing typ', async () => {
    await refused(resign({ typ: undefined }));
  });

  it('rejects a wrong iss', async () => {
    await refused(resign({}, { iss: 'https://attacker.example' }));
  });

  it('rejects a wrong aud', async () => {
    await refused(resign({}, { aud: 'some-other-service' }));
  });

  it('rejects a missing iss', async () => {
    await refused(resign({}, { iss: undefined }));
  });

  it('rejects a missing aud', async () => {
    await refused(resign({}, { aud: undefined }));
  });

  for (const claim of ['jti', 'sid', 'sub', 'user_id', 'iat']) {
    it(`rejects a token without ${claim}`, async () => {
      await refused(resign({}, { [claim]: undefined }));
    });
  }

  it('rejects a user_id that is not an integer or disagrees with sub', async () => {
    await refused([
      ...[String(victim.userId), victim.userId + 0.5, -victim.userId, null].map((userId) =>
        resign({}, { user_id: userId }),
      ),
      resign({}, { sub: String(otherUserId) }),
      resign({}, { sub: victim.userId }),
    ]);
  });

  it('rejects an empty sid or jti', async () => {
    await refused([resign({}, { sid: '' }), resign({}, { jti: '' }), resign({}, { sid: 1 })]);
  });

  it('rejects an aud list that does not name Keyward', async () => {
    await refused(resign({}, { aud: ['some-other-service', 'another'] }));
  });

  it('rejects a token re-signed with the server key but naming another user (the allowlist binds jti to user)', async () => {
    await refused(resign({}, { user_id: otherUserId, sub: String(otherUserId) }));
  });

  it('rejects a validly signed token whose jti was never issued', async () => {
    await refused(resign({}, { jti: randomUUID() }));
  });

  it('rejects a validly signed token whose sid was never issued', async () => {
    await refused(resign({}, { sid: randomBytes(16).toString('base64url') }));
  });

  it('rejects a refresh token used as an access token', async () => {
    await refused(victim.refreshToken);
  });

  it('rejects an access token used as a refresh token', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/refresh_token',
      payload: { refresh_token: live },
    });
    assert401(response, 'invalid_refresh_token');
    await refused([]);
  });

  it('rejects a validly signed token over 8 KiB', async () => {
    const token = resign({}, { pad: 'x'.repeat(8 * 1024) });
    assert.ok(token.length > 8 * 1024);
    await refused(token);
  });

  it('rejects a 60 KiB token without a 5xx', async () => {
    await refused(`${'a'.repeat(30 * 1024)}.${'b'.repeat(30 * 1024)}.c`, { header: false });
  });

  for (const garbage of [
    'a.b.c',
    '....',
    '..',
    '.',
    'x',
    'eyJ.eyJ.',
    'e30.e30.',
    'bnVsbA.bnVsbA.',
    'W10.W10.',
    randomBytes(48).toString('base64url'),
    randomBytes(48).toString('base64'),
    `${randomBytes(20).toString('base64url')}.${randomBytes(20).toString('base64url')}.${randomBytes(20).toString('base64url')}`,
  ]) {
    it(`rejects the garbage token ${JSON.stringify(garbage.slice(0, 24))}`, async () => {
      await refused(garbage);
    });
  }

  for (const garbage of ['tøkén.☃.💥', '\u0000.\u0000.\u0000', '{"alg":"none"}', 'Bearer x', ' . . ']) {
    it(`rejects the body token ${JSON.stringify(garbage)}`, async () => {
      await refused(garbage, { header: false });
    });
  }

  it('rejects padding or whitespace inside otherwise valid segments', async () => {
    const [h, p, sig] = live.split('.');
    await refused([`${h}=.${p}.${sig}`, `${h}.${p}.${sig}=`]);
    await refused([`${h}.${p}\n.${sig}`, `${h}.${p}.${sig}\u0000`], { header: false });
  });
});

describe('replayed and revoked access tokens', () => {
  let t: TestApp;

  before(async () => {
    t = await makeApp();
  });

  after(async () => {
    await t.close();
  });

  it('a consumed token is rejected on replay', async () => {
    const { token } = await signUpAndLogin(t.app);
    const first = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(token) });
    assert.equal(first.statusCode, 200);
    await assertRejected(t.app, token);
  });

  it('of concurrent requests with one token exactly one succeeds', async () => {
    const { token } = await signUpAndLogin(t.app);
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => t.app.inject({ method: 'GET', url: '/user', headers: bearer(token) })),
    );
    assert.deepEqual(responses.map((r) => r.statusCode).sort(), [200, 401, 401, 401, 401, 401, 401, 401]);
  });

  it('a token is rejected after logout, and so is the refresh token of that session', async () => {
    const { token, refreshToken } = await signUpAndLogin(t.app);
    const next = await validate(t.app, token);
    const logout = await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(next) });
    assert.equal(logout.statusCode, 200);
    await assertRejected(t.app, next);
    assert401(
      await t.app.inject({ method: 'POST', url: '/refresh_token', payload: { refresh_token: refreshToken } }),
      'invalid_refresh_token',
    );
  });

  it('every session token is rejected after logout_all', async () => {
    const a = await signUpAndLogin(t.app);
    const b = await login(t.app, a.username);
    const response = await t.app.inject({ method: 'POST', url: '/logout_all', headers: bearer(a.token) });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json<{ revoked: number }>().revoked, 2);
    await assertRejected(t.app, b.token);
    assert401(
      await t.app.inject({
        method: 'POST',
        url: '/refresh_token',
        payload: { refresh_token: b.refreshToken },
      }),
      'invalid_refresh_token',
    );
  });

  it("another session's token is rejected after a password change", async () => {
    const a = await signUpAndLogin(t.app);
    const b = await login(t.app, a.username);
    const change = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(a.token),
      payload: { password: 'an entirely new passphrase', current_password: PASSWORD },
    });
    assert.equal(change.statusCode, 200, change.body);
    await assertRejected(t.app, b.token);
    assert401(
      await t.app.inject({
        method: 'POST',
        url: '/refresh_token',
        payload: { refresh_token: b.refreshToken },
      }),
      'invalid_refresh_token',
    );
    await validate(t.app, change.json<{ token: string }>().token);
  });

  it("a deleted user's tokens are rejected, in every session", async () => {
    const a = await signUpAndLogin(t.app);
    const b = await login(t.app, a.username);
    const deleted = await t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(a.token) });
    assert.equal(deleted.statusCode, 200);
    await assertRejected(t.app, b.token);
    const next = deleted.json<{ token?: string }>().token;
    if (next !== undefined) await assertRejected(t.app, next);
  });

  it('a token replayed after its successor was used is rejected', async () => {
    const { token } = await signUpAndLogin(t.app);
    const next = await validate(t.app, token);
    await validate(t.app, next);
    await assertRejected(t.app, token);
    await assertRejected(t.app, next);
  });
});

describe('HS256 mode (JWT_KEY)', () => {
  const secret = randomBytes(48).toString('base64url');
  let t: TestApp;
  let live: string;

  before(async () => {
    t = await makeApp({ JWT_KEY: secret });
    live = (await signUpAndLogin(t.app)).token;
  });

  after(async () => {
    await t.close();
  });

  it('accepts the live claims re-signed with JWT_KEY (the forgery helper is sound)', async () => {
    const { header, payload } = decodeToken(live);
    assert.equal(header.alg, 'HS256');
    live = await validate(t.app, forge(header, payload, { alg: 'HS256', secret }));
  });

  it('rejects an EdDSA-signed token carrying the HS256 kid', async () => {
    const { header, payload } = decodeToken(live);
    const attacker = generateKeyPairSync('ed25519').privateKey;
    await assertRejected(t.app, forge({ ...header, alg: 'EdDSA' }, payload, { alg: 'EdDSA', key: attacker }));
    live = await validate(t.app, live);
  });

  it('rejects alg none carrying the HS256 kid', async () => {
    const { header, payload } = decodeToken(live);
    await assertRejected(t.app, forge({ ...header, alg: 'none' }, payload, { signature: '' }));
    live = await validate(t.app, live);
  });

  it('rejects HS256 tokens signed with another secret, or with HS384/HS512 under JWT_KEY', async () => {
    const { header, payload } = decodeToken(live);
    await assertRejected(t.app, forge(header, payload, { alg: 'HS256', secret: `${secret}x` }));
    await assertRejected(t.app, forge({ ...header, alg: 'HS512' }, payload, { alg: 'HS256', secret }));
    live = await validate(t.app, live);
  });

  it('publishes no keys in JWKS', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { keys: [] });
  });
});

describe('two instances sharing a Redis store', async () => {
  const skip = await redisUnavailable();
  const prefix = `kwatk${process.pid}${randomBytes(3).toString('hex')}`;
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let a: TestApp;
  let b: TestApp;

  before(async () => {
    if (skip) return;
    const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix, JWT_PRIVATE_KEY: pem };
    a = await makeApp(env);
    b = await makeApp(env);
  });

  after(async () => {
    if (skip) return;
    await Promise.all([a.close(), b.close()]);
    const admin = new Redis(REDIS_URL);
    try {
      const stream = admin.scanStream({ match: `${prefix}:*`, count: 1000 });
      for await (const keys of stream as AsyncIterable<string[]>)
        if (keys.length > 0) await admin.del(...keys);
    } finally {
      admin.disconnect();
    }
  });

  it('a token consumed on instance A is rejected on instance B', { skip }, async () => {
    const { token } = await signUpAndLogin(a.app);
    const next = await validate(a.app, token);
    await assertRejected(b.app, token, { header: false });
    await validate(b.app, next);
  });

  it('a token issued on A works exactly once on B', { skip }, async () => {
    const { token } = await signUpAndLogin(a.app);
    const next = await validate(b.app, token);
    await assertRejected(b.app, token, { header: false });
    await assertRejected(a.app, token, { header: false });
    await validate(a.app, next);
  });

  it('a logout on A revokes the session on B', { skip }, async () => {
    const { token, refreshToken } = await signUpAndLogin(a.app);
    const next = await validate(b.app, token);
    const logout = await a.app.inject({ method: 'POST', url: '/logout', payload: { token: next } });
    assert.equal(logout.statusCode, 200);
    await assertRejected(b.app, next, { header: false });
    assert401(
      await b.app.inject({ method: 'POST', url: '/refresh_token', payload: { refresh_token: refreshToken } }),
      'invalid_refresh_token',
    );
  });
});
