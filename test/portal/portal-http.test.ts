import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { PortalClient } from '../helpers/portal-client.js';

let t: TestApp;
before(async () => {
  t = await makeApp();
});
after(async () => {
  await t.close();
});

async function signedIn(username = uniqueName(), password = PASSWORD): Promise<PortalClient> {
  const client = new PortalClient(t.app);
  const res = await client.submit('/account/sign-up', '/account/sign-up', { username, password });
  assert.equal(res.statusCode, 303, res.body);
  assert.equal(res.headers.location, '/account');
  return client;
}

async function loginStatus(username: string, password: string): Promise<number> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password },
  });
  return res.statusCode;
}

describe('portal forms and CSRF', () => {
  it('a sign-up without the CSRF token changes nothing and gets 403', async () => {
    const client = new PortalClient(t.app);
    await client.get('/account/sign-up');
    const username = uniqueName();
    const res = await client.post('/account/sign-up', { username, password: PASSWORD }, { csrf: false });
    assert.equal(res.statusCode, 403);
    assert.match(String(res.headers['content-type']), /text\/html/);
    assert.equal(await loginStatus(username, PASSWORD), 401, 'no account was created');
  });

  it('a form posted without the CSRF cookie (from another site) is refused', async () => {
    const client = new PortalClient(t.app);
    await client.get('/account/sign-up');
    client.cookies.clear();
    const username = uniqueName();
    const res = await client.post('/account/sign-up', { username, password: PASSWORD });
    assert.equal(res.statusCode, 403);
    assert.equal(await loginStatus(username, PASSWORD), 401);
  });

  it('a password change with a wrong CSRF token keeps the old password', async () => {
    const username = uniqueName();
    const client = await signedIn(username);
    await client.get('/account/password');
    client.csrf = 'forged';
    const res = await client.post('/account/password', {
      current_password: PASSWORD,
      new_password: 'a brand new passphrase',
    });
    assert.equal(res.statusCode, 403);
    assert.equal(await loginStatus(username, PASSWORD), 200);
  });

  it('sign-out and delete without CSRF leave the session and the account alone', async () => {
    const username = uniqueName();
    const client = await signedIn(username);
    await client.get('/account');
    assert.equal((await client.post('/account/sign-out', {}, { csrf: false })).statusCode, 403);
    assert.equal((await client.post('/account/delete', { confirm: 'yes' }, { csrf: false })).statusCode, 403);
    assert.equal((await client.get('/account')).statusCode, 200, 'still signed in');
    assert.equal(await loginStatus(username, PASSWORD), 200, 'account kept');
  });

  it('a rule broken on a form is explained next to it, with the username kept and no password echoed', async () => {
    const client = new PortalClient(t.app);
    const username = uniqueName();
    const res = await client.submit('/account/sign-up', '/account/sign-up', { username, password: 'short' });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /role="alert"[^>]*>Password must be 8-1024 characters long\./);
    assert.match(res.body, new RegExp(`value="${username}"`));
    assert.doesNotMatch(res.body, /value="short"/);
  });

  it('wrong credentials read as a sentence, with 401', async () => {
    const client = new PortalClient(t.app);
    const res = await client.submit('/account/sign-in', '/account/sign-in', {
      username: uniqueName(),
      password: PASSWORD,
    });
    assert.equal(res.statusCode, 401);
    assert.match(res.body, /That username and password do not match/);
  });
});

describe('portal headers', () => {
  for (const url of ['/account/sign-in', '/account/sign-up', '/account', '/account/nothing-here']) {
    it(`${url} forbids framing, inline script and referrers`, async () => {
      const res = await t.app.inject({ method: 'GET', url });
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /default-src 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
    });
  }

  it('the JSON API gets none of the portal hooks (encapsulated plugin)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    // The JSON API's own policy (src/app.ts), not the portal's page policy, and no portal cookie or frame header.
    assert.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
    assert.equal(res.headers['x-frame-options'], undefined);
    assert.equal(res.headers['referrer-policy'], undefined);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  it('a form body is refused by the JSON API as before (415), the form parser lives under /account only', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/authenticate_user',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=x&password=y`,
    });
    assert.equal(res.statusCode, 415);
  });

  it('HEAD on a page answers 405 and rotates nothing', async () => {
    const client = await signedIn();
    const before = client.cookies.get('keyward_session');
    const res = await t.app.inject({
      method: 'HEAD',
      url: '/account',
      headers: { cookie: `keyward_session=${before ?? ''}` },
    });
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal((await client.get('/account')).statusCode, 200, 'the cookie still works');
  });
});

describe('portal session cookie', () => {
  it('is HttpOnly, SameSite=Lax, Path=/account over http, and holds no access token', async () => {
    const client = new PortalClient(t.app);
    await client.get('/account/sign-up');
    const res = await client.post('/account/sign-up', { username: uniqueName(), password: PASSWORD });
    const header = [res.headers['set-cookie']].flat().find((c) => c?.startsWith('keyward_session='));
    assert.ok(header);
    assert.match(header, /; HttpOnly/);
    assert.match(header, /; SameSite=Lax/);
    assert.match(header, /; Path=\/account(;|$)/);
    assert.doesNotMatch(header, /; Secure/);
    const value = client.cookies.get('keyward_session') ?? '';
    assert.equal(value.split('.').length === 3 && value.startsWith('eyJ'), false, 'not a JWT');
  });

  it('is Secure and __Host- with Path=/ when PUBLIC_URL is https', async () => {
    const secure = await makeApp({ PUBLIC_URL: 'https://id.example.com' });
    try {
      const client = new PortalClient(secure.app);
      await client.get('/account/sign-up');
      const res = await client.post('/account/sign-up', { username: uniqueName(), password: PASSWORD });
      assert.equal(res.statusCode, 303, res.body);
      const cookies = [res.headers['set-cookie']].flat();
      const session = cookies.find((c) => c?.startsWith('__Host-keyward_session='));
      assert.ok(session, String(cookies));
      assert.match(session, /; Secure/);
      assert.match(session, /; Path=\/(;|$)/);
      assert.doesNotMatch(session, /Domain=/);
      assert.ok(client.cookies.has('__Host-keyward_csrf'));
    } finally {
      await secure.close();
    }
  });

  it('is an ordinary session: listed by GET /sessions, ended by logout_all from the API', async () => {
    const username = uniqueName();
    const client = await signedIn(username);
    const login = await t.app.inject({
      method: 'POST',
      url: '/authenticate_user',
      payload: { username, password: PASSWORD },
    });
    const token = login.json<{ token: string }>().token;
    const list = await t.app.inject({
      method: 'GET',
      url: '/sessions',
      headers: { authorization: `Bearer ${token}` },
    });
    const sessions = list.json<{ sessions: { user_agent: string }[]; token: string }>().sessions;
    assert.ok(
      sessions.some((s) => s.user_agent === 'portal-test'),
      'the portal session is listed',
    );
    const next = list.json<{ token: string }>().token;
    const all = await t.app.inject({
      method: 'POST',
      url: '/logout_all',
      headers: { authorization: `Bearer ${next}` },
    });
    assert.equal(all.statusCode, 200);
    const page = await client.get('/account');
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, '/account/sign-in?done=session-ended');
    assert.equal(client.cookies.has('keyward_session'), false, 'the dead cookie is cleared');
  });

  it('keeps working over many pages, though each page leaves its unused access token behind', async () => {
    const client = await signedIn();
    for (let i = 0; i < 40; i++) assert.equal((await client.get('/account')).statusCode, 200, `page ${i}`);
  });

  it('two requests at once with the same cookie both succeed (the refresh reuse window)', async () => {
    const client = await signedIn();
    const cookie = `keyward_session=${client.cookies.get('keyward_session') ?? ''}`;
    const [a, b] = await Promise.all(
      [1, 2].map(() => t.app.inject({ method: 'GET', url: '/account', headers: { cookie } })),
    );
    assert.equal(a?.statusCode, 200);
    assert.equal(b?.statusCode, 200);
  });

  it('an old, already rotated cookie presented after the window ends the session (reuse detection)', async () => {
    const short = await makeApp({ REFRESH_REUSE_WINDOW: '0' });
    try {
      const client = new PortalClient(short.app);
      await client.get('/account/sign-up');
      await client.post('/account/sign-up', { username: uniqueName(), password: PASSWORD });
      const stolen = client.cookies.get('keyward_session') ?? '';
      assert.equal((await client.get('/account')).statusCode, 200);
      const replay = await short.app.inject({
        method: 'GET',
        url: '/account',
        headers: { cookie: `keyward_session=${stolen}` },
      });
      assert.equal(replay.statusCode, 303);
      assert.equal((await client.get('/account')).statusCode, 303, 'the whole session is revoked');
    } finally {
      await short.close();
    }
  });

  it('sign-out revokes the session and clears the cookie', async () => {
    const client = await signedIn();
    const kept = client.cookies.get('keyward_session') ?? '';
    await client.get('/account');
    const res = await client.post('/account/sign-out', {});
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/account/sign-in?done=signed-out');
    assert.equal(client.cookies.has('keyward_session'), false);
    const again = await t.app.inject({
      method: 'GET',
      url: '/account',
      headers: { cookie: `keyward_session=${kept}` },
    });
    assert.equal(again.statusCode, 303, 'the old cookie no longer opens the account');
  });
});

describe('portal escaping', () => {
  it('a username with markup is shown as text, never as HTML', async () => {
    const username = `<b>x"'&${String(Date.now()).slice(-6)}</b>`;
    const created = await t.app.inject({
      method: 'POST',
      url: '/user',
      payload: { username, password: PASSWORD },
    });
    if (created.statusCode !== 201) {
      // The username rules may refuse some of these characters; the re-rendered form must still escape them.
      const client = new PortalClient(t.app);
      const res = await client.submit('/account/sign-up', '/account/sign-up', {
        username,
        password: PASSWORD,
      });
      assert.doesNotMatch(res.body, /<b>x/);
      assert.match(res.body, /&lt;b>x&quot;/);
      return;
    }
    const client = new PortalClient(t.app);
    const res = await client.submit('/account/sign-in', '/account/sign-in', { username, password: PASSWORD });
    assert.equal(res.statusCode, 303);
    const page = await client.get('/account');
    assert.equal(page.statusCode, 200);
    assert.doesNotMatch(page.body, /<b>x/);
    assert.match(page.body, /<dd>&lt;b>x&quot;'&amp;\d+&lt;\/b><\/dd>/);
  });

  it('markup typed into the sign-in form comes back escaped in the value attribute', async () => {
    const client = new PortalClient(t.app);
    const res = await client.submit('/account/sign-in', '/account/sign-in', {
      username: '"><script>alert(1)</script>',
      password: PASSWORD,
    });
    assert.equal(res.statusCode, 401);
    assert.doesNotMatch(res.body, /<script>/);
    assert.match(res.body, /value="&quot;>&lt;script>alert\(1\)&lt;\/script>"/);
  });
});

describe('hostile bodies', () => {
  it('never get a 5xx on any form', async () => {
    const client = await signedIn();
    await client.get('/account');
    const cookie = [...client.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const csrf = client.csrf;
    const bodies: [string, string][] = [
      ['application/json', JSON.stringify({ _csrf: {}, username: 'a', password: 'b' })],
      ['application/json', JSON.stringify({ _csrf: [csrf], username: 'a' })],
      ['application/json', JSON.stringify({ _csrf: csrf, username: ['a'], password: 7, session_id: {} })],
      ['application/json', 'null'],
      ['application/x-www-form-urlencoded', `_csrf=${csrf}&_csrf=x&username=a&password=b`],
      ['application/x-www-form-urlencoded', `_csrf=${csrf}&username=a&username=b&session_id=x&session_id=y`],
      ['application/x-www-form-urlencoded', `_csrf=%ZZ&username=a`],
      ['application/x-www-form-urlencoded', `__proto__[x]=1&constructor[prototype][y]=2&_csrf=${csrf}`],
      ['text/plain', 'hello'],
    ];
    const forms = ['/account/sign-in', '/account/sign-up', '/account/sessions/revoke', '/account/password'];
    for (const [type, payload] of bodies) {
      for (const url of forms) {
        const res = await t.app.inject({
          method: 'POST',
          url,
          headers: { cookie, 'content-type': type },
          payload,
        });
        assert.ok(res.statusCode < 500, `${url} ${type} ${payload}: ${res.statusCode}`);
      }
    }
  });
});

describe('the OpenAPI document', () => {
  it('lists no portal page', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    const paths = Object.keys(res.json<{ paths: Record<string, unknown> }>().paths);
    assert.ok(paths.includes('/user'));
    assert.deepEqual(
      paths.filter((p) => p.startsWith('/account')),
      [],
    );
  });
});

describe('PORTAL=off', () => {
  it('removes every /account route', async () => {
    const off = await makeApp({ PORTAL: 'off' });
    try {
      const routes = off.app.printRoutes({ commonPrefix: false });
      assert.doesNotMatch(routes, /account/);
      for (const url of ['/account', '/account/sign-in', '/account/static/portal.css']) {
        const res = await off.app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json<{ code: string }>().code, 'not_found');
      }
      const post = await off.app.inject({ method: 'POST', url: '/account/sign-in', payload: {} });
      assert.equal(post.statusCode, 404);
    } finally {
      await off.close();
    }
  });
});
