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
  type TokenBody,
} from './http-helpers.js';

let t: TestApp;
before(async () => {
  t = await makeApp();
});
after(async () => {
  await t.close();
});

interface AdminUser {
  id: number;
  username: string;
  roles: string[];
  disabled: boolean;
}
interface ListBody {
  users: AdminUser[];
  next_cursor: string | null;
  token: string;
}

/** A user with the given roles, logged in after they were set (so that the token carries them). */
async function userWithRoles(roles: string[], prefix = 'user') {
  const s = await signUpAndLogin(t.app, uniqueName(prefix));
  await t.deps.users.setRoles(s.userId, roles);
  const res = await login(t.app, s.username, PASSWORD);
  assertOk(res);
  const body = res.json<TokenBody>();
  return { ...s, token: body.token, refreshToken: body.refresh_token };
}

/** An admin whose token chains through every call. */
async function admin() {
  const a = await userWithRoles(['admin'], 'admin');
  let token = a.token;
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) => {
    const res = await t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
    const next = res.json<{ token?: string }>().token;
    if (next !== undefined) token = next;
    return res;
  };
  return { ...a, call, token: () => token };
}

describe('roles', () => {
  it('a new user has no roles, in the user object and the access token', async () => {
    const s = await signUpAndLogin(t.app);
    assert.deepEqual(jwtPart(s.token, 1).roles, []);
    const res = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(s.token) });
    assert.deepEqual(res.json<{ user: { roles: string[] } }>().user.roles, []);
  });

  it('roles set on the user are in the login token, kept by every renewal, and in GET /user', async () => {
    const s = await userWithRoles(['admin', 'editor']);
    assert.deepEqual(jwtPart(s.token, 1).roles, ['admin', 'editor']);
    const res = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(s.token) });
    assertOk(res);
    const body = res.json<{ user: { roles: string[] }; token: string }>();
    assert.deepEqual(body.user.roles, ['admin', 'editor']);
    assert.deepEqual(jwtPart(body.token, 1).roles, ['admin', 'editor']);
  });

  it('a refresh re-reads the roles from the user', async () => {
    const s = await signUpAndLogin(t.app);
    await t.deps.users.setRoles(s.userId, ['reader']);
    const res = await refresh(t.app, s.refreshToken);
    assertOk(res);
    assert.deepEqual(jwtPart(res.json<TokenBody>().token, 1).roles, ['reader']);
  });
});

describe('admin API: who may call it', () => {
  it('a caller without role admin gets 403 forbidden, with the next token', async () => {
    const s = await userWithRoles(['editor']);
    const res = await t.app.inject({ method: 'GET', url: '/admin/users', headers: bearer(s.token) });
    const body = assertError(res, 403, 'forbidden');
    assert.ok(body.token, 'the consumed token is replaced');
    await expectLive(t.app, body.token);
  });

  it('no token is 401; a bad token is 401', async () => {
    assertError(await t.app.inject({ method: 'GET', url: '/admin/users' }), 401, 'token_missing');
    assertError(
      await t.app.inject({ method: 'GET', url: '/admin/users', headers: bearer('x.y.z') }),
      401,
      'invalid_token',
    );
  });

  it('an admin whose role was removed in the database is refused at once, whatever the token says', async () => {
    const a = await admin();
    assertOk(await a.call('GET', '/admin/users?limit=1'));
    await t.deps.users.setRoles(a.userId, []);
    assertError(await a.call('GET', '/admin/users?limit=1'), 403, 'forbidden');
  });
});

describe('GET /admin/users', () => {
  it('pages through every user in id order with an opaque cursor, no gaps or repeats', async () => {
    const a = await admin();
    const tag = uniqueName('pg');
    const made = [];
    for (let i = 0; i < 5; i += 1) made.push(await signUpAndLogin(t.app, `${tag}n${i}`));
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/admin/users?query=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await a.call('GET', url);
      assertOk(res);
      const body = res.json<ListBody>();
      assert.ok(body.users.length <= 2);
      seen.push(...body.users.map((u) => u.id));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor !== null);
    assert.deepEqual(
      seen,
      made.map((m) => m.userId),
    );
    assert.equal(pages, 3);
  });

  it('the query matches case-insensitively and a user object has id, username, roles, disabled', async () => {
    const a = await admin();
    const s = await signUpAndLogin(t.app, uniqueName('Findme'));
    const res = await a.call('GET', `/admin/users?query=${encodeURIComponent(s.username.toUpperCase())}`);
    assertOk(res);
    assert.deepEqual(res.json<ListBody>().users, [
      { id: s.userId, username: s.username, roles: [], disabled: false },
    ]);
    assert.equal(res.json<ListBody>().next_cursor, null);
  });

  it('a malformed cursor is 400 and does not consume the token', async () => {
    const a = await admin();
    for (const cursor of ['%%%', 'bm90LWEtY3Vyc29y', 'djE6MA', 'djE6LTE', 'a'.repeat(129)]) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/admin/users?cursor=${encodeURIComponent(cursor)}`,
        headers: bearer(a.token()),
      });
      assert.equal(res.statusCode, 400, `${cursor}: ${res.body}`);
      assert.ok(['invalid_cursor', 'validation_failed'].includes(res.json<{ code: string }>().code));
    }
    assertOk(await a.call('GET', '/admin/users?limit=1'));
  });

  it('a bad limit is 400', async () => {
    const a = await admin();
    for (const limit of ['0', '101', 'x', '-1', '1.5']) {
      assertError(
        await t.app.inject({ method: 'GET', url: `/admin/users?limit=${limit}`, headers: bearer(a.token()) }),
        400,
        'validation_failed',
      );
    }
  });
});

describe('GET /admin/users/{id}', () => {
  it('returns the user; an unknown or malformed id is 404 user_not_found', async () => {
    const a = await admin();
    const s = await signUpAndLogin(t.app);
    const res = await a.call('GET', `/admin/users/${s.userId}`);
    assertOk(res);
    assert.deepEqual(res.json<{ user: AdminUser }>().user, {
      id: s.userId,
      username: s.username,
      roles: [],
      disabled: false,
    });
    // A well-formed unknown id is looked up (the token is consumed and replaced); a malformed one is refused first.
    assert.ok(assertError(await a.call('GET', '/admin/users/999999999'), 404, 'user_not_found').token);
    for (const id of ['abc', '0', '-1', '1e3', '99999999999999999999']) {
      assertError(await a.call('GET', `/admin/users/${id}`), 404, 'user_not_found');
    }
    assertOk(await a.call('GET', `/admin/users/${s.userId}`));
  });
});

describe('disable and enable', () => {
  it('disabling revokes every session, refresh tokens included, and the login gets the usual 401', async () => {
    const a = await admin();
    const s = await signUpAndLogin(t.app);
    const res = await a.call('POST', `/admin/users/${s.userId}/disable`);
    assertOk(res);
    const body = res.json<{ user: AdminUser; revoked: number; token: string }>();
    assert.equal(body.user.disabled, true);
    assert.equal(body.revoked, 1);
    await expectDead(t.app, s.token);
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials', 'Invalid credentials');
    assertError(await login(t.app, s.username, 'wrong password here'), 401, 'invalid_credentials');

    const enabled = await a.call('POST', `/admin/users/${s.userId}/enable`);
    assertOk(enabled);
    assert.equal(enabled.json<{ user: AdminUser }>().user.disabled, false);
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('both are audited with the acting admin', async () => {
    const a = await admin();
    const s = await signUpAndLogin(t.app);
    assertOk(await a.call('POST', `/admin/users/${s.userId}/disable`));
    assertOk(await a.call('POST', `/admin/users/${s.userId}/enable`));
    const events = await t.deps.audit.recent(100, { userId: s.userId });
    const mine = events.filter((e) => e.event === 'account_disabled' || e.event === 'account_enabled');
    assert.deepEqual(mine.map((e) => e.event).sort(), ['account_disabled', 'account_enabled']);
    for (const e of mine) assert.equal(e.detail?.actor_id, a.userId);
  });

  it('unknown ids are 404 user_not_found', async () => {
    const a = await admin();
    assertError(await a.call('POST', '/admin/users/999999999/disable'), 404, 'user_not_found');
    assertError(await a.call('POST', '/admin/users/999999999/enable'), 404, 'user_not_found');
  });
});

describe('PUT /admin/users/{id}/roles', () => {
  it("adding a role keeps the user's sessions; the next login or refresh carries it", async () => {
    const a = await admin();
    const s = await signUpAndLogin(t.app);
    const res = await a.call('PUT', `/admin/users/${s.userId}/roles`, {
      roles: ['editor', 'editor', 'audit'],
    });
    assertOk(res);
    const body = res.json<{ user: AdminUser; revoked: number }>();
    assert.deepEqual(body.user.roles, ['audit', 'editor']);
    assert.equal(body.revoked, 0);
    await expectLive(t.app, s.token);
    const refreshed = await refresh(t.app, s.refreshToken);
    assertOk(refreshed);
    assert.deepEqual(jwtPart(refreshed.json<TokenBody>().token, 1).roles, ['audit', 'editor']);
  });

  it("removing a role revokes the user's sessions so that no token still carries it", async () => {
    const a = await admin();
    const s = await userWithRoles(['editor']);
    const res = await a.call('PUT', `/admin/users/${s.userId}/roles`, { roles: [] });
    assertOk(res);
    // Both sessions: the one of the first login, and the one whose token carries the role.
    assert.equal(res.json<{ revoked: number }>().revoked, 2);
    await expectDead(t.app, s.token);
    const events = await t.deps.audit.recent(100, { userId: s.userId });
    const changed = events.find((e) => e.event === 'roles_changed');
    assert.equal(changed?.detail?.actor_id, a.userId);
  });

  it('bad role names are 400 before the token is consumed; unknown ids 404', async () => {
    const a = await admin();
    for (const payload of [{ roles: ['has space'] }, { roles: [''] }, { roles: 'admin' }, {}]) {
      assertError(
        await t.app.inject({
          method: 'PUT',
          url: '/admin/users/1/roles',
          headers: bearer(a.token()),
          payload,
        }),
        400,
        'validation_failed',
      );
    }
    assertError(await a.call('PUT', '/admin/users/999999999/roles', { roles: [] }), 404, 'user_not_found');
  });
});

describe('DELETE /admin/users/{id}/sessions', () => {
  it('revokes every session of the user and is audited', async () => {
    const a = await admin();
    const s = await signUpAndLogin(t.app);
    const second = await login(t.app, s.username, PASSWORD);
    const res = await a.call('DELETE', `/admin/users/${s.userId}/sessions`);
    assertOk(res);
    assert.equal(res.json<{ revoked: number }>().revoked, 2);
    await expectDead(t.app, s.token);
    await expectDead(t.app, second.json<TokenBody>().token);
    const events = await t.deps.audit.recent(100, { userId: s.userId });
    assert.equal(events.find((e) => e.event === 'sessions_revoked_by_admin')?.detail?.actor_id, a.userId);
    assertError(await a.call('DELETE', '/admin/users/999999999/sessions'), 404, 'user_not_found');
  });
});
