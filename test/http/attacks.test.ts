import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { decodeToken, forge, serverKey, type JsonObject, type Signing } from '../helpers/jwt-forge.js';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';

type Patch = Record<string, unknown>;

const HS256_SECRET = randomBytes(48).toString('base64url');

/** A way the server signs its tokens; every attack runs against each where it applies. */
interface Mode {
  name: string;
  alg: 'EdDSA' | 'HS256';
  env: Record<string, string>;
  /** The server's own signing, to re-sign forged claims with (so that only the forgery is wrong). */
  signing(t: TestApp): Signing;
  /** A key of the same kind that the server does not know. */
  attacker(): Signing;
}

const EDDSA: Mode = {
  name: 'EdDSA signing key',
  alg: 'EdDSA',
  env: {},
  signing: (t) => ({ alg: 'EdDSA', key: serverKey(t.dataDir).key }),
  attacker: () => ({ alg: 'EdDSA', key: generateKeyPairSync('ed25519').privateKey }),
};

const HS256: Mode = {
  name: 'HS256 with JWT_KEY',
  alg: 'HS256',
  env: { JWT_KEY: HS256_SECRET },
  signing: () => ({ alg: 'HS256', secret: HS256_SECRET }),
  attacker: () => ({ alg: 'HS256', secret: randomBytes(48).toString('base64url') }),
};

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

for (const mode of [EDDSA, HS256]) {
  describe(`forged and tampered access tokens (${mode.name})`, () => {
    let t: TestApp;
    let victim: { userId: number; username: string; refreshToken: string };
    let otherUserId: number;
    // The victim session's current token: every attack below is built from its live claims, so that only the
    // forgery can be the reason for the 401; afterwards the live token must still work (and is replaced).
    let live: string;

    before(async () => {
      t = await makeApp(mode.env);
      const v = await signUpAndLogin(t.app);
      victim = { userId: v.userId, username: v.username, refreshToken: v.refreshToken };
      live = v.token;
      otherUserId = (await signUpAndLogin(t.app)).userId;
    });

    after(async () => {
      await t.close();
    });

    const realKey = (): Signing => mode.signing(t);
    /** The kid of the server's signing key, as its tokens carry it. */
    const serverKid = (): string => String(decodeToken(live).header.kid);

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
      // Members reordered, so the signature is ours and not the server's (Ed25519 and HMAC are deterministic).
      const token = forge({ kid: header.kid, typ: header.typ, alg: header.alg }, payload, realKey());
      assert.notEqual(token, live);
      live = await validate(t.app, token);
    });

    it(`issues tokens whose header is exactly {alg: ${mode.alg}, typ: at+jwt, kid}`, () => {
      const { header } = decodeToken(live);
      assert.deepEqual(header, { alg: mode.alg, typ: 'at+jwt', kid: header.kid });
      assert.ok(typeof header.kid === 'string' && header.kid.length > 0);
      if (mode === EDDSA) assert.equal(header.kid, serverKey(t.dataDir).kid);
    });

    // The verifier pins the algorithm per key: another alg name on the server's kid is refused even when the
    // signature is the server's own over exactly that header.
    for (const alg of [
      'EdDSA',
      'HS256',
      'HS384',
      'HS512',
      'RS256',
      'ES256',
      'PS256',
      'Ed25519',
      'ed25519',
      'hs256',
    ]) {
      if (alg === mode.alg) continue;
      it(`rejects alg "${alg}" on the server kid, signed by the server key`, async () => {
        await refused(resign({ alg }));
      });
    }

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

    // EdDSA only: HS256 mode has no public key to confuse with a secret.
    if (mode === EDDSA)
      it('rejects HS256 signed with the PEM of the server public key as secret (key confusion)', async () => {
        const pem = createPublicKey(serverKey(t.dataDir).key)
          .export({ type: 'spki', format: 'pem' })
          .toString();
        await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret: pem }));
        await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret: pem.trim() }));
      });

    if (mode === EDDSA)
      it('rejects HS256 signed with the server public key in JWK forms as secret (key confusion)', async () => {
        const publicKey = createPublicKey(serverKey(t.dataDir).key);
        const jwk = publicKey.export({ format: 'jwk' });
        // The JWKS entry exactly as published, and its members in other orders and spacings.
        const published = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{
          keys: Record<string, string>[];
        }>().keys;
        assert.equal(published.length, 1);
        const secrets: (string | Buffer)[] = [
          Buffer.from(String(jwk.x), 'base64url'),
          String(jwk.x),
          JSON.stringify(jwk),
          JSON.stringify(published[0]),
          JSON.stringify(published[0], null, 2),
          JSON.stringify({ keys: published }),
          JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }),
          publicKey.export({ type: 'spki', format: 'der' }),
        ];
        for (const secret of secrets) await refused(resign({ alg: 'HS256' }, {}, { alg: 'HS256', secret }));
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

    it("rejects an attacker's key of the same kind, under an unknown kid and under the server kid", async () => {
      const attacker = mode.attacker();
      await refused(resign({ kid: 'attacker' }, {}, attacker));
      await refused(resign({}, {}, attacker));
    });

    for (const kid of [
      '../../etc/passwd',
      '../keys/x',
      '../keys/REALKID',
      'REALKID.pem',
      'keys/REALKID',
      '/etc/passwd',
    ]) {
      it(`rejects the path-traversal kid ${JSON.stringify(kid)} on a token signed by the server key`, async () => {
        await refused(resign({ kid: kid.replace('REALKID', serverKid()) }));
      });
    }

    for (const kid of ["' OR 1=1 --", '" OR ""="', '*', '', '\u0000', ' ']) {
      it(`rejects the kid ${JSON.stringify(kid)}`, async () => {
        await refused(resign({ kid }));
      });
    }

    it('rejects non-string kids', async () => {
      await refused(
        [null, 0, 1, true, [], {}, [serverKid()], { kid: serverKid() }].map((kid) => resign({ kid })),
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

    it('rejects a jwk header carrying the server key, signed by the server key', async () => {
      const jwk =
        mode === EDDSA
          ? createPublicKey(serverKey(t.dataDir).key).export({ format: 'jwk' })
          : { kty: 'oct', k: Buffer.from(HS256_SECRET).toString('base64url') };
      await refused(resign({ jwk }));
    });

    it("rejects a jwk header carrying the attacker's key, signed by the attacker", async () => {
      if (mode === EDDSA) {
        const pair = generateKeyPairSync('ed25519');
        const jwk = pair.publicKey.export({ format: 'jwk' });
        await refused(resign({ jwk }, {}, { alg: 'EdDSA', key: pair.privateKey }));
      } else {
        const secret = randomBytes(32);
        await refused(
          resign({ jwk: { kty: 'oct', k: secret.toString('base64url') } }, {}, { alg: 'HS256', secret }),
        );
      }
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

    it('rejects a second spelling of a valid signature (unused bits set, padding added)', async () => {
      const input = live.slice(0, live.lastIndexOf('.'));
      const signature = live.slice(live.lastIndexOf('.') + 1);
      // The last character of an unpadded base64url signature carries unused low bits (2 for HS256's 32 bytes,
      // 4 for Ed25519's 64): setting them spells the same bytes differently.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(signature.at(-1) ?? 'A');
      const respelled = `${input}.${signature.slice(0, -1)}${alphabet[last | 1] ?? ''}`;
      assert.notEqual(respelled, live);
      assert.deepEqual(
        Buffer.from(respelled.slice(respelled.lastIndexOf('.') + 1), 'base64url'),
        Buffer.from(signature, 'base64url'),
      );
      await refused([respelled, `${live}=`, `${live}==`]);
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
    it('rejects the other algorithm, signed with a key of its own, under the server kid', async () => {
      const other = mode === EDDSA ? HS256.attacker() : EDDSA.attacker();
      await refused(resign({ alg: mode === EDDSA ? 'HS256' : 'EdDSA' }, {}, other));
    });

    it(
      mode === EDDSA ? 'publishes exactly the server public key in JWKS' : 'publishes no keys in JWKS',
      async () => {
        const response = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
        assert.equal(response.statusCode, 200);
        const { keys } = response.json<{ keys: Record<string, string>[] }>();
        if (mode === HS256) assert.deepEqual(keys, []);
        else {
          assert.deepEqual(
            keys.map((key) => key.kid),
            [serverKid()],
          );
          assert.equal(keys[0]?.d, undefined);
        }
      },
    );
  });
}

interface ReplayMode {
  name: string;
  env: Record<string, string>;
  /** TOKEN_ROTATION=per-request: every use consumes the token; off: a token lives until expiry or revocation. */
  perRequest: boolean;
}

const REPLAY_MODES: ReplayMode[] = [
  { name: 'EdDSA, per-request rotation', env: {}, perRequest: true },
  { name: 'HS256 with JWT_KEY, per-request rotation', env: { JWT_KEY: HS256_SECRET }, perRequest: true },
  // Without rotation a token is not consumed by use, so only revocation can be what refuses it afterwards.
  { name: 'EdDSA, TOKEN_ROTATION=off', env: { TOKEN_ROTATION: 'off' }, perRequest: false },
];

for (const mode of REPLAY_MODES) {
  describe(`replayed and revoked access tokens (${mode.name})`, () => {
    let t: TestApp;

    before(async () => {
      t = await makeApp(mode.env);
    });

    after(async () => {
      await t.close();
    });

    /** GET /user with the token: it must work; returns the token to use next (the same one without rotation). */
    async function use(token: string): Promise<string> {
      const response = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(token) });
      assert.equal(response.statusCode, 200, response.body);
      const next = response.json<{ token: string }>().token;
      if (mode.perRequest) assert.notEqual(next, token);
      else assert.equal(next, token);
      return next;
    }

    function refreshRejected(refreshToken: string) {
      return t.app.inject({
        method: 'POST',
        url: '/refresh_token',
        payload: { refresh_token: refreshToken },
      });
    }

    it('a used token is rejected on replay only with per-request rotation', async () => {
      const { token } = await signUpAndLogin(t.app);
      const next = await use(token);
      if (mode.perRequest) await assertRejected(t.app, token);
      else await use(token);
      await use(next);
    });

    if (mode.perRequest)
      it('of concurrent requests with one token exactly one succeeds', async () => {
        const { token } = await signUpAndLogin(t.app);
        const responses = await Promise.all(
          Array.from({ length: 8 }, () =>
            t.app.inject({ method: 'GET', url: '/user', headers: bearer(token) }),
          ),
        );
        assert.deepEqual(responses.map((r) => r.statusCode).sort(), [200, 401, 401, 401, 401, 401, 401, 401]);
      });

    it('a token is rejected after logout, and so is the refresh token of that session', async () => {
      const { username, token, refreshToken } = await signUpAndLogin(t.app);
      const other = await login(t.app, username);
      const next = await use(token);
      const logout = await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(next) });
      assert.equal(logout.statusCode, 200, logout.body);
      await assertRejected(t.app, next);
      assert401(await refreshRejected(refreshToken), 'invalid_refresh_token');
      // The logout ended that session only.
      await use(other.token);
    });

    it('a token is rejected after a logout that named it in the body', async () => {
      const { token } = await signUpAndLogin(t.app);
      const next = await use(token);
      const logout = await t.app.inject({ method: 'POST', url: '/logout', payload: { token: next } });
      assert.equal(logout.statusCode, 200, logout.body);
      await assertRejected(t.app, next);
    });

    it('every session token, the presenting one included, is rejected after logout_all', async () => {
      const a = await signUpAndLogin(t.app);
      const b = await login(t.app, a.username);
      const current = await use(a.token);
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout_all',
        headers: bearer(current),
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json<{ revoked: number }>().revoked, 2);
      await assertRejected(t.app, current);
      await assertRejected(t.app, b.token);
      assert401(await refreshRejected(a.refreshToken), 'invalid_refresh_token');
      assert401(await refreshRejected(b.refreshToken), 'invalid_refresh_token');
    });

    it("another session's tokens are rejected after a password change", async () => {
      const a = await signUpAndLogin(t.app);
      const b = await login(t.app, a.username);
      const bNext = await use(b.token);
      const change = await t.app.inject({
        method: 'PUT',
        url: '/user',
        headers: bearer(a.token),
        payload: { password: 'an entirely new passphrase', current_password: PASSWORD },
      });
      assert.equal(change.statusCode, 200, change.body);
      await assertRejected(t.app, bNext);
      assert401(await refreshRejected(b.refreshToken), 'invalid_refresh_token');
      if (mode.perRequest) await assertRejected(t.app, a.token);
      // The session that changed the password goes on, and the old password no longer logs in.
      await use(change.json<{ token: string }>().token);
      assert401(
        await t.app.inject({
          method: 'POST',
          url: '/authenticate_user',
          payload: { username: a.username, password: PASSWORD },
        }),
        'invalid_credentials',
      );
    });

    it("a deleted user's tokens are rejected in every session, and so are its refresh tokens", async () => {
      const a = await signUpAndLogin(t.app);
      const b = await login(t.app, a.username);
      const current = await use(a.token);
      const deleted = await t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(current) });
      assert.equal(deleted.statusCode, 200, deleted.body);
      await assertRejected(t.app, current);
      await assertRejected(t.app, b.token);
      assert401(await refreshRejected(a.refreshToken), 'invalid_refresh_token');
      assert401(await refreshRejected(b.refreshToken), 'invalid_refresh_token');
      // SPEC §2: exactly the message, no successor token that could outlive the account.
      assert.deepEqual(deleted.json(), { message: 'User deleted successfully' });
    });

    it("a new account with a deleted user's username cannot be reached with the old tokens", async () => {
      const old = await signUpAndLogin(t.app);
      const other = await login(t.app, old.username);
      const current = await use(old.token);
      const deleted = await t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(current) });
      assert.equal(deleted.statusCode, 200, deleted.body);

      const reborn = await signUpAndLogin(t.app, old.username);
      // Ids are never reused, so the old tokens' user_id/sub name nobody.
      assert.ok(reborn.userId > old.userId, `${reborn.userId} after ${old.userId}`);
      for (const token of [current, other.token]) await assertRejected(t.app, token);
      assert401(await refreshRejected(old.refreshToken), 'invalid_refresh_token');
      assert401(await refreshRejected(other.refreshToken), 'invalid_refresh_token');

      // The new account sees only its own session, none of the old account's.
      const sessions = await t.app.inject({ method: 'GET', url: '/sessions', headers: bearer(reborn.token) });
      assert.equal(sessions.statusCode, 200, sessions.body);
      const body = sessions.json<{ sessions: { id: string }[]; token: string }>();
      assert.deepEqual(
        body.sessions.map((s) => s.id),
        [decodeToken(reborn.token).payload.sid],
      );
      const me = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(body.token) });
      assert.equal(me.statusCode, 200, me.body);
      assert.deepEqual(me.json<{ user: unknown }>().user, {
        id: reborn.userId,
        username: old.username,
        email: null,
        email_verified: false,
        mfa_enabled: false,
        roles: [],
      });
    });

    if (mode.perRequest)
      it('a token replayed after its successor was used is rejected', async () => {
        const { token } = await signUpAndLogin(t.app);
        const next = await validate(t.app, token);
        await validate(t.app, next);
        await assertRejected(t.app, token);
        await assertRejected(t.app, next);
      });

    it('a token renewed by /validate_token is rejected on replay, whatever the rotation', async () => {
      const { token } = await signUpAndLogin(t.app);
      const next = await validate(t.app, token);
      await assertRejected(t.app, token);
      await use(next);
    });
  });
}

describe('JWT_ISSUER and JWT_AUDIENCE', () => {
  let t: TestApp;

  before(async () => {
    t = await makeApp({ JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'orders-api' });
  });

  after(async () => {
    await t.close();
  });

  it('tokens carry the configured iss and aud; the same claims with the default ones are refused', async () => {
    const { token } = await signUpAndLogin(t.app);
    const { header, payload } = decodeToken(token);
    assert.equal(payload.iss, 'https://auth.example');
    assert.equal(payload.aud, 'orders-api');
    const signing: Signing = { alg: 'EdDSA', key: serverKey(t.dataDir).key };
    for (const claims of [{ iss: 'keyward' }, { aud: 'keyward' }, { iss: 'keyward', aud: 'keyward' }]) {
      await assertRejected(t.app, forge(header, patched(payload, claims), signing));
    }
    // The control: the same forge with the configured claims is accepted (and consumes the live token).
    const next = await validate(
      t.app,
      forge({ kid: header.kid, typ: header.typ, alg: header.alg }, payload, signing),
    );
    await assertRejected(t.app, token);
    assert.equal(decodeToken(next).payload.aud, 'orders-api');
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
