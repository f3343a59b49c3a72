import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, makeApp, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { KEYWARD_LOGO, KEYWARD_MARK } from '../../src/http/keyward-logo.js';
import { assertError, assertOk } from './http-helpers.js';

interface Operation {
  responses: Record<string, unknown>;
  security?: Record<string, string[]>[];
}

type OpenApiPaths = Record<string, Record<string, Operation>>;

// The OpenAPI document is held to what the routes answer: each status a request provokes below must be listed
// for that operation.
describe('the OpenAPI document against the routes', () => {
  let t: TestApp;
  let paths: OpenApiPaths;

  before(async () => {
    t = await makeApp();
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assertOk(res);
    paths = res.json<{ paths: OpenApiPaths }>().paths;
  });

  after(async () => {
    await t.close();
  });

  function operation(method: string, path: string): Operation {
    const op = paths[path]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${path} is not in the document`);
    return op;
  }

  /** Every route that parses a request body, with a URL to call it on. */
  const bodyRoutes: [method: 'POST' | 'PUT' | 'DELETE', path: string, url: string][] = [
    ['POST', '/user', '/user'],
    ['PUT', '/user', '/user'],
    ['DELETE', '/user', '/user'],
    ['POST', '/authenticate_user', '/authenticate_user'],
    ['POST', '/validate_token', '/validate_token'],
    ['POST', '/logout', '/logout'],
    ['POST', '/refresh_token', '/refresh_token'],
    ['POST', '/logout_all', '/logout_all'],
    ['DELETE', '/sessions/{id}', '/sessions/abc'],
  ];

  const badBodies: [status: number, code: string, contentType: string, body: string][] = [
    [415, 'unsupported_media_type', 'text/plain', 'x'],
    [400, 'invalid_json', 'application/json', '{"token":'],
    [413, 'payload_too_large', 'application/json', JSON.stringify({ token: 'x'.repeat(70 * 1024) })],
  ];

  for (const [method, path, url] of bodyRoutes) {
    it(`${method} ${path} lists the statuses of a body it cannot take (400, 413, 415)`, async () => {
      const documented = Object.keys(operation(method, path).responses);
      for (const [status, code, contentType, body] of badBodies) {
        // A live token each time, so that the body, not the token, is what the answer is about.
        const { token } = await signUpAndLogin(t.app);
        const res = await t.app.inject({
          method,
          url,
          headers: { ...bearer(token), 'content-type': contentType },
          payload: body,
        });
        assertError(res, status, code);
        assert.ok(
          documented.includes(String(status)),
          `${method} ${path} answers ${status} but lists ${documented.join(', ')}`,
        );
      }
    });
  }

  it('PUT /user lists 429: wrong current passwords count as failed logins', async () => {
    assert.ok(Object.keys(operation('PUT', '/user').responses).includes('429'));
  });

  it('/validate_token and /logout take a bearer token (or, failing that, one in the body)', () => {
    for (const path of ['/validate_token', '/logout']) {
      const security = operation('POST', path).security ?? [];
      assert.ok(
        security.some((requirement) => 'bearer' in requirement),
        `${path}: ${JSON.stringify(security)}`,
      );
      assert.ok(
        security.some((requirement) => Object.keys(requirement).length === 0),
        `${path}: the header is optional`,
      );
    }
  });
});

describe('Swagger UI at /docs carries Keyward’s name and logo', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp();
  });
  after(async () => {
    await t.close();
  });

  /** GET `url`, following the UI's redirects (/docs → /docs/static/index.html). */
  async function get(url: string): Promise<{ body: string; type: string }> {
    let res = await t.app.inject({ method: 'GET', url });
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops += 1) {
      const location = String(res.headers.location);
      res = await t.app.inject({ method: 'GET', url: new URL(location, `http://x${url}`).pathname });
    }
    assertOk(res);
    return { body: res.body, type: String(res.headers['content-type']) };
  }

  it('the page is titled Keyward API, with Keyward’s favicon, not the framework’s', async () => {
    const page = await get('/docs');
    assert.match(page.body, /<title>Keyward API<\/title>/);
    assert.match(
      page.body,
      /<link rel="icon" type="image\/svg\+xml" href="\/docs\/static\/theme\/keyward\.svg" sizes="any"/,
    );
    assert.doesNotMatch(page.body, /favicon-(16|32)x(16|32)\.png|Swagger UI<\/title>/);
    const icon = await get('/docs/static/theme/keyward.svg');
    assert.match(icon.type, /^image\/svg\+xml/);
    assert.equal(icon.body, KEYWARD_MARK);
  });

  it('the top bar shows the Keyward logo (an SVG with the name), not Fastify’s', async () => {
    const init = await get('/docs/static/swagger-initializer.js');
    const data = /img\.src = 'data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)'/.exec(init.body)?.[1];
    assert.ok(data !== undefined, 'the initializer replaces the logo');
    const svg = Buffer.from(data, 'base64').toString('utf8');
    assert.equal(svg, KEYWARD_LOGO);
    assert.match(svg, /<title>Keyward<\/title>/);
    assert.doesNotMatch(svg, /fastify/i);
  });
});
