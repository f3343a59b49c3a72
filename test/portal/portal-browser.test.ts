import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { axeViolations, browserMissing, launchChromium } from '../helpers/browser.js';

const missing = browserMissing();

let t: TestApp;
let base: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

before(async () => {
  if (missing !== undefined) return;
  t = await makeApp();
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
});

after(async () => {
  if (missing !== undefined) return;
  await Promise.all(contexts.map((c) => c.close()));
  await browser.close();
  await t.close();
});

async function newPage(options: { javaScriptEnabled?: boolean; userAgent?: string } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, ...options });
  contexts.push(context);
  return context.newPage();
}

/** Every page the tests visit is checked with axe-core: no serious or critical violation. */
const checked = new Set<string>();
async function accessible(page: Page, name: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe on ${name} (${page.url()})`);
  checked.add(name);
}

async function signUp(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/account/sign-up`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await page.waitForURL(`${base}/account`);
}

async function signIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/account/sign-in`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

describe('the account portal in Chromium', { skip: missing }, () => {
  it('signs up, shows the account, signs out, signs in again', async () => {
    const page = await newPage();
    const username = uniqueName();
    await page.goto(`${base}/account/sign-up`);
    await accessible(page, 'sign up');
    await signUp(page, username);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your account');
    assert.ok(await page.getByText(username, { exact: true }).isVisible());
    await accessible(page, 'overview');

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/account\/sign-in\?done=signed-out$/);
    assert.ok(await page.getByText('You are signed out.').isVisible());
    await accessible(page, 'sign in');

    await page.goto(`${base}/account`);
    assert.match(page.url(), /\/account\/sign-in$/, 'signed out: the account page sends to sign in');

    await signIn(page, username);
    await page.waitForURL(`${base}/account`);
  });

  it('shows a wrong password next to the form, in words', async () => {
    const page = await newPage();
    const username = uniqueName();
    await signUp(page, username);
    const other = await newPage();
    await signIn(other, username, 'not the password at all');
    const alert = other.getByRole('alert');
    assert.equal(
      await alert.textContent(),
      'That username and password do not match. Check both and try again.',
    );
    assert.equal(await other.getByLabel('Username', { exact: true }).inputValue(), username);
    await accessible(other, 'sign in with an error');

    await other.goto(`${base}/account/sign-up`);
    await other.getByLabel('Username', { exact: true }).fill(username);
    await other.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await other.getByRole('button', { name: 'Sign up', exact: true }).click();
    assert.equal(await other.getByRole('alert').textContent(), 'That username is taken. Choose another one.');
    await accessible(other, 'sign up with an error');
  });

  it('signs in with JavaScript disabled', async () => {
    const username = uniqueName();
    await signUp(await newPage(), username);
    const page = await newPage({ javaScriptEnabled: false });
    await signIn(page, username);
    await page.waitForURL(`${base}/account`);
    assert.ok(await page.getByText(username, { exact: true }).isVisible());
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.waitForURL(`${base}/account/sessions`);
    assert.ok(await page.getByText('Current session').isVisible());
  });

  it('lists sessions with the current one marked, and revokes another browser from a second context', async () => {
    const username = uniqueName();
    const laptop = await newPage({ userAgent: 'Laptop browser' });
    await signUp(laptop, username);
    const phone = await newPage({ userAgent: 'Phone browser' });
    await signIn(phone, username);
    await phone.waitForURL(`${base}/account`);

    await phone.goto(`${base}/account/sessions`);
    await accessible(phone, 'sessions');
    const items = phone.getByRole('listitem').filter({ hasText: 'browser' });
    assert.equal(await items.count(), 2);
    const current = items.filter({ hasText: 'Current session' });
    assert.equal(await current.count(), 1);
    assert.match((await current.textContent()) ?? '', /Phone browser/);

    const laptopRow = items.filter({ hasText: 'Laptop browser' });
    await laptopRow.getByRole('button', { name: 'Revoke', exact: true }).click();
    await phone.waitForURL(/\/account\/sessions\?done=session-revoked$/);
    assert.ok(await phone.getByText('The session is revoked.').isVisible());
    assert.equal(await phone.getByRole('listitem').filter({ hasText: 'browser' }).count(), 1);

    await laptop.goto(`${base}/account`);
    assert.match(laptop.url(), /\/account\/sign-in\?done=session-ended$/);
    assert.ok(await laptop.getByText('Your session has ended. Sign in again.').isVisible());

    // Sign out everywhere ends this browser's session too.
    await signIn(laptop, username);
    await laptop.waitForURL(`${base}/account`);
    await phone.goto(`${base}/account/sessions`);
    await phone.getByRole('button', { name: 'Sign out everywhere', exact: true }).click();
    await phone.waitForURL(/\/account\/sign-in\?done=signed-out-everywhere$/);
    await laptop.goto(`${base}/account`);
    assert.match(laptop.url(), /\/account\/sign-in/);
  });

  it('changes the password: the old one stops working, other sessions end, this one stays', async () => {
    const username = uniqueName();
    const page = await newPage();
    await signUp(page, username);
    const other = await newPage();
    await signIn(other, username);
    await other.waitForURL(`${base}/account`);

    await page.goto(`${base}/account/password`);
    await accessible(page, 'change password');
    await page.getByLabel('Current password', { exact: true }).fill('wrong password here');
    await page.getByLabel('New password', { exact: true }).fill('a completely new passphrase');
    await page.getByRole('button', { name: 'Change password', exact: true }).click();
    assert.equal(
      await page.getByRole('alert').textContent(),
      'Your current password is not right. Type it again.',
    );
    await accessible(page, 'change password with an error');

    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill('a completely new passphrase');
    await page.getByRole('button', { name: 'Change password', exact: true }).click();
    await page.waitForURL(/\/account\?done=password-changed$/);
    assert.ok(await page.getByText('Your password is changed.', { exact: false }).isVisible());

    await other.goto(`${base}/account`);
    assert.match(other.url(), /\/account\/sign-in\?done=session-ended$/, 'the other session ended');
    await signIn(other, username);
    assert.ok(await other.getByRole('alert').isVisible(), 'the old password no longer works');
    await signIn(other, username, 'a completely new passphrase');
    await other.waitForURL(`${base}/account`);
  });

  it('deletes the account after confirmation', async () => {
    const username = uniqueName();
    const page = await newPage();
    await signUp(page, username);
    await page.getByRole('link', { name: 'Delete your account' }).click();
    await page.waitForURL(`${base}/account/delete`);
    await accessible(page, 'delete account');
    await page.getByLabel('I understand that my account will be deleted for good').check();
    await page.getByRole('button', { name: 'Delete account', exact: true }).click();
    await page.waitForURL(/\/account\/sign-in\?done=deleted$/);
    assert.ok(await page.getByText('Your account is deleted.').isVisible());
    await signIn(page, username);
    assert.ok(await page.getByRole('alert').isVisible(), 'the account is gone');
  });

  it('answers an unknown page with a readable 404', async () => {
    const page = await newPage();
    const response = await page.goto(`${base}/account/no-such-page`);
    assert.equal(response?.status(), 404);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Page not found');
    await accessible(page, 'not found');
  });

  it('passes axe-core in the dark colour scheme too', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, colorScheme: 'dark' });
    contexts.push(context);
    const page = await context.newPage();
    await signUp(page, uniqueName());
    await accessible(page, 'overview (dark)');
    await page.goto(`${base}/account/sessions`);
    await accessible(page, 'sessions (dark)');
    await page.goto(`${base}/account/sign-in`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await accessible(page, 'sign in with an error (dark)');
  });

  it('ran axe-core on every page', () => {
    for (const name of ['sign up', 'sign in', 'overview', 'sessions', 'change password', 'delete account']) {
      assert.ok(checked.has(name), `axe did not run on ${name}`);
    }
  });
});
