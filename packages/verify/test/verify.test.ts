import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { PASSWORD, signUpAndLogin } from '../../../test/helpers/app.js';
import { listeningApp, type ListeningApp } from '../../../test/helpers/listening.js';
import {
  createVerifier,
  expressMiddleware,
  fastifyGuard,
  keywardFastify,
  requireRoles,
  VerifyError,
  type KeywardClaims,
  type Verifier,
} from '../src/index.js';

const CLIENT = { clientId: 'resource', clientSecret: 'resource-secret-0123456789' };

let k: ListeningApp;
let offline: Verifier;
let online: Verifier;
before(async () => {
  k = await listeningApp({ INTROSPECTION_CLIENTS: `${CLIENT.clientId}:${CLIENT.clientSecret}` });
  const common = { jwksUrl: `${k.baseUrl}/.well-known/jwks.json`, issuer: 'keyward', audience: 'keyward' };
  offline = createVerifier(common);
  online = createVerifier({
    ...common,
    introspection: { url: `${k.baseUrl}/introspect`, ...CLIENT, cacheSeconds: 0 },
  });
});
after(async () => {
  await k.close();
});

async function loginAs(roles: string[] = []) {
  const s = await signUpAndLogin(k.app);
  if (roles.length > 0) {
    await k.deps.users.setRoles(s.userId, roles);
    const res = await k.app.inject({
      method: 'POST',
      url: '/authenticate_user',
      payload: { username: s.username, password: PASSWORD },
    });
    return { ...s, token: res.json<{ token: string }>().token };
  }
  return s;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof VerifyError, String(error));
    assert.equal(error.code, code);
    return true;
  });
}

describe('createVerifier against a real Keyward server', () => {
  it('verifies a Keyward access token offline and returns its claims', async () => {
    const s = await loginAs(['reader']);
    const claims = await offline.verify(s.token);
    assert.equal(claims.sub, String(s.userId));
    assert.equal(claims.user_id, s.userId);
    assert.deepEqual(claims.roles, ['reader']);
    assert.equal(claims.iss, 'keyward');
    assert.equal(claims.aud, 'keyward');
    assert.ok(claims.exp > claims.iat);
  });

  it('rejects a wrong issuer or audience, garbage, a tampered token and an empty one', async () => {
    const s = await loginAs();
    const jwksUrl = `${k.baseUrl}/.well-known/jwks.json`;
    await rejectsWith(
      createVerifier({ jwksUrl, issuer: 'someone-else', audience: 'keyward' }).verify(s.token),
      'invalid_token',
    );
    await rejectsWith(
      createVerifier({ jwksUrl, issuer: 'keyward', audience: 'orders' }).verify(s.token),
      'invalid_token',
    );
    await rejectsWith(offline.verify('not.a.token'), 'invalid_token');
    const [h, p, sig] = s.token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, roles: ['admin'] })).toString('base64url')}.${sig}`;
    await rejectsWith(offline.verify(forged), 'invalid_token');
    await rejectsWith(offline.verify(''), 'token_missing');
  });

  it('rejects a token whose typ is not at+jwt (the header is signed, so a re-typed token is also re-signed)', async () => {
    const s = await loginAs();
    const [h, p, sig] = s.token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const retyped = `${Buffer.from(JSON.stringify({ ...header, typ: 'JWT' })).toString('base64url')}.${p}.${sig}`;
    await rejectsWith(offline.verify(retyped), 'invalid_token');
  });

  it('offline, a revoked token still verifies until it expires; with introspection it does not', async () => {
    const s = await loginAs();
    assert.equal((await online.verify(s.token)).sub, String(s.userId));
    await k.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${s.token}` } });
    assert.equal((await offline.verify(s.token)).sub, String(s.userId));
    await rejectsWith(online.verify(s.token), 'invalid_token');
  });

  it('introspection never uses up the single-use token', async () => {
    const s = await loginAs();
    await online.verify(s.token);
    await online.verify(s.token);
    const res = await k.app.inject({
      method: 'GET',
      url: '/user',
      headers: { authorization: `Bearer ${s.token}` },
    });
    assert.equal(res.statusCode, 200);
  });

  it('caches introspection answers for cacheSeconds', async () => {
    const cached = createVerifier({
      jwksUrl: `${k.baseUrl}/.well-known/jwks.json`,
      issuer: 'keyward',
      audience: 'keyward',
      introspection: { url: `${k.baseUrl}/introspect`, ...CLIENT, cacheSeconds: 60 },
    });
    const s = await loginAs();
    await cached.verify(s.token);
    await k.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${s.token}` } });
    assert.equal((await cached.verify(s.token)).sub, String(s.userId), 'the cached answer is reused');
    await rejectsWith(online.verify(s.token), 'invalid_token');
  });

  it('wrong introspection credentials are introspection_failed (503), not a pass', async () => {
    const wrong = createVerifier({
      jwksUrl: `${k.baseUrl}/.well-known/jwks.json`,
      issuer: 'keyward',
      audience: 'keyward',
      introspection: {
        url: `${k.baseUrl}/introspect`,
        clientId: 'resource',
        clientSecret: 'nope-nope-nope-nope',
      },
    });
    const s = await loginAs();
    await rejectsWith(wrong.verify(s.token), 'introspection_failed');
  });

  it('requireRoles passes with every role and is forbidden otherwise', async () => {
    const claims = { roles: ['a', 'b'] } as unknown as KeywardClaims;
    requireRoles('a', 'b')(claims);
    assert.throws(
      () => {
        requireRoles('a', 'c')(claims);
      },
      (error: unknown) => error instanceof VerifyError && error.code === 'forbidden' && error.status === 403,
    );
  });
});

async function get(baseUrl: string, path: string, token?: string) {
  const res = await fetch(
    `${baseUrl}${path}`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    www: res.headers.get('www-authenticate'),
  };
}

describe('the Fastify plugin and guard', () => {
  it('protects a scope, puts the claims on request.keyward, and answers 401/403 in the error envelope', async () => {
    const api = Fastify();
    await api.register(async (scope) => {
      await scope.register(keywardFastify, { verifier: offline });
      scope.get('/me', async (request) => ({
        sub: (request as unknown as { keyward: KeywardClaims }).keyward.sub,
      }));
      scope.get('/admin', { onRequest: fastifyGuard(offline, requireRoles('admin')) }, async () => ({
        ok: true,
      }));
    });
    api.get('/public', async () => ({ ok: true }));
    await api.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    try {
      const s = await loginAs();
      assert.deepEqual((await get(base, '/me', s.token)).body, { sub: String(s.userId) });
      const missing = await get(base, '/me');
      assert.equal(missing.status, 401);
      assert.deepEqual(missing.body, { error: 'Token is missing', code: 'token_missing' });
      assert.equal(missing.www, 'Bearer');
      assert.equal((await get(base, '/me', 'garbage')).status, 401);
      const forbidden = await get(base, '/admin', s.token);
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.body.code, 'forbidden');
      const a = await loginAs(['admin']);
      assert.deepEqual((await get(base, '/admin', a.token)).body, { ok: true });
      assert.equal((await get(base, '/public')).status, 200);
    } finally {
      await api.close();
    }
  });
});

describe('the Express middleware', () => {
  it('sets req.keyward and answers 401/403 in the error envelope', async () => {
    const api = express();
    api.get('/me', expressMiddleware(offline), (req, res) => {
      res.json({ sub: (req as unknown as { keyward: KeywardClaims }).keyward.sub });
    });
    api.get('/admin', expressMiddleware(online, requireRoles('admin')), (_req, res) => {
      res.json({ ok: true });
    });
    const server = api.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const s = await loginAs();
      assert.deepEqual((await get(base, '/me', s.token)).body, { sub: String(s.userId) });
      const bad = await get(base, '/me', 'garbage');
      assert.equal(bad.status, 401);
      assert.equal(bad.body.code, 'invalid_token');
      assert.equal((await get(base, '/admin', s.token)).status, 403);
      const a = await loginAs(['admin']);
      assert.deepEqual((await get(base, '/admin', a.token)).body, { ok: true });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
