import assert from 'node:assert/strict';
import { createHash, createHmac, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { makeApp, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { assertOk, expectLive, jwtPart, type Reply } from './http-helpers.js';

interface Jwks {
  keys: Record<string, string>[];
}

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
}

/** The resources a page loads: script src, stylesheet and other link hrefs, CSS imports. */
function resourceUrls(html: string): string[] {
  const urls: string[] = [];
  for (const match of html.matchAll(
    /<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']/gi,
  )) {
    if (match[1] !== undefined) urls.push(match[1]);
  }
  for (const match of html.matchAll(/@import\s+(?:url\()?["']?([^"')\s;]+)/gi)) {
    if (match[1] !== undefined) urls.push(match[1]);
  }
  return urls;
}

const APP_ORIGIN = 'https://app.example';
const EVIL_ORIGIN = 'https://evil.example';

/** The Access-Control-* headers of a response. */
function corsHeaders(res: Reply): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(res.headers).filter(([name]) => name.startsWith('access-control-')),
  );
}

/** A browser's preflight for a JSON POST to /authenticate_user from `origin`. */
function preflight(t: TestApp, origin: string): Promise<Reply> {
  return t.app.inject({
    method: 'OPTIONS',
    url: '/authenticate_user',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
}

function healthzFrom(t: TestApp, origin: string): Promise<Reply> {
  return t.app.inject({ method: 'GET', url: '/healthz', headers: { origin } });
}

describe('ops routes (EdDSA)', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp();
  });
  after(async () => {
    await t.close();
  });

  it('/healthz answers 200', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    assertOk(res);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('echoes a well-formed X-Request-Id and replaces any other with a fresh UUID', async () => {
    const kept = await t.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'lb-42.a:b_c' },
    });
    assert.equal(kept.headers['x-request-id'], 'lb-42.a:b_c');
    for (const hostile of ['<script>alert(1)</script>', 'a b', 'x'.repeat(65), '']) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'x-request-id': hostile },
      });
      assertOk(res);
      assert.match(
        String(res.headers['x-request-id']),
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        `a request id of ${JSON.stringify(hostile)} must not be echoed`,
      );
    }
    const none = await t.app.inject({ method: 'GET', url: '/healthz' });
    assert.notEqual(none.headers['x-request-id'], undefined);
  });

  it('sends no CORS header at all without CORS_ORIGINS, whatever the Origin', async () => {
    for (const origin of [APP_ORIGIN, EVIL_ORIGIN]) {
      const get = await healthzFrom(t, origin);
      assertOk(get);
      assert.deepEqual(corsHeaders(get), {}, `GET /healthz from ${origin}`);
      const options = await preflight(t, origin);
      assert.ok(options.statusCode < 500, `preflight: ${options.statusCode}`);
      assert.deepEqual(corsHeaders(options), {}, `preflight from ${origin}`);
    }
  });

  it('/readyz answers 200 with the database and token store checks', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    assertOk(res);
    assert.deepEqual(res.json(), { status: 'ok', checks: { database: 'ok', token_store: 'ok' } });
  });

  it('/.well-known/jwks.json lists the Ed25519 public key under the kid of the tokens', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assertOk(res);
    const { keys } = res.json<Jwks>();
    assert.ok(keys.length >= 1);
    for (const key of keys) {
      assert.equal(key.kty, 'OKP');
      assert.equal(key.crv, 'Ed25519');
      assert.equal(key.alg, 'EdDSA');
      assert.equal(key.use, 'sig');
      assert.equal(typeof key.kid, 'string');
      assert.equal(typeof key.x, 'string');
      assert.equal(key.d, undefined, 'no private key material');
      const thumbprint = createHash('sha256')
        .update(JSON.stringify({ crv: key.crv, kty: key.kty, x: key.x }))
        .digest('base64url');
      assert.equal(key.kid, thumbprint, 'kid is the RFC 7638 thumbprint');
    }
    const s = await signUpAndLogin(t.app);
    const header = jwtPart(s.token, 0);
    assert.ok(keys.some((k) => k.kid === header.kid));
  });

  it('an access token verifies offline with the published key', async () => {
    const { keys } = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<Jwks>();
    const s = await signUpAndLogin(t.app);
    const [h, p, sig] = s.token.split('.') as [string, string, string];
    const jwk = keys.find((k) => k.kid === jwtPart(s.token, 0).kid);
    assert.ok(jwk);
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    assert.equal(verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url')), true);
    assert.equal(verify(null, Buffer.from(`${h}.${p}x`), key, Buffer.from(sig, 'base64url')), false);
  });

  it('/openapi.json is an OpenAPI 3 document listing every route', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assertOk(res);
    const doc = res.json<OpenApiDocument>();
    assert.match(doc.openapi, /^3\./);
    const expected: Record<string, string[]> = {
      '/user': ['post', 'get', 'put', 'delete'],
      '/authenticate_user': ['post'],
      '/validate_token': ['post'],
      '/logout': ['post'],
      '/refresh_token': ['post'],
      '/sessions': ['get'],
      '/sessions/{id}': ['delete'],
      '/logout_all': ['post'],
      '/healthz': ['get'],
      '/readyz': ['get'],
      '/.well-known/jwks.json': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      const item = doc.paths[path];
      assert.ok(item, `missing path ${path}`);
      for (const method of methods) assert.ok(item[method], `missing ${method.toUpperCase()} ${path}`);
    }
  });

  it('/docs serves HTML that loads nothing from another origin', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/docs' });
    let url = '/docs';
    for (let hops = 0; hops < 3 && res.statusCode >= 300 && res.statusCode < 400; hops += 1) {
      url = new URL(String(res.headers.location), `http://localhost${url}`).pathname;
      res = await t.app.inject({ method: 'GET', url });
    }
    assertOk(res);
    assert.match(String(res.headers['content-type']), /text\/html/);
    const resources = resourceUrls(res.body);
    assert.ok(resources.length > 0, 'the page loads its scripts and styles');
    for (const resource of resources) {
      assert.doesNotMatch(resource, /^(https?:)?\/\//i, `external resource ${resource}`);
      const local = new URL(resource, `http://localhost${url}`).pathname;
      const asset = await t.app.inject({ method: 'GET', url: local });
      assert.equal(asset.statusCode, 200, `${local}: ${asset.statusCode}`);
    }
  });
});

describe('HS256 mode (JWT_KEY set)', () => {
  let t: TestApp;
  const secret = randomBytes(30).toString('base64url');
  before(async () => {
    assert.equal(secret.length, 40);
    t = await makeApp({ JWT_KEY: secret });
  });
  after(async () => {
    await t.close();
  });

  it('/.well-known/jwks.json is an empty list', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assertOk(res);
    assert.deepEqual(res.json(), { keys: [] });
  });

  it('login and GET /user work with HS256 at+jwt tokens signed with the secret', async () => {
    const s = await signUpAndLogin(t.app);
    const header = jwtPart(s.token, 0);
    assert.equal(header.alg, 'HS256');
    assert.equal(header.typ, 'at+jwt');
    const [h, p, sig] = s.token.split('.') as [string, string, string];
    assert.equal(createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url'), sig);
    const next = await expectLive(t.app, s.token);
    assert.equal(jwtPart(next, 0).alg, 'HS256');
    await expectLive(t.app, next);
  });
});

describe('CORS_ORIGINS', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp({ CORS_ORIGINS: APP_ORIGIN });
  });
  after(async () => {
    await t.close();
  });

  it('a listed origin gets Access-Control-Allow-Origin on the preflight and on the request', async () => {
    const options = await preflight(t, APP_ORIGIN);
    assert.equal(options.statusCode, 204, options.body);
    assert.equal(options.headers['access-control-allow-origin'], APP_ORIGIN);
    assert.match(String(options.headers['access-control-allow-methods']), /\bPOST\b/);
    const get = await healthzFrom(t, APP_ORIGIN);
    assertOk(get);
    assert.equal(get.headers['access-control-allow-origin'], APP_ORIGIN);
  });

  it('another origin gets no Access-Control-Allow-Origin', async () => {
    const options = await preflight(t, EVIL_ORIGIN);
    assert.ok(options.statusCode < 500, `preflight: ${options.statusCode}`);
    assert.equal(options.headers['access-control-allow-origin'], undefined);
    const get = await healthzFrom(t, EVIL_ORIGIN);
    assertOk(get);
    assert.equal(get.headers['access-control-allow-origin'], undefined);
  });
});
