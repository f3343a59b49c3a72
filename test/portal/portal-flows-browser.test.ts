import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { axeViolations, browserMissing, launchChromium } from '../helpers/browser.js';
import { readOutbox, waitFor } from '../helpers/mail.js';
import { totpCode } from '../helpers/totp.js';
import { fixedClock, type Clock } from '../http/mfa-helpers.js';

const missing = browserMissing();

let t: TestApp;
/** The server's clock, fixed so a code and the next step's code never straddle a step boundary by chance. */
const clock: Clock = fixedClock();
let base: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

before(async () => {
  if (missing !== undefined) return;
  t = await makeApp({}, { now: clock.now });
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
});

after(async () => {
  if (missing !== undefined) return;
  await Promise.all(contexts.map((c) => c.close()));
  await browser.close();
  await t.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  contexts.push(context);
  return context.newPage();
}

async function accessible(page: Page, name: string): Promise<void> {
  assert.deepEqual(await axeViolations(page), [], `axe on ${name} (${page.url()})`);
}

async function signUp(page: Page, username: string, email?: string): Promise<void> {
  await page.goto(`${base}/account/sign-up`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  if (email !== undefined) await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await page.waitForURL(`${base}/account`);
}

async function signIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/account/sign-in`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** The link of the newest mail to `to` whose link goes to `page`, once the background sender has written it. */
async function mailLink(to: string, page: string): Promise<string> {
  return waitFor(`a mail to ${to} with a ${page} link`, async () => {
    const mails = (await readOutbox(path.join(t.dataDir, 'outbox'))).filter((m) => m.to === to);
    const links = mails
      .map((m) => new RegExp(`https?://\\S+/account/${page}\\?token=[A-Za-z0-9_-]+`).exec(m.text)?.[0])
      .filter((link) => link !== undefined);
    return links.at(-1);
  });
}

/** The same link on this test's server (PUBLIC_URL defaults to HOST:PORT of the config, not the test port). */
function local(link: string): string {
  const url = new URL(link);
  return `${base}${url.pathname}${url.search}`;
}

describe('the portal email and two-factor pages in Chromium', { skip: missing }, () => {
  it('verifies an email through the mail link, and the token leaves the address bar', async () => {
    const page = await newPage();
    const username = uniqueName();
    const email = `${username}@example.com`;
    await signUp(page, username, email);
    assert.ok(await page.getByText(`${email} (not verified)`).isVisible());
    await accessible(page, 'overview with an unverified email');
    await page.getByRole('button', { name: 'Send verification email', exact: true }).click();
    await page.waitForURL(/\/account\?done=verification-sent$/);

    const link = await mailLink(email, 'verify-email');
    await page.goto(local(link));
    assert.equal(page.url(), `${base}/account/verify-email`, 'the token is gone from the URL');
    await accessible(page, 'verify email');
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.waitForURL(/\/account\?done=email-verified$/);
    assert.ok(await page.getByText(`${email} (verified)`).isVisible());
  });

  it('resets a forgotten password through the mail link', async () => {
    const page = await newPage();
    const username = uniqueName();
    const email = `${username}@example.com`;
    await signUp(page, username, email);
    await page.getByRole('button', { name: 'Send verification email', exact: true }).click();
    await page.goto(local(await mailLink(email, 'verify-email')));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.waitForURL(/email-verified/);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();

    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await accessible(page, 'forgot password');
    await page.getByLabel('Username or email', { exact: true }).fill(email);
    await page.getByRole('button', { name: 'Send reset link', exact: true }).click();
    await page.waitForURL(/\/account\/forgot-password\?done=reset-sent$/);

    await page.goto(local(await mailLink(email, 'reset-password')));
    assert.equal(page.url(), `${base}/account/reset-password`, 'the token is gone from the URL');
    await accessible(page, 'reset password');
    await page.getByLabel('New password', { exact: true }).fill('a fresh and long passphrase');
    await page.getByRole('button', { name: 'Reset password', exact: true }).click();
    await page.waitForURL(/\/account\/sign-in\?done=password-reset$/);
    await signIn(page, username, 'a fresh and long passphrase');
    await page.waitForURL(`${base}/account`);
  });

  it('changes the email with the current password', async () => {
    const page = await newPage();
    const username = uniqueName();
    await signUp(page, username);
    await page.getByRole('link', { name: 'Add an email' }).click();
    await accessible(page, 'change email');
    await page.getByLabel('Email', { exact: true }).fill(`${username}@example.org`);
    await page.getByLabel('Current password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.ok(await page.getByRole('alert').isVisible());
    await page.getByLabel('Email', { exact: true }).fill(`${username}@example.org`);
    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/account\?done=email-changed$/);
    assert.ok(await page.getByText(`${username}@example.org (not verified)`).isVisible());
  });

  it('sets up two-factor authentication with a computed code, then signs in with a code and with a recovery code', async () => {
    const page = await newPage();
    const username = uniqueName();
    await signUp(page, username);
    await page.getByRole('link', { name: 'Set up two-factor authentication' }).click();
    await accessible(page, 'two-factor setup');
    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Enable two-factor authentication', exact: true }).click();

    const qr = page.getByRole('img', { name: /QR code/ });
    assert.ok(await qr.isVisible());
    assert.match((await qr.getAttribute('src')) ?? '', /^data:image\/svg\+xml;base64,/);
    const secret = ((await page.locator('code.secret').textContent()) ?? '').trim();
    assert.match(secret, /^[A-Z2-7]{16,}$/);
    await accessible(page, 'two-factor QR code');

    await page
      .getByLabel('Code', { exact: true })
      .fill('000000' === totpCode(secret, clock.at) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    assert.ok(await page.getByRole('alert').isVisible(), 'a wrong code is refused');
    assert.equal(
      ((await page.locator('code.secret').textContent()) ?? '').trim(),
      secret,
      'the same secret again',
    );

    await page.getByLabel('Code', { exact: true }).fill(totpCode(secret, clock.at));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    const codes = (await page.locator('ol.codes li').allTextContents()).map((c) => c.trim());
    assert.equal(codes.length, 10);
    await accessible(page, 'recovery codes');

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await signIn(page, username);
    await page.waitForURL(`${base}/account/sign-in/code`);
    await accessible(page, 'sign-in code step');
    // The next step's code: the current one was used to confirm, and a code is accepted once.
    clock.at += 30_000;
    await page.getByLabel('Code', { exact: true }).fill(totpCode(secret, clock.at));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.waitForURL(`${base}/account`);
    assert.ok(await page.getByText('On', { exact: true }).isVisible());

    const other = await newPage();
    await signIn(other, username);
    await other.waitForURL(`${base}/account/sign-in/code`);
    await other.getByLabel('Recovery code', { exact: true }).fill(codes[0] ?? '');
    await other.getByRole('button', { name: 'Verify', exact: true }).click();
    await other.waitForURL(`${base}/account`);

    const third = await newPage();
    await signIn(third, username);
    await third.waitForURL(`${base}/account/sign-in/code`);
    await third.getByLabel('Recovery code', { exact: true }).fill(codes[0] ?? '');
    await third.getByRole('button', { name: 'Verify', exact: true }).click();
    assert.ok(await third.getByRole('alert').isVisible(), 'a recovery code works once');
  });

  it('with two-factor on: new recovery codes replace the old ones, a wrong code does not turn it off, the right one does', async () => {
    const page = await newPage();
    const username = uniqueName();
    await signUp(page, username);
    await page.getByRole('link', { name: 'Set up two-factor authentication' }).click();
    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Enable two-factor authentication', exact: true }).click();
    const secret = ((await page.locator('code.secret').textContent()) ?? '').trim();
    await page.getByLabel('Code', { exact: true }).fill(totpCode(secret, clock.at));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    const old = (await page.locator('ol.codes li').allTextContents()).map((c) => c.trim());
    assert.equal(old.length, 10);

    await page.goto(`${base}/account`);
    await page.getByRole('link', { name: 'Two-factor authentication', exact: true }).click();
    await accessible(page, 'two-factor page, on');
    const renew = page.getByRole('form', { name: 'Recovery codes' });
    const disable = page.getByRole('form', { name: 'Turn off two-factor authentication' });

    await renew.getByLabel('Current password', { exact: true }).fill('not the password');
    await renew.getByRole('button', { name: 'Get new recovery codes', exact: true }).click();
    assert.ok(await renew.getByRole('alert').isVisible(), 'the error is next to its form');
    assert.equal(await disable.getByRole('alert').count(), 0);
    await accessible(page, 'two-factor page, on, with an error');

    await renew.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await renew.getByRole('button', { name: 'Get new recovery codes', exact: true }).click();
    await page.getByText('The old ones no longer work.').waitFor();
    const fresh = (await page.locator('ol.codes li').allTextContents()).map((c) => c.trim());
    assert.equal(fresh.length, 10);
    assert.ok(fresh.every((code) => !old.includes(code)));
    await accessible(page, 'new recovery codes');

    const stale = await newPage();
    await signIn(stale, username);
    await stale.waitForURL(`${base}/account/sign-in/code`);
    await stale.getByLabel('Recovery code', { exact: true }).fill(old[0] ?? '');
    await stale.getByRole('button', { name: 'Verify', exact: true }).click();
    assert.ok(await stale.getByRole('alert').isVisible(), 'an old recovery code is refused');
    await stale.getByLabel('Recovery code', { exact: true }).fill(fresh[0] ?? '');
    await stale.getByRole('button', { name: 'Verify', exact: true }).click();
    await stale.waitForURL(`${base}/account`);

    clock.at += 30_000;
    await page.goto(`${base}/account/two-factor`);
    await disable.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await disable
      .getByLabel('Code', { exact: true })
      .fill(totpCode(secret, clock.at) === '000000' ? '111111' : '000000');
    await disable.getByRole('button', { name: 'Turn off two-factor authentication', exact: true }).click();
    assert.ok(await disable.getByRole('alert').isVisible(), 'a wrong code is refused');
    await accessible(page, 'two-factor page, on, wrong code');
    await page.goto(`${base}/account`);
    assert.ok(await page.getByText('On', { exact: true }).isVisible(), 'still on');

    await page.goto(`${base}/account/two-factor`);
    await disable.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await disable.getByLabel('Code', { exact: true }).fill(totpCode(secret, clock.at));
    await disable.getByRole('button', { name: 'Turn off two-factor authentication', exact: true }).click();
    await page.waitForURL(/\/account\?done=mfa-disabled$/);
    assert.ok(await page.getByText('Off', { exact: true }).isVisible());
    await accessible(page, 'overview after turning two-factor off');

    const plain = await newPage();
    await signIn(plain, username);
    await plain.waitForURL(`${base}/account`);
  });
});
