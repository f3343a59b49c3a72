// SPEC §9 over HTTP on SQLite with the memory token store and the embedded outbox mailer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { accountScenarios, drained, mailsTo, post, uniqueEmail, verifiedUser } from './account-scenarios.js';
import { assertError, assertOk, login } from './http-helpers.js';

accountScenarios('email and password recovery over HTTP (SQLite, memory store, outbox)');

describe('token lifetimes and single use', () => {
  let t: TestApp;
  let clock = Date.now();
  before(async () => {
    t = await makeApp(
      { MAIL_POLL_INTERVAL_MS: '20', PASSWORD_RESET_TTL: '60', EMAIL_VERIFICATION_TTL: '120' },
      { now: () => clock },
    );
  });
  after(async () => {
    await t.close();
  });

  it('a verification token past EMAIL_VERIFICATION_TTL and a reset token past PASSWORD_RESET_TTL are refused', async () => {
    const username = uniqueName();
    const email = uniqueEmail();
    assertOk(await post(t.app, '/user', { username, password: PASSWORD, email }), 201);
    const token = (await login(t.app, username, PASSWORD)).json<{ token: string }>().token;
    assertOk(await post(t.app, '/email/verification', undefined, token), 202);
    const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
    const [verification] = await mailsTo(t, stored);
    assert.match(verification?.text ?? '', /within 2 minutes/);
    clock += 120_001;
    assertError(
      await post(t.app, '/email/verify', { token: verification?.token }),
      400,
      'invalid_verification_token',
    );

    const s = await verifiedUser(t);
    assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
    const reset = (await mailsTo(t, s.email, 2)).find((m) => m.subject === 'Reset your password');
    assert.match(reset?.text ?? '', /within 1 minute/);
    clock += 59_000;
    assertError(
      await post(t.app, '/password/reset', { token: reset?.token, password: 'short' }),
      400,
      'weak_password',
    );
    clock += 1_001;
    assertError(
      await post(t.app, '/password/reset', { token: reset?.token, password: `${PASSWORD} late` }),
      400,
      'invalid_reset_token',
    );
  });

  it('of two concurrent resets with one token exactly one succeeds', async () => {
    const s = await verifiedUser(t);
    assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
    const reset = (await mailsTo(t, s.email, 2)).find((m) => m.subject === 'Reset your password');
    const answers = await Promise.all(
      ['one', 'two'].map((n) =>
        post(t.app, '/password/reset', { token: reset?.token, password: `${PASSWORD} ${n}` }),
      ),
    );
    assert.deepEqual(answers.map((r) => r.statusCode).sort(), [200, 400]);
    const winner = answers[0]?.statusCode === 200 ? 'one' : 'two';
    assertOk(await login(t.app, s.username, `${PASSWORD} ${winner}`));
  });
});

describe('a disabled account', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp({ MAIL_POLL_INTERVAL_MS: '20' });
  });
  after(async () => {
    await t.close();
  });

  it('gets no reset mail, and a link mailed before the disable resets nothing, then or after the enable', async () => {
    const admin = await signUpAndLogin(t.app, uniqueName('admin'));
    await t.deps.users.setRoles(admin.userId, ['admin']);
    let adminToken = (await login(t.app, admin.username, PASSWORD)).json<{ token: string }>().token;
    const asAdmin = async (url: string) => {
      const res = await post(t.app, url, undefined, adminToken);
      assertOk(res);
      adminToken = res.json<{ token: string }>().token;
    };

    const s = await verifiedUser(t);
    assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
    const early = (await mailsTo(t, s.email, 2)).find((m) => m.subject === 'Reset your password');
    assert.ok(early?.token);
    await asAdmin(`/admin/users/${s.userId}/disable`);

    assertError(
      await post(t.app, '/password/reset', { token: early.token, password: `${PASSWORD} new` }),
      400,
      'invalid_reset_token',
    );
    // The same answer as for any account, and nothing is mailed.
    const asked = await post(t.app, '/password/forgot', { login: s.email });
    assertOk(asked, 202);
    assert.deepEqual(asked.json(), { message: 'If the account exists, a reset email has been sent' });
    await drained(t);
    assert.equal((await mailsTo(t, s.email, 2)).length, 2, 'only the verification and the early reset mail');
    const rows = await t.deps.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_id', '=', s.userId)
      .where('event', '=', 'password_reset_requested')
      .orderBy('id')
      .execute();
    assert.deepEqual(
      rows.map((r) => JSON.parse(r.detail ?? '{}') as unknown),
      [{ sent: true }, { sent: false, reason: 'account_disabled' }],
    );

    // Enabled again, the early link stays dead (the disable invalidated it); the old password signs in.
    await asAdmin(`/admin/users/${s.userId}/enable`);
    assertError(
      await post(t.app, '/password/reset', { token: early.token, password: `${PASSWORD} new` }),
      400,
      'invalid_reset_token',
    );
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('a live link on a disabled account (a mail composed while the admin disabled it) resets nothing', async () => {
    const s = await verifiedUser(t);
    assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
    const reset = (await mailsTo(t, s.email, 2)).find((m) => m.subject === 'Reset your password');
    // The disabled flag alone, as the sender's race with the disable leaves it: the link was never invalidated.
    assert.ok(await t.deps.users.setDisabled(s.userId, true));
    assertError(
      await post(t.app, '/password/reset', { token: reset?.token, password: `${PASSWORD} new` }),
      400,
      'invalid_reset_token',
    );
  });
});
