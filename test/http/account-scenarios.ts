// The SPEC §9 scenarios over HTTP, run on each backend combination (account-routes.test.ts: SQLite + memory with
// the outbox; store-matrix-account.test.ts: PostgreSQL, Redis).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { readOutbox, waitFor, type ReceivedMail } from '../helpers/mail.js';
import { assertError, assertOk, expectDead, expectLive, login, type Reply } from './http-helpers.js';

export interface AccountUser {
  id: number;
  username: string;
  email: string | null;
  email_verified: boolean;
  roles: string[];
}

const FORGOT = { message: 'If the account exists, a reset email has been sent' };

export function post(app: FastifyInstance, url: string, payload?: object, token?: string): Promise<Reply> {
  return app.inject({ method: 'POST', url, payload, headers: token === undefined ? {} : bearer(token) });
}

/** A fresh address nobody else uses. */
export function uniqueEmail(prefix = 'm'): string {
  return `${uniqueName(prefix)}@Example.COM`;
}

/** Every message of the app's outbox. */
export function outbox(t: TestApp): Promise<ReceivedMail[]> {
  return readOutbox(`${t.dataDir}/outbox`);
}

/** Waits until the queue holds nothing unsettled (every row sent, dropped or failed). */
export async function drained(t: TestApp): Promise<void> {
  await waitFor('the mail queue to drain', async () =>
    (await t.deps.mailQueue.stats()).queued === 0 ? true : undefined,
  );
}

/** Waits for the `count`-th message to `to` and returns the messages to it. */
export async function mailsTo(t: TestApp, to: string, count = 1): Promise<ReceivedMail[]> {
  return waitFor(`${count} mail(s) to ${to}`, async () => {
    const mails = (await outbox(t)).filter((m) => m.to === to.toLowerCase() || m.to === to);
    return mails.length >= count ? mails : undefined;
  });
}

/** Signs up with an email, logs in, and confirms the email through the mailed token. */
export async function verifiedUser(
  t: TestApp,
): Promise<{ username: string; userId: number; token: string; email: string }> {
  const username = uniqueName('v');
  const email = uniqueEmail();
  assertOk(await post(t.app, '/user', { username, password: PASSWORD, email }), 201);
  const res = await login(t.app, username, PASSWORD);
  let token = res.json<{ token: string }>().token;
  const asked = await post(t.app, '/email/verification', undefined, token);
  assertOk(asked, 202);
  token = asked.json<{ token: string }>().token;
  const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
  const [mail] = await mailsTo(t, stored);
  assertOk(await post(t.app, '/email/verify', { token: mail?.token }));
  const me = await userOf(t, token);
  assert.equal(me.user.email_verified, true);
  return { username, userId: me.user.id, token: me.token, email: stored };
}

async function userOf(t: TestApp, token: string): Promise<{ user: AccountUser; token: string }> {
  const res = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(token) });
  assertOk(res);
  return res.json();
}

/** The email and password-reset scenarios of SPEC §9 on the app `make` builds (outbox mailer). */
export interface AccountBackend {
  /** Why the backend is missing (the suite is skipped, visibly), or false. */
  skip?: string | false;
  /** The settings of the backend (DATABASE_URL, REDIS_URL…) and how to remove it afterwards. */
  setup?: () => Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

export function accountScenarios(title: string, backend: AccountBackend = {}): void {
  describe(title, { skip: backend.skip ?? false }, () => {
    let t: TestApp;
    let cleanup: (() => Promise<void>) | undefined;

    before(async () => {
      const made = backend.setup ? await backend.setup() : { env: {}, cleanup: async () => undefined };
      cleanup = made.cleanup;
      t = await makeApp({ MAIL_POLL_INTERVAL_MS: '50', ...made.env });
    });
    after(async () => {
      await t.close();
      await cleanup?.();
    });

    it('an email given at signup is stored trimmed with the domain lower-cased, unverified', async () => {
      const username = uniqueName();
      const local = uniqueName('First.Last');
      const res = await post(t.app, '/user', {
        username,
        password: PASSWORD,
        email: `  ${local}@Mail.Example.ORG `,
      });
      assertOk(res, 201);
      assert.deepEqual(res.json<{ user: AccountUser }>().user, {
        id: res.json<{ user: AccountUser }>().user.id,
        username,
        email: `${local}@mail.example.org`,
        email_verified: false,
        roles: [],
        mfa_enabled: false,
      });
    });

    it('an email taken in another case is 409 email_taken, at signup and on PUT /user', async () => {
      const email = uniqueEmail();
      assertOk(await post(t.app, '/user', { username: uniqueName(), password: PASSWORD, email }), 201);
      const again = await post(t.app, '/user', {
        username: uniqueName(),
        password: PASSWORD,
        email: email.toUpperCase(),
      });
      assertError(again, 409, 'email_taken', 'Email already in use');
      const s = await signUpAndLogin(t.app);
      const res = await t.app.inject({
        method: 'PUT',
        url: '/user',
        headers: bearer(s.token),
        payload: { email: email.toLowerCase(), current_password: PASSWORD },
      });
      assert.equal(typeof assertError(res, 409, 'email_taken', 'Email already in use').token, 'string');
    });

    for (const bad of [
      'plainaddress',
      'a@b',
      '@example.com',
      'a b@example.com',
      'a@exa mple.com',
      'a@@example.com',
      'a@example..com',
      'x'.repeat(300) + '@example.com',
      'a\r\nBcc: x@evil.example@example.com',
    ]) {
      it(`a malformed email (${JSON.stringify(bad.slice(0, 24))}) is 400 validation_failed naming email`, async () => {
        const res = await post(t.app, '/user', { username: uniqueName(), password: PASSWORD, email: bad });
        const body = assertError(res, 400, 'validation_failed');
        assert.match(body.error, /email/);
      });
    }

    it('an email of the wrong type is 400 validation_failed naming email', async () => {
      const body = assertError(
        await post(t.app, '/user', { username: uniqueName(), password: PASSWORD, email: 42 }),
        400,
        'validation_failed',
      );
      assert.match(body.error, /email/);
    });

    it('PUT /user {email} needs current_password: 400 without, 403 when wrong; the new email is unverified', async () => {
      const s = await verifiedUser(t);
      const put = (payload: object, token: string) =>
        t.app.inject({ method: 'PUT', url: '/user', headers: bearer(token), payload });
      const next = uniqueEmail('n');
      const without = assertError(await put({ email: next }, s.token), 400, 'current_password_required');
      assert.equal(without.token, undefined, 'refused before the token is looked at');
      const bad = assertError(
        await put({ email: 'nope', current_password: PASSWORD }, s.token),
        400,
        'validation_failed',
      );
      assert.match(bad.error, /email/);
      assert.equal(bad.token, undefined, 'a malformed email never consumes the token');
      const wrong = assertError(
        await put({ email: next, current_password: 'not the password' }, s.token),
        403,
        'wrong_current_password',
      );
      const ok = await put({ email: next, current_password: PASSWORD }, wrong.token ?? '');
      assertOk(ok);
      const user = ok.json<{ user: AccountUser }>().user;
      assert.equal(
        user.email,
        next.replace(/@.*$/, (d) => d.toLowerCase()),
      );
      assert.equal(user.email_verified, false);
    });

    it('POST /email/verification: 400 no_email without one, 202 and a mail with the link and the Token line', async () => {
      const bare = await signUpAndLogin(t.app);
      const none = assertError(
        await post(t.app, '/email/verification', undefined, bare.token),
        400,
        'no_email',
      );
      assert.equal(typeof none.token, 'string');

      const username = uniqueName();
      const email = uniqueEmail();
      assertOk(await post(t.app, '/user', { username, password: PASSWORD, email }), 201);
      const token = (await login(t.app, username, PASSWORD)).json<{ token: string }>().token;
      const res = await post(t.app, '/email/verification', {}, token);
      assertOk(res, 202);
      const body = res.json<{ message: string; token: string }>();
      assert.deepEqual(body, { message: 'Verification email sent', token: body.token });
      await expectDead(t.app, token);

      const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
      const [mail] = await mailsTo(t, stored);
      assert.ok(mail?.token);
      assert.ok(mail.token.length >= 43, 'at least 256 bits in base64url');
      assert.ok(
        mail.text.includes(`${t.config.mail.publicUrl}/account/verify-email?token=${mail.token}`),
        mail.text,
      );
      assert.ok(mail.html.includes(`/account/verify-email?token=${mail.token}`));

      assertError(
        await post(t.app, '/email/verify', { token: `${mail.token}x` }),
        400,
        'invalid_verification_token',
        'Invalid or expired verification token',
      );
      const verified = await post(t.app, '/email/verify', { token: mail.token });
      assertOk(verified);
      assert.deepEqual(verified.json(), { message: 'Email verified' });
      const me = await userOf(t, body.token);
      assert.equal(me.user.email_verified, true);
      assertError(
        await post(t.app, '/email/verify', { token: mail.token }),
        400,
        'invalid_verification_token',
      );
      assertError(
        await post(t.app, '/email/verification', undefined, me.token),
        409,
        'email_already_verified',
      );
    });

    it('a verification token for an address the account no longer has confirms nothing', async () => {
      const username = uniqueName();
      const email = uniqueEmail();
      assertOk(await post(t.app, '/user', { username, password: PASSWORD, email }), 201);
      let token = (await login(t.app, username, PASSWORD)).json<{ token: string }>().token;
      token = (await post(t.app, '/email/verification', undefined, token)).json<{ token: string }>().token;
      const [mail] = await mailsTo(
        t,
        email.replace(/@.*$/, (d) => d.toLowerCase()),
      );
      const changed = await t.app.inject({
        method: 'PUT',
        url: '/user',
        headers: bearer(token),
        payload: { email: uniqueEmail(), current_password: PASSWORD },
      });
      assertOk(changed);
      assertError(
        await post(t.app, '/email/verify', { token: mail?.token }),
        400,
        'invalid_verification_token',
      );
    });

    it('POST /password/forgot answers the same 202 body for an unknown, an unverified and a real account; only the real one gets mail', async () => {
      const real = await verifiedUser(t);
      const unverifiedEmail = uniqueEmail('u');
      const unverifiedName = uniqueName('u');
      assertOk(
        await post(t.app, '/user', { username: unverifiedName, password: PASSWORD, email: unverifiedEmail }),
        201,
      );
      const before = (await outbox(t)).length;
      const answers = await Promise.all(
        [
          uniqueName('ghost'),
          `${uniqueName('ghost')}@example.com`,
          unverifiedName,
          unverifiedEmail,
          real.username,
        ].map((login) => post(t.app, '/password/forgot', { login })),
      );
      for (const res of answers) {
        assert.equal(res.statusCode, 202);
        assert.deepEqual(res.json(), FORGOT);
        assert.equal(res.body, JSON.stringify(FORGOT));
      }
      await drained(t);
      const after = await outbox(t);
      assert.equal(after.length, before + 1, 'one mail: to the verified address only');
      const mail = after.find((m) => m.to === real.email && m.subject === 'Reset your password');
      assert.ok(mail?.token);
      assert.ok(mail.text.includes(`${t.config.mail.publicUrl}/account/reset-password?token=${mail.token}`));
      assert.match(mail.text, /^Token: \S+$/m);
    });

    it('a reset by email login sets the password, revokes every session, and the token works once', async () => {
      const s = await verifiedUser(t);
      const other = (await login(t.app, s.username, PASSWORD)).json<{
        token: string;
        refresh_token: string;
      }>();
      assertOk(await post(t.app, '/password/forgot', { login: s.email.toUpperCase() }), 202);
      const [mail] = (await mailsTo(t, s.email, 2)).filter((m) => m.subject === 'Reset your password');
      assert.ok(mail?.token);
      const newPassword = `${PASSWORD} again`;
      const res = await post(t.app, '/password/reset', { token: mail.token, password: newPassword });
      assertOk(res);
      assert.deepEqual(res.json(), { message: 'Password has been reset' });
      await expectDead(t.app, s.token);
      await expectDead(t.app, other.token);
      assertError(
        await t.app.inject({
          method: 'POST',
          url: '/refresh_token',
          payload: { refresh_token: other.refresh_token },
        }),
        401,
        'invalid_refresh_token',
      );
      assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials');
      assertOk(await login(t.app, s.username, newPassword));
      assertError(
        await post(t.app, '/password/reset', { token: mail.token, password: `${newPassword}!` }),
        400,
        'invalid_reset_token',
        'Invalid or expired reset token',
      );
    });

    it('a refused new password leaves the token usable; a verification token is not a reset token, nor the reverse', async () => {
      const s = await verifiedUser(t);
      const [verification] = await mailsTo(t, s.email);
      assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
      const reset = (await mailsTo(t, s.email, 2)).find((m) => m.subject === 'Reset your password');
      assert.ok(reset?.token && verification?.token);
      assertError(
        await post(t.app, '/password/reset', { token: reset.token, password: 'short' }),
        400,
        'weak_password',
      );
      assertError(
        await post(t.app, '/password/reset', { token: reset.token, password: `${s.username}-and-more` }),
        400,
        'weak_password',
      );
      assertError(
        await post(t.app, '/email/verify', { token: reset.token }),
        400,
        'invalid_verification_token',
      );
      assertOk(await post(t.app, '/password/reset', { token: reset.token, password: `${PASSWORD} two` }));
      // An already used verification token, and a fresh one, at the reset route.
      assertError(
        await post(t.app, '/password/reset', { token: verification.token, password: `${PASSWORD} three` }),
        400,
        'invalid_reset_token',
      );
      const u = uniqueName();
      const email = uniqueEmail();
      assertOk(await post(t.app, '/user', { username: u, password: PASSWORD, email }), 201);
      const token = (await login(t.app, u, PASSWORD)).json<{ token: string }>().token;
      assertOk(await post(t.app, '/email/verification', undefined, token), 202);
      const [fresh] = await mailsTo(
        t,
        email.replace(/@.*$/, (d) => d.toLowerCase()),
      );
      assertError(
        await post(t.app, '/password/reset', { token: fresh?.token, password: `${PASSWORD} four` }),
        400,
        'invalid_reset_token',
      );
      assertOk(await post(t.app, '/email/verify', { token: fresh?.token }), 200);
    });

    it('a reset invalidates every other outstanding reset token; a password change through PUT /user does too', async () => {
      const s = await verifiedUser(t);
      assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
      assertOk(await post(t.app, '/password/forgot', { login: s.email }), 202);
      const resets = (await mailsTo(t, s.email, 3)).filter((m) => m.subject === 'Reset your password');
      assert.equal(resets.length, 2);
      assertOk(await post(t.app, '/password/reset', { token: resets[0]?.token, password: `${PASSWORD} x1` }));
      assertError(
        await post(t.app, '/password/reset', { token: resets[1]?.token, password: `${PASSWORD} x2` }),
        400,
        'invalid_reset_token',
      );

      const fresh = (await login(t.app, s.username, `${PASSWORD} x1`)).json<{ token: string }>().token;
      assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
      const third = (await mailsTo(t, s.email, 4)).filter((m) => m.subject === 'Reset your password')[2];
      assert.ok(third?.token);
      assertOk(
        await t.app.inject({
          method: 'PUT',
          url: '/user',
          headers: bearer(fresh),
          payload: { password: `${PASSWORD} x3`, current_password: `${PASSWORD} x1` },
        }),
      );
      assertError(
        await post(t.app, '/password/reset', { token: third.token, password: `${PASSWORD} x4` }),
        400,
        'invalid_reset_token',
      );
    });

    it('tokens of the wrong shape, empty or missing are refused with 400, never a 5xx', async () => {
      for (const token of ['a', 'x'.repeat(43), '\u0000'.repeat(43), '../../etc/passwd', 'é'.repeat(43)]) {
        assertError(
          await post(t.app, '/password/reset', { token, password: `${PASSWORD} y` }),
          400,
          'invalid_reset_token',
        );
        assertError(await post(t.app, '/email/verify', { token }), 400, 'invalid_verification_token');
      }
      assertError(await post(t.app, '/password/reset', { password: PASSWORD }), 400, 'validation_failed');
      assertError(
        await post(t.app, '/password/reset', { token: 5, password: PASSWORD }),
        400,
        'validation_failed',
      );
      assertError(await post(t.app, '/email/verify', {}), 400, 'validation_failed');
      assertError(await post(t.app, '/password/forgot', {}), 400, 'validation_failed');
      assertError(await post(t.app, '/password/forgot', { login: ['a'] }), 400, 'validation_failed');
      assertOk(await post(t.app, '/password/forgot', { login: '\u0000' }), 202);
      assertOk(await post(t.app, '/password/forgot', { login: 'x'.repeat(512) }), 202);
    });

    it('POST /email/verification needs a token: 401 without one, and a consumed token is refused', async () => {
      assertError(await post(t.app, '/email/verification'), 401, 'token_missing', 'Token is missing');
      assertError(await post(t.app, '/email/verification', undefined, 'not-a-token'), 401, 'invalid_token');
      const s = await signUpAndLogin(t.app);
      await expectLive(t.app, s.token);
      assertError(await post(t.app, '/email/verification', undefined, s.token), 401, 'invalid_token');
    });

    it('audit rows: email_added, email_verified, password_reset_requested, password_reset — no token in any row', async () => {
      const s = await verifiedUser(t);
      assertOk(await post(t.app, '/password/forgot', { login: s.username }), 202);
      const reset = (await mailsTo(t, s.email, 2)).find((m) => m.subject === 'Reset your password');
      assertOk(await post(t.app, '/password/reset', { token: reset?.token, password: `${PASSWORD} z` }));
      const rows = await t.deps.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('user_id', '=', s.userId)
        .orderBy('id')
        .execute();
      const events = rows.map((r) => r.event);
      for (const event of [
        'signup',
        'email_added',
        'email_verified',
        'password_reset_requested',
        'password_reset',
      ]) {
        assert.ok(events.includes(event), `${event} in ${events.join(',')}`);
      }
      const requested = rows.find((r) => r.event === 'password_reset_requested');
      assert.equal((JSON.parse(requested?.detail ?? '{}') as { sent?: boolean }).sent, true);
      const text = JSON.stringify(rows);
      for (const mail of await mailsTo(t, s.email, 2)) assert.ok(mail.token && !text.includes(mail.token));
      const tokens = await t.deps.database.db.selectFrom('mail_tokens').selectAll().execute();
      for (const mail of await outbox(t))
        assert.ok(!JSON.stringify(tokens).includes(mail.token ?? '\u0000'), 'tokens stored hashed only');
    });
  });
}
