import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { usernameKey } from '../../src/domain/username.js';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import {
  assertError,
  assertOk,
  expectDead,
  expectLive,
  getUser,
  login,
  refresh,
  type TokenBody,
  type UserBody,
} from './http-helpers.js';

let t: TestApp;
before(async () => {
  t = await makeApp();
});
after(async () => {
  await t.close();
});

const signUp = (username: unknown, password: unknown) =>
  t.app.inject({ method: 'POST', url: '/user', payload: { username, password } });

const put = (token: string, payload?: Record<string, unknown>) =>
  t.app.inject({ method: 'PUT', url: '/user', headers: bearer(token), ...(payload ? { payload } : {}) });

describe('POST /user', () => {
  it('creates a user and answers 201 with exactly the message and the user', async () => {
    const username = uniqueName();
    const res = await signUp(username, PASSWORD);
    assertOk(res, 201);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json<{ message: string; user: { id: number; username: string } }>();
    assert.ok(Number.isSafeInteger(body.user.id) && body.user.id > 0);
    assert.deepEqual(body, {
      message: 'User created successfully',
      user: { id: body.user.id, username, email: null, email_verified: false, roles: [], mfa_enabled: false },
    });
  });

  for (const [label, payload, field] of [
    ['a missing username', { password: PASSWORD }, 'username'],
    ['a missing password', { username: 'someone' }, 'password'],
    ['a number as password', { username: 'someone', password: 12345678 }, 'password'],
    ['an array as username', { username: ['someone'], password: PASSWORD }, 'username'],
    ['a null username', { username: null, password: PASSWORD }, 'username'],
    ['a null password', { username: 'someone', password: null }, 'password'],
    ['an object as password', { username: 'someone', password: { $ne: '' } }, 'password'],
    ['a boolean as username', { username: true, password: PASSWORD }, 'username'],
  ] as const) {
    it(`rejects ${label} with 400 naming the field`, async () => {
      const res = await t.app.inject({ method: 'POST', url: '/user', payload });
      const body = assertError(res, 400, 'validation_failed');
      assert.match(body.error, new RegExp(field));
    });
  }

  it('rejects a password shorter than 8 characters', async () => {
    const body = assertError(await signUp(uniqueName(), 'k7#pQ2'), 400, 'weak_password');
    assert.match(body.error, /password/);
  });

  it('accepts a password of exactly 1024 characters and rejects 1025 with 400 weak_password', async () => {
    const username = uniqueName();
    const longest = 'k7#pQ2zL'.repeat(128);
    assert.equal(longest.length, 1024);
    const body = assertError(await signUp(username, `${longest}x`), 400, 'weak_password');
    assert.match(body.error, /password/);
    assertOk(await signUp(username, longest), 201);
    assertOk(await login(t.app, username, longest));
  });

  it('with PASSWORD_MIN_LENGTH=12 rejects an 11-character password with 400 weak_password and accepts 12', async () => {
    const eleven = 'k7#pQ2zLm9v';
    assertOk(await signUp(uniqueName(), eleven), 201);
    const strict = await makeApp({ PASSWORD_MIN_LENGTH: '12' });
    try {
      const username = uniqueName();
      const signUpStrict = (password: string) =>
        strict.app.inject({ method: 'POST', url: '/user', payload: { username, password } });
      const body = assertError(await signUpStrict(eleven), 400, 'weak_password');
      assert.match(body.error, /password/);
      assertOk(await signUpStrict(`${eleven}X`), 201);
    } finally {
      await strict.close();
    }
  });

  for (const common of ['password123', '12345678', 'PASSWORD123']) {
    it(`rejects the common password ${JSON.stringify(common)}`, async () => {
      assertError(await signUp(uniqueName(), common), 400, 'weak_password');
    });
  }

  it('rejects a password that contains the username, case-insensitively', async () => {
    const username = uniqueName('Zorro');
    assertError(await signUp(username, `my-${username.toUpperCase()}-pw`), 400, 'weak_password');
    assertError(await signUp(username, username.toLowerCase()), 400, 'weak_password');
  });

  for (const [label, username] of [
    ['shorter than 4 characters', 'abc'],
    ['longer than 64 characters', 'a'.repeat(65)],
    ['with a space', 'john doe'],
    ['with a tab', 'john\tdoe'],
    ['with a control character', 'john\u0007doe'],
    ['with a zero-width space', 'john\u200bdoe'],
    ['empty', ''],
  ] as const) {
    it(`rejects a username ${label} with 400 invalid_username`, async () => {
      const body = assertError(await signUp(username, PASSWORD), 400, 'invalid_username');
      assert.match(body.error, /username/);
    });
  }

  it('accepts a username of exactly 4 and of exactly 64 characters', async () => {
    const suffix = uniqueName('');
    assertOk(await signUp(`q${suffix}`.slice(0, 4).padEnd(4, 'z'), PASSWORD), 201);
    assertOk(await signUp(`w${suffix}`.padEnd(64, 'z'), PASSWORD), 201);
  });

  it('maps fullwidth letters to ASCII (RFC 8265 width mapping): one name, one account', async () => {
    const name = `ｆｏｏ${uniqueName('')}`.slice(0, 20);
    const res = await signUp(name, PASSWORD);
    assertOk(res, 201);
    const stored = res.json<UserBody>().user.username;
    assert.equal(stored, name.normalize('NFKC'));
    assertOk(await login(t.app, stored, PASSWORD));
    assertOk(await login(t.app, name, PASSWORD));
    assertError(
      await signUp(stored.toUpperCase(), PASSWORD),
      409,
      'username_taken',
      'Username already exists',
    );
  });

  for (const [label, username] of [
    ['that mixes Latin and Cyrillic (a Cyrillic "а" in "paypal")', 'p\u0430ypal'],
    ['that mixes Latin and Greek', 'Zoë_Ωmega'],
    ['of emoji', '🔑🐢🌵🎻'],
    ['with a ligature (a compatibility character)', 'ﬁﬁﬁﬁ'],
    ['with a circled digit', 'user①'],
  ] as const) {
    it(`refuses a username ${label} with 400 invalid_username`, async () => {
      const body = assertError(await signUp(username, PASSWORD), 400, 'invalid_username');
      assert.match(body.error, /username must not/);
    });
  }

  it('accepts names of one script (and the scripts written together, as in Japanese)', async () => {
    for (const name of ['Σίσυφος', 'Достоевский', '名前テスト', 'José_Müller']) {
      const res = await signUp(`${name}${String(Math.random()).slice(2, 8)}`, PASSWORD);
      assertOk(res, 201);
    }
  });

  it('an account stored before these rules (a mixed-script name) still logs in, and blocks its look-alike', async () => {
    const legacy = `p\u0430ypal${String(Math.random()).slice(2, 8)}`;
    await t.deps.users.create({
      username: legacy,
      usernameKey: usernameKey(legacy),
      passwordHash: await t.deps.hasher.hash(PASSWORD),
    });
    assertOk(await login(t.app, legacy, PASSWORD));
    assertOk(await login(t.app, legacy.toUpperCase(), PASSWORD));
    assertError(await signUp(legacy.toUpperCase(), PASSWORD), 400, 'invalid_username');
  });

  it('treats usernames differing only in case as the same (409 Username already exists)', async () => {
    const base = uniqueName('Alice');
    assertOk(await signUp(base, PASSWORD), 201);
    assertError(await signUp(base.toLowerCase(), PASSWORD), 409, 'username_taken', 'Username already exists');
    assertError(await signUp(base.toUpperCase(), PASSWORD), 409, 'username_taken', 'Username already exists');
  });

  it('of 50 parallel signups with the same name exactly one succeeds and 49 get 409', async () => {
    const username = uniqueName('race');
    const results = await Promise.all(Array.from({ length: 50 }, () => signUp(username, PASSWORD)));
    const statuses = results.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 409).length, 49, statuses.join(','));
    for (const r of results.filter((x) => x.statusCode === 409)) {
      assertError(r, 409, 'username_taken', 'Username already exists');
    }
  });
});

describe('GET /user', () => {
  it('answers 200 with the user and a new token; the presented token is then rejected', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await getUser(t.app, s.token);
    assertOk(res);
    const body = res.json<UserBody>();
    assert.deepEqual(body, {
      user: {
        id: s.userId,
        username: s.username,
        email: null,
        email_verified: false,
        roles: [],
        mfa_enabled: false,
      },
      token: body.token,
    });
    assert.notEqual(body.token, s.token);
    await expectDead(t.app, s.token);
    await expectLive(t.app, body.token);
  });

  it('answers 401 "Token is missing" without an Authorization header', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/user' });
    assertError(res, 401, 'token_missing', 'Token is missing');
  });

  it('answers 401 "Invalid or expired token" for a garbage token', async () => {
    assertError(await getUser(t.app, 'garbage'), 401, 'invalid_token', 'Invalid or expired token');
    assertError(await getUser(t.app, 'a.b.c'), 401, 'invalid_token', 'Invalid or expired token');
  });

  for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
    it(`matches the scheme "${scheme}" case-insensitively`, async () => {
      const s = await signUpAndLogin(t.app);
      const res = await t.app.inject({
        method: 'GET',
        url: '/user',
        headers: { authorization: `${scheme} ${s.token}` },
      });
      assertOk(res);
    });
  }

  it('rejects anything after the token with 401 and does not consume the token', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await t.app.inject({
      method: 'GET',
      url: '/user',
      headers: { authorization: `Bearer ${s.token} extra` },
    });
    assertError(res, 401, 'invalid_token');
    const ab = await t.app.inject({ method: 'GET', url: '/user', headers: { authorization: 'Bearer a b' } });
    assertError(ab, 401, 'invalid_token');
    await expectLive(t.app, s.token);
  });

  for (const scheme of ['Basic', 'Token', 'JWT']) {
    it(`rejects the non-Bearer scheme ${scheme} with 401`, async () => {
      const s = await signUpAndLogin(t.app);
      const res = await t.app.inject({
        method: 'GET',
        url: '/user',
        headers: { authorization: `${scheme} ${s.token}` },
      });
      assert.equal(res.statusCode, 401, res.body);
      await expectLive(t.app, s.token);
    });
  }

  it('answers 401 for a bare "Bearer" header', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/user', headers: { authorization: 'Bearer' } });
    assert.equal(res.statusCode, 401, res.body);
  });
});

describe('PUT /user', () => {
  it('renames the user and returns the user and the next token', async () => {
    const s = await signUpAndLogin(t.app);
    const newName = uniqueName('renamed');
    const res = await put(s.token, { username: newName, current_password: PASSWORD });
    assertOk(res);
    const body = res.json<UserBody & { message: string }>();
    assert.deepEqual(body, {
      message: 'User updated successfully',
      user: {
        id: s.userId,
        username: newName,
        email: null,
        email_verified: false,
        roles: [],
        mfa_enabled: false,
      },
      token: body.token,
    });
    await expectDead(t.app, s.token);
    await expectLive(t.app, body.token);
    assertOk(await login(t.app, newName, PASSWORD));
    assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials');
  });

  it('lets a user change the case of their own username', async () => {
    const s = await signUpAndLogin(t.app, uniqueName('casey'));
    const res = await put(s.token, { username: s.username.toUpperCase(), current_password: PASSWORD });
    assertOk(res);
    assert.equal(res.json<UserBody>().user.username, s.username.toUpperCase());
  });

  it('stores a new username width-mapped (fullwidth letters become ASCII)', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token, { username: 'ｎｆｋｃｎａｍｅ', current_password: PASSWORD });
    assertOk(res);
    assert.equal(res.json<UserBody>().user.username, 'nfkcname');
  });

  it('answers 400 for a password change without current_password and does not consume the token', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token, { password: 'a brand new passphrase' });
    const body = assertError(res, 400, 'current_password_required');
    assert.equal(body.token, undefined);
    await expectLive(t.app, s.token);
  });

  it('answers 400 for a rename without current_password and does not consume the token', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token, { username: uniqueName('stolen') });
    const body = assertError(res, 400, 'current_password_required');
    assert.match(body.error, /username/);
    assert.equal(body.token, undefined);
    await expectLive(t.app, s.token);
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('answers 403 for a rename with a wrong current_password: the account keeps its name', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token, { username: uniqueName('stolen'), current_password: 'not my password' });
    const body = assertError(res, 403, 'wrong_current_password');
    await expectLive(t.app, body.token ?? '');
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('refuses a new name that the kept password contains (400 invalid_username); a new password lifts it', async () => {
    const newName = uniqueName('river');
    const password = `zebra-${newName.toUpperCase()}-crossing`;
    const s = await signUpAndLogin(t.app, uniqueName(), password);
    const res = await put(s.token, { username: newName, current_password: password });
    const body = assertError(res, 400, 'invalid_username');
    assert.match(body.error, /password must not contain the username/);
    assertOk(await login(t.app, s.username, password));
    const both = await put(body.token ?? '', {
      username: newName,
      password: 'an unrelated new passphrase',
      current_password: password,
    });
    assertOk(both);
    assert.equal(both.json<UserBody>().user.username, newName);
  });

  it('answers 403 for a wrong current_password and carries the next token, which works', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token, {
      password: 'a brand new passphrase',
      current_password: 'not my password',
    });
    const body = assertError(res, 403, 'wrong_current_password');
    assert.equal(typeof body.token, 'string');
    await expectDead(t.app, s.token);
    await expectLive(t.app, body.token ?? '');
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('answers 409 for a taken username (case-insensitively) and carries the next token', async () => {
    const other = await signUpAndLogin(t.app, uniqueName('Taken'));
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token, { username: other.username.toLowerCase(), current_password: PASSWORD });
    const body = assertError(res, 409, 'username_taken', 'Username already exists');
    assert.equal(typeof body.token, 'string');
    await expectLive(t.app, body.token ?? '');
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('answers 400 for an empty body without consuming the token', async () => {
    const s = await signUpAndLogin(t.app);
    assertError(await put(s.token, {}), 400, 'validation_failed');
    await expectLive(t.app, s.token);
  });

  it('answers 400 for a missing body without consuming the token', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token);
    assert.equal(res.statusCode, 400, res.body);
    await expectLive(t.app, s.token);
  });

  it('answers 400 for an invalid new username or a too short password without consuming the token', async () => {
    const s = await signUpAndLogin(t.app);
    assertError(await put(s.token, { username: 'a b c d' }), 400, 'invalid_username');
    assertError(await put(s.token, { password: 'short', current_password: PASSWORD }), 400, 'weak_password');
    const typed = assertError(await put(s.token, { username: 42 }), 400, 'validation_failed');
    assert.match(typed.error, /\busername\b/);
    assert.doesNotMatch(typed.error, /\bpassword\b/);
    await expectLive(t.app, s.token);
  });

  it('rejects a new password containing the username with 400 and still hands out the next token', async () => {
    const s = await signUpAndLogin(t.app);
    const res = await put(s.token, { password: `xx${s.username}xx`, current_password: PASSWORD });
    const body = assertError(res, 400, 'weak_password');
    assert.match(body.error, /username/);
    assert.equal(typeof body.token, 'string');
    assert.notEqual(body.token, s.token);
    await expectDead(t.app, s.token);
    await expectLive(t.app, body.token ?? '');
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('answers 401 "Token is missing" without a token', async () => {
    const res = await t.app.inject({ method: 'PUT', url: '/user', payload: { username: uniqueName() } });
    assertError(res, 401, 'token_missing', 'Token is missing');
  });

  it('a password change revokes the other sessions but keeps the current one', async () => {
    const s = await signUpAndLogin(t.app);
    const second = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const newPassword = 'an entirely new passphrase';
    const res = await put(s.token, { password: newPassword, current_password: PASSWORD });
    assertOk(res);
    const next = res.json<UserBody>().token;
    await expectDead(t.app, second.token);
    assertError(await refresh(t.app, second.refresh_token), 401, 'invalid_refresh_token');
    const after = await expectLive(t.app, next);
    await expectLive(t.app, after);
    assertOk(await refresh(t.app, s.refreshToken));
  });

  it('after a password change the old password fails and the new one works', async () => {
    const s = await signUpAndLogin(t.app);
    const newPassword = 'yet another new passphrase';
    assertOk(await put(s.token, { password: newPassword, current_password: PASSWORD }));
    const wrong = await login(t.app, s.username, PASSWORD);
    assertError(wrong, 401, 'invalid_credentials', 'Invalid credentials');
    assertOk(await login(t.app, s.username, newPassword));
  });

  it('changes username and password together', async () => {
    const s = await signUpAndLogin(t.app);
    const newName = uniqueName('both');
    const newPassword = 'combined change passphrase';
    const res = await put(s.token, { username: newName, password: newPassword, current_password: PASSWORD });
    assertOk(res);
    assert.equal(res.json<UserBody>().user.username, newName);
    assertOk(await login(t.app, newName, newPassword));
  });
});

describe('DELETE /user', () => {
  const del = (token: string) => t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(token) });

  it('answers 200 with exactly the message and kills every token of the user', async () => {
    const s = await signUpAndLogin(t.app);
    const second = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    const res = await del(s.token);
    assertOk(res);
    assert.deepEqual(res.json(), { message: 'User deleted successfully' });
    await expectDead(t.app, s.token);
    await expectDead(t.app, second.token);
    assertError(await refresh(t.app, second.refresh_token), 401, 'invalid_refresh_token');
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials', 'Invalid credentials');
  });

  it('a user created later with the same username cannot be reached by the old tokens', async () => {
    const s = await signUpAndLogin(t.app);
    const second = (await login(t.app, s.username, PASSWORD)).json<TokenBody>();
    assertOk(await del(s.token));
    const again = await signUpAndLogin(t.app, s.username);
    assert.notEqual(again.userId, s.userId);
    await expectDead(t.app, second.token);
    assertError(await refresh(t.app, second.refresh_token), 401, 'invalid_refresh_token');
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    const res = await getUser(t.app, again.token);
    assertOk(res);
    assert.deepEqual(res.json<UserBody>().user, {
      id: again.userId,
      username: s.username,
      email: null,
      email_verified: false,
      roles: [],
      mfa_enabled: false,
    });
  });

  it('answers 401 without a token and for a garbage token', async () => {
    assertError(
      await t.app.inject({ method: 'DELETE', url: '/user' }),
      401,
      'token_missing',
      'Token is missing',
    );
    assertError(await del('garbage'), 401, 'invalid_token', 'Invalid or expired token');
  });

  it('a replayed token cannot delete the user', async () => {
    const s = await signUpAndLogin(t.app);
    const next = await expectLive(t.app, s.token);
    assertError(await del(s.token), 401, 'invalid_token');
    await expectLive(t.app, next);
  });
});
