// The portal's email pages (SPEC §9, §11) and two-factor pages (SPEC §10, §11) over app.inject: they render with
// their labels and a CSRF token, refuse a post without it, and carry the flows end to end (a reset link from the
// outbox's .eml, a TOTP code computed here with node:crypto).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { PortalClient } from '../helpers/portal-client.js';
import { totpCode } from '../helpers/totp.js';
import { mailsTo, uniqueEmail } from '../http/account-scenarios.js';
import { fixedClock, type Clock } from '../http/mfa-helpers.js';

let t: TestApp;
let clock: Clock;
before(async () => {
  clock = fixedClock();
  t = await makeApp({}, { now: clock.now });
});
after(async () => {
  await t.close();
});

const STEP = 30_000;

async function signedUp(
  fields: Record<string, string> = {},
): Promise<{ client: PortalClient; username: string }> {
  const username = uniqueName('p');
  const client = new PortalClient(t.app);
  const res = await client.submit('/account/sign-up', '/account/sign-up', {
    username,
    password: PASSWORD,
    ...fields,
  });
  assert.equal(res.statusCode, 303, res.body);
  assert.equal(res.headers.location, '/account');
  return { client, username };
}

async function loginStatus(username: string, password: string): Promise<number> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password },
  });
  return res.statusCode;
}

function hasLabel(body: string, name: string, label: string): void {
  assert.match(body, new RegExp(`<label[^>]*for="${name}"[^>]*>${label}</label>`), `label ${label}`);
  assert.match(body, new RegExp(`<input[^>]*id="${name}"`), `input ${name}`);
}

function hasButton(body: string, text: string): void {
  assert.match(body, new RegExp(`<button[^>]*>\\s*${text}\\s*</button>`), `button ${text}`);
}

const CSRF_FIELD = /name="_csrf" value="[^"]+"/;

describe('portal email pages', () => {
  it('forgot password, reset password and verify email render with their labels, buttons and CSRF token', async () => {
    const client = new PortalClient(t.app);
    const forgot = await client.get('/account/forgot-password');
    assert.equal(forgot.statusCode, 200);
    assert.match(forgot.body, CSRF_FIELD);
    hasLabel(forgot.body, 'login', 'Username or email');
    hasButton(forgot.body, 'Send reset link');

    const reset = await client.get('/account/reset-password');
    assert.equal(reset.statusCode, 200);
    assert.match(reset.body, CSRF_FIELD);
    hasLabel(reset.body, 'token', 'Token');
    hasLabel(reset.body, 'new_password', 'New password');
    hasButton(reset.body, 'Reset password');

    const verify = await client.get('/account/verify-email');
    assert.equal(verify.statusCode, 200);
    assert.match(verify.body, CSRF_FIELD);
    hasLabel(verify.body, 'token', 'Token');
    hasButton(verify.body, 'Verify');

    const signIn = await client.get('/account/sign-in');
    assert.match(signIn.body, /href="\/account\/forgot-password"/);
    const signUp = await client.get('/account/sign-up');
    hasLabel(signUp.body, 'email', 'Email');
  });

  it('a change of email without the CSRF token is refused and changes nothing', async () => {
    const { client } = await signedUp();
    await client.get('/account/email');
    const email = uniqueEmail('nocsrf');
    const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
    const res = await client.post('/account/email', { email, current_password: PASSWORD }, { csrf: false });
    assert.equal(res.statusCode, 403);
    const overview = await client.get('/account');
    assert.equal(overview.statusCode, 200);
    assert.match(overview.body, /<dd>None<\/dd>/);
    assert.ok(!overview.body.includes(stored));
  });

  it('sign-up with an email, verify it from the mail, then forgot password → .eml link → reset password', async () => {
    const email = uniqueEmail('reset');
    const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
    const { client, username } = await signedUp({ email });

    const overview = await client.get('/account');
    assert.equal(overview.statusCode, 200);
    assert.ok(overview.body.includes(`${stored} (not verified)`), overview.body);
    assert.match(overview.body, /Two-factor authentication/);
    hasButton(overview.body, 'Send verification email');

    const asked = await client.post('/account/email/verification', {});
    assert.equal(asked.statusCode, 303, asked.body);
    const [verification] = await mailsTo(t, stored);
    const verifyLink = /http\S*\/account\/verify-email\?token=\S+/.exec(verification?.text ?? '')?.[0];
    assert.ok(verifyLink, 'the mail carries a verify-email link');
    const link = new URL(verifyLink);
    const moved = await client.get(`${link.pathname}${link.search}`);
    assert.equal(moved.statusCode, 303, 'the token leaves the address bar');
    assert.equal(moved.headers.location, '/account/verify-email');
    await client.get('/account/verify-email');
    const verified = await client.post('/account/verify-email', {});
    assert.equal(verified.statusCode, 303, verified.body);
    assert.equal(verified.headers.location, '/account?done=email-verified');
    assert.ok((await client.get('/account')).body.includes(`${stored} (verified)`));

    // A stranger's browser asks for the reset.
    const browser = new PortalClient(t.app);
    const sent = await browser.submit('/account/forgot-password', '/account/forgot-password', {
      login: username,
    });
    assert.equal(sent.statusCode, 303, sent.body);
    const mails = await mailsTo(t, stored, 2);
    const resetMail = mails.find((m) => m.text.includes('/account/reset-password?token='));
    const resetLink = /http\S*\/account\/reset-password\?token=\S+/.exec(resetMail?.text ?? '')?.[0];
    assert.ok(resetLink, 'the .eml carries a reset link');
    const url = new URL(resetLink);
    const kept = await browser.get(`${url.pathname}${url.search}`);
    assert.equal(kept.statusCode, 303);
    assert.equal(kept.headers.location, '/account/reset-password');
    const form = await browser.get('/account/reset-password');
    assert.doesNotMatch(form.body, /id="token"/, 'the kept token needs no Token field');

    const weak = await browser.post('/account/reset-password', { new_password: 'short' });
    assert.equal(weak.statusCode, 400);
    const newPassword = 'a fresh reset passphrase';
    const reset = await browser.post('/account/reset-password', { new_password: newPassword });
    assert.equal(reset.statusCode, 303, reset.body);
    assert.equal(reset.headers.location, '/account/sign-in?done=password-reset');
    assert.equal(await loginStatus(username, PASSWORD), 401);
    assert.equal(await loginStatus(username, newPassword), 200);

    // The reset ended every session, the first browser's included.
    const ended = await client.get('/account');
    assert.equal(ended.statusCode, 303);
    assert.equal(ended.headers.location, '/account/sign-in?done=session-ended');

    // The link is used up.
    await browser.get(`${url.pathname}${url.search}`);
    await browser.get('/account/reset-password');
    const again = await browser.post('/account/reset-password', { new_password: 'yet another passphrase' });
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /not valid any more/);
  });

  it('change email: the page renders, a wrong password changes nothing, the right one saves it', async () => {
    const { client } = await signedUp();
    const page = await client.get('/account/email');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, CSRF_FIELD);
    hasLabel(page.body, 'email', 'Email');
    hasButton(page.body, 'Save');
    const email = uniqueEmail('change');
    const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
    const wrong = await client.post('/account/email', { email, current_password: 'not the password' });
    assert.equal(wrong.statusCode, 403);
    assert.doesNotMatch((await client.get('/account')).body, new RegExp(stored));
    await client.get('/account/email');
    const saved = await client.post('/account/email', { email, current_password: PASSWORD });
    assert.equal(saved.statusCode, 303, saved.body);
    assert.equal(saved.headers.location, '/account?done=email-changed');
    assert.ok((await client.get('/account')).body.includes(`${stored} (not verified)`));
  });
});

describe('portal two-factor pages', () => {
  it('setup → confirm with a computed code → sign-in asks for the code and accepts it', async () => {
    const { client, username } = await signedUp();
    const page = await client.get('/account/two-factor');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, CSRF_FIELD);
    hasLabel(page.body, 'current_password', 'Current password');
    hasButton(page.body, 'Enable two-factor authentication');

    const refused = await client.post('/account/two-factor', { current_password: PASSWORD }, { csrf: false });
    assert.equal(refused.statusCode, 403);

    const setup = await client.post('/account/two-factor', { current_password: PASSWORD });
    assert.equal(setup.statusCode, 200, setup.body);
    assert.match(setup.body, /<img class="qr" src="data:image\/svg\+xml;base64,/);
    const secret = /<code class="secret">([A-Z2-7]+)<\/code>/.exec(setup.body)?.[1];
    assert.ok(secret, 'the secret is shown');
    hasLabel(setup.body, 'code', 'Code');
    hasButton(setup.body, 'Verify');

    const otpauthUrl =
      /name="otpauth_url" value="([^"]+)"/.exec(setup.body)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const wrongCode = totpCode(secret, clock.at) === '000000' ? '111111' : '000000';
    const wrong = await client.post('/account/two-factor/confirm', {
      code: wrongCode,
      secret,
      otpauth_url: otpauthUrl,
    });
    assert.equal(wrong.statusCode, 400, wrong.body);
    assert.ok(wrong.body.includes(secret), 'a wrong code shows the same setup again');

    const confirmed = await client.post('/account/two-factor/confirm', {
      code: totpCode(secret, clock.at),
      secret,
      otpauth_url: otpauthUrl,
    });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    const list = /<ol class="card codes">([\s\S]*?)<\/ol>/.exec(confirmed.body)?.[1] ?? '';
    const codes = [...list.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1]);
    assert.equal(codes.length, 10, 'ten recovery codes');
    assert.match((await client.get('/account')).body, /<dd>On<\/dd>/);

    // Sign in again: the password leads to the code step.
    clock.at += STEP;
    const browser = new PortalClient(t.app);
    const password = await browser.submit('/account/sign-in', '/account/sign-in', {
      username,
      password: PASSWORD,
    });
    assert.equal(password.statusCode, 303, password.body);
    assert.equal(password.headers.location, '/account/sign-in/code');
    assert.equal(browser.cookies.has('keyward_session'), false, 'no session before the code');
    const step = await browser.get('/account/sign-in/code');
    assert.equal(step.statusCode, 200);
    assert.match(step.body, CSRF_FIELD);
    hasLabel(step.body, 'code', 'Code');
    hasLabel(step.body, 'recovery_code', 'Recovery code');

    const bad = await browser.post('/account/sign-in/code', { code: wrongCode });
    assert.equal(bad.statusCode, 401, bad.body);
    await browser.get('/account/sign-in/code');
    const good = await browser.post('/account/sign-in/code', { code: totpCode(secret, clock.at) });
    assert.equal(good.statusCode, 303, good.body);
    assert.equal(good.headers.location, '/account');
    const overview = await browser.get('/account');
    assert.equal(overview.statusCode, 200);
    assert.ok(overview.body.includes(username));

    // A recovery code works once.
    const third = new PortalClient(t.app);
    await third.submit('/account/sign-in', '/account/sign-in', { username, password: PASSWORD });
    await third.get('/account/sign-in/code');
    const recovered = await third.post('/account/sign-in/code', { recovery_code: codes[0] ?? '' });
    assert.equal(recovered.statusCode, 303, recovered.body);
    assert.equal(recovered.headers.location, '/account');
  });
});

/** Turns two-factor authentication on through the pages, with a code of the current step. */
async function twoFactorOn(client: PortalClient): Promise<{ secret: string; codes: string[] }> {
  await client.get('/account/two-factor');
  const setup = await client.post('/account/two-factor', { current_password: PASSWORD });
  assert.equal(setup.statusCode, 200, setup.body);
  const secret = /<code class="secret">([A-Z2-7]+)<\/code>/.exec(setup.body)?.[1] ?? '';
  const confirmed = await client.post('/account/two-factor/confirm', { code: totpCode(secret, clock.at) });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  return { secret, codes: recoveryCodes(confirmed.body) };
}

function recoveryCodes(body: string): string[] {
  const list = /<ol class="card codes">([\s\S]*?)<\/ol>/.exec(body)?.[1] ?? '';
  return [...list.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1] ?? '');
}

/** A fresh browser signs in: the password step's answer, and the code step's when a recovery code is given. */
async function signIn(username: string, recoveryCode?: string) {
  const browser = new PortalClient(t.app);
  const password = await browser.submit('/account/sign-in', '/account/sign-in', {
    username,
    password: PASSWORD,
  });
  if (recoveryCode === undefined) return password;
  assert.equal(password.headers.location, '/account/sign-in/code');
  await browser.get('/account/sign-in/code');
  return browser.post('/account/sign-in/code', { recovery_code: recoveryCode });
}

function wrongCode(secret: string): string {
  return totpCode(secret, clock.at) === '000000' ? '111111' : '000000';
}

describe('portal two-factor page when it is on', () => {
  it('shows the two forms with their labels, buttons and CSRF token', async () => {
    const { client } = await signedUp();
    await twoFactorOn(client);
    const page = await client.get('/account/two-factor');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Two-factor authentication is on/);
    assert.equal(page.body.match(/name="_csrf" value="[^"]+"/g)?.length, 3, 'sign-out and the two forms');
    hasLabel(page.body, 'recovery_current_password', 'Current password');
    hasButton(page.body, 'Get new recovery codes');
    hasLabel(page.body, 'disable_current_password', 'Current password');
    hasLabel(page.body, 'disable_code', 'Code');
    hasButton(page.body, 'Turn off two-factor authentication');
    assert.doesNotMatch(page.body, /Enable two-factor authentication/);
  });

  it('new recovery codes: without the CSRF token or with a wrong password nothing changes; then the old codes die and the new ones work', async () => {
    const { client, username } = await signedUp();
    const { codes: old } = await twoFactorOn(client);
    await client.get('/account/two-factor');

    const refused = await client.post(
      '/account/two-factor/recovery-codes',
      { current_password: PASSWORD },
      { csrf: false },
    );
    assert.equal(refused.statusCode, 403);
    assert.equal(recoveryCodes(refused.body).length, 0);

    const wrong = await client.post('/account/two-factor/recovery-codes', {
      current_password: 'not the password',
    });
    assert.equal(wrong.statusCode, 403, wrong.body);
    assert.match(wrong.body, /Your current password is not right/);
    assert.equal(recoveryCodes(wrong.body).length, 0);

    // Neither changed anything: an old code still signs in (and is used up by it).
    assert.equal((await signIn(username, old[0])).headers.location, '/account');

    const empty = await client.post('/account/two-factor/recovery-codes', { current_password: '' });
    assert.equal(empty.statusCode, 400);

    const renewed = await client.post('/account/two-factor/recovery-codes', { current_password: PASSWORD });
    assert.equal(renewed.statusCode, 200, renewed.body);
    assert.match(renewed.body, /The old ones no longer work/);
    const fresh = recoveryCodes(renewed.body);
    assert.equal(fresh.length, 10);
    assert.ok(fresh.every((code) => !old.includes(code)));

    const stale = await signIn(username, old[1]);
    assert.equal(stale.statusCode, 401, 'an old recovery code is refused');
    assert.match(stale.body, /That code is not right/);
    const good = await signIn(username, fresh[0]);
    assert.equal(good.statusCode, 303, good.body);
    assert.equal(good.headers.location, '/account');
  });

  it('turning it off: without the CSRF token, with a wrong code or a wrong password it stays on; the right code turns it off', async () => {
    const { client, username } = await signedUp();
    const { secret } = await twoFactorOn(client);
    clock.at += STEP;
    await client.get('/account/two-factor');

    const refused = await client.post(
      '/account/two-factor/disable',
      { current_password: PASSWORD, code: totpCode(secret, clock.at) },
      { csrf: false },
    );
    assert.equal(refused.statusCode, 403);

    const wrong = await client.post('/account/two-factor/disable', {
      current_password: PASSWORD,
      code: wrongCode(secret),
    });
    assert.equal(wrong.statusCode, 400, wrong.body);
    assert.match(wrong.body, /That code is not right/);
    assert.match(
      wrong.body,
      /id="disable_code"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="disable_code"/,
    );

    const badPassword = await client.post('/account/two-factor/disable', {
      current_password: 'not the password',
      code: totpCode(secret, clock.at),
    });
    assert.equal(badPassword.statusCode, 403, badPassword.body);
    assert.match(badPassword.body, /Your current password is not right/);

    const noCode = await client.post('/account/two-factor/disable', { current_password: PASSWORD, code: '' });
    assert.equal(noCode.statusCode, 400);

    assert.match((await client.get('/account')).body, /<dd>On<\/dd>/);
    assert.equal((await signIn(username)).headers.location, '/account/sign-in/code');

    await client.get('/account/two-factor');
    const off = await client.post('/account/two-factor/disable', {
      current_password: PASSWORD,
      code: totpCode(secret, clock.at),
    });
    assert.equal(off.statusCode, 303, off.body);
    assert.equal(off.headers.location, '/account?done=mfa-disabled');
    const overview = await client.get('/account?done=mfa-disabled');
    assert.match(overview.body, /Two-factor authentication is off/);
    assert.match(overview.body, /<dd>Off<\/dd>/);
    const page = await client.get('/account/two-factor');
    hasButton(page.body, 'Enable two-factor authentication');

    const signIn2 = await signIn(username);
    assert.equal(signIn2.statusCode, 303);
    assert.equal(signIn2.headers.location, '/account', 'sign-in asks for no code any more');
  });

  it('turning it off with a recovery code typed in the Code field', async () => {
    const { client, username } = await signedUp();
    const { codes } = await twoFactorOn(client);
    await client.get('/account/two-factor');
    const off = await client.post('/account/two-factor/disable', {
      current_password: PASSWORD,
      code: ` ${codes[3] ?? ''} `,
    });
    assert.equal(off.statusCode, 303, off.body);
    assert.equal((await signIn(username)).headers.location, '/account');
  });
});

describe('portal two-factor page under the rate limit', () => {
  let limited: TestApp;
  before(async () => {
    limited = await makeApp({ RATE_LIMIT: 'on', RATE_LIMIT_MFA: '2' }, { now: clock.now });
  });
  after(async () => {
    await limited.close();
  });

  it('too many wrong codes to turn it off: 429 with Retry-After, said in words next to the form', async () => {
    const client = new PortalClient(limited.app);
    await client.submit('/account/sign-up', '/account/sign-up', {
      username: uniqueName('rl'),
      password: PASSWORD,
    });
    await client.get('/account/two-factor');
    const setup = await client.post('/account/two-factor', { current_password: PASSWORD });
    const secret = /<code class="secret">([A-Z2-7]+)<\/code>/.exec(setup.body)?.[1] ?? '';
    const on = await client.post('/account/two-factor/confirm', { code: totpCode(secret, clock.at) });
    assert.equal(on.statusCode, 200, on.body);
    clock.at += STEP;
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 3; i += 1) {
      last = await client.post('/account/two-factor/disable', {
        current_password: PASSWORD,
        code: wrongCode(secret),
      });
      statuses.push(last.statusCode);
    }
    assert.deepEqual(statuses, [400, 400, 429]);
    assert.ok(Number(last?.headers['retry-after']) > 0, 'Retry-After');
    assert.match(last?.body ?? '', /Too many attempts\. Wait \d+ (seconds|minutes) and try again\./);
    assert.match(last?.body ?? '', /action="\/account\/two-factor\/disable"/);
    assert.match((await client.get('/account')).body, /<dd>On<\/dd>/);
  });
});
