// Whatever a client sends to the routes of SPEC §12, the answer is a clear 4xx (or 200), never a 5xx.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { login, type TokenBody } from './http-helpers.js';

let t: TestApp;
let token: string;
before(async () => {
  t = await makeApp({ INTROSPECTION_CLIENTS: 'fuzz:fuzz-secret-0123456789' });
  const s = await signUpAndLogin(t.app);
  await t.deps.users.setRoles(s.userId, ['admin']);
  token = (await login(t.app, s.username, PASSWORD)).json<TokenBody>().token;
});
after(async () => {
  await t.close();
});

const anyText = fc.string({ unit: 'binary', maxLength: 300 });

/** Every UTF-8 byte percent-encoded (a lone surrogate becomes U+FFFD, as any client's encoder would make it). */
function enc(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}
const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'multipart/form-data',
];

function noServerError(res: { statusCode: number; body: string }, what: string): void {
  assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body}`);
  const body = JSON.parse(res.body) as { code?: unknown; token?: unknown };
  if (res.statusCode >= 400) assert.equal(typeof body.code, 'string', res.body);
  if (typeof body.token === 'string') token = body.token;
}

describe('bad input to the admin API, /introspect and /revoke', () => {
  it('admin query strings, ids and role bodies never yield a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(anyText, anyText, anyText, anyText, async (query, cursor, id, role) => {
        const list = await t.app.inject({
          method: 'GET',
          url: `/admin/users?query=${enc(query)}&cursor=${enc(cursor)}&limit=${enc(role.slice(0, 4))}`,
          headers: bearer(token),
        });
        noServerError(list, 'list');
        const one = await t.app.inject({
          method: 'PUT',
          url: `/admin/users/${enc(id)}/roles`,
          headers: bearer(token),
          payload: { roles: [role] },
        });
        noServerError(one, 'roles');
      }),
      { numRuns: 60 },
    );
  });

  it('bodies and headers of /introspect and /revoke never yield a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyText,
        anyText,
        fc.constantFrom(...CONTENT_TYPES),
        fc.constantFrom('/introspect', '/revoke'),
        async (body, auth, type, url) => {
          const res = await t.app.inject({
            method: 'POST',
            url,
            headers: { 'content-type': type, authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
            payload: body,
          });
          noServerError(res, url);
        },
      ),
      { numRuns: 80 },
    );
  });
});
