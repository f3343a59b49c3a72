// Screenshots of every portal page for docs/portal.md, taken in Chromium (1000×700 PNG, docs/portal/*.png).
// Usage: tsx scripts/portal-screenshots.ts (needs /usr/bin/chromium or CHROMIUM_PATH).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { closeDeps, createDeps } from '../src/deps.js';
import { launchChromium } from '../test/helpers/browser.js';
import { totpCode } from '../test/helpers/totp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'docs', 'portal');
const PASSWORD = 'correct horse battery staple';

const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-shots-'));
const config = loadConfig({
  DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  RATE_LIMIT: 'off',
  ARGON2_MEMORY_KIB: '8192',
  ARGON2_ITERATIONS: '1',
});
const deps = await createDeps(config);
const app = await buildApp(config, deps);
const base = await app.listen({ host: '127.0.0.1', port: 0 });
const browser = await launchChromium();
mkdirSync(OUT, { recursive: true });

async function page(userAgent: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, userAgent });
  return context.newPage();
}

/** A 1000×700 view of the page, or the whole page when it is taller (`full`: the two-factor pages). */
async function shot(p: Page, name: string, full = false): Promise<void> {
  await p.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: full });
  console.log(`docs/portal/${name}.png`);
}

try {
  const username = 'ada.lovelace';
  const laptop = await page('Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0');
  await laptop.goto(`${base}/account/sign-up`);
  await laptop.getByLabel('Username', { exact: true }).fill(username);
  await shot(laptop, 'sign-up');
  await laptop.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await laptop.getByRole('button', { name: 'Sign up', exact: true }).click();
  await laptop.waitForURL(`${base}/account`);
  await shot(laptop, 'overview');

  const phone = await page(
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148 Safari/604.1',
  );
  await phone.goto(`${base}/account/sign-in`);
  await phone.getByLabel('Username', { exact: true }).fill(username);
  await phone.getByLabel('Password', { exact: true }).fill('not my password');
  await phone.getByRole('button', { name: 'Sign in', exact: true }).click();
  await shot(phone, 'sign-in-error');
  await phone.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await phone.getByRole('button', { name: 'Sign in', exact: true }).click();
  await phone.waitForURL(`${base}/account`);

  await laptop.goto(`${base}/account/sessions`);
  await shot(laptop, 'sessions');
  await laptop.goto(`${base}/account/password`);
  await shot(laptop, 'change-password');
  await laptop.goto(`${base}/account/delete`);
  await shot(laptop, 'delete-account');
  await laptop.getByRole('button', { name: 'Sign out', exact: true }).click();
  await laptop.waitForURL(/sign-in/);
  await shot(laptop, 'sign-in');

  const dark = await browser.newContext({ viewport: { width: 1000, height: 700 }, colorScheme: 'dark' });
  const darkPage = await dark.newPage();
  await darkPage.goto(`${base}/account/sign-in`);
  await darkPage.getByLabel('Username', { exact: true }).fill(username);
  await darkPage.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await darkPage.getByRole('button', { name: 'Sign in', exact: true }).click();
  await darkPage.waitForURL(`${base}/account`);
  await shot(darkPage, 'overview-dark');

  const narrow = await browser.newContext({ viewport: { width: 390, height: 700 } });
  const narrowPage = await narrow.newPage();
  await narrowPage.goto(`${base}/account/sign-in`);
  await shot(narrowPage, 'sign-in-phone');

  // The email pages.
  const grace = 'grace.hopper';
  const mail = await page('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15');
  await mail.goto(`${base}/account/sign-up`);
  await mail.getByLabel('Username', { exact: true }).fill(grace);
  await mail.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await mail.getByRole('button', { name: 'Sign up', exact: true }).click();
  await mail.waitForURL(`${base}/account`);
  await mail.getByRole('link', { name: 'Add an email' }).click();
  await mail.getByLabel('Email', { exact: true }).fill('grace@example.org');
  await shot(mail, 'change-email');
  await mail.getByLabel('Current password', { exact: true }).fill(PASSWORD);
  await mail.getByRole('button', { name: 'Save', exact: true }).click();
  await mail.waitForURL(/done=email-changed/);
  await shot(mail, 'overview-email-unverified');
  await mail.goto(`${base}/account/verify-email`);
  await shot(mail, 'verify-email');
  const stranger = await page('Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0');
  await stranger.goto(`${base}/account/forgot-password`);
  await stranger.getByLabel('Username or email', { exact: true }).fill('grace@example.org');
  await shot(stranger, 'forgot-password');
  await stranger.goto(`${base}/account/reset-password`);
  await shot(stranger, 'reset-password');

  // The two-factor pages, in the order a person meets them.
  await mail.goto(`${base}/account/two-factor`);
  await shot(mail, 'two-factor-off');
  await mail.getByLabel('Current password', { exact: true }).fill(PASSWORD);
  await mail.getByRole('button', { name: 'Enable two-factor authentication', exact: true }).click();
  const secret = ((await mail.locator('code.secret').textContent()) ?? '').trim();
  await shot(mail, 'two-factor-setup', true);
  await mail.getByLabel('Code', { exact: true }).fill(totpCode(secret, Date.now()));
  await mail.getByRole('button', { name: 'Verify', exact: true }).click();
  await mail.locator('ol.codes').waitFor();
  await shot(mail, 'recovery-codes');
  await mail.goto(`${base}/account/two-factor`);
  await shot(mail, 'two-factor-on', true);
  const second = await page('Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0');
  await second.goto(`${base}/account/sign-in`);
  await second.getByLabel('Username', { exact: true }).fill(grace);
  await second.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await second.getByRole('button', { name: 'Sign in', exact: true }).click();
  await second.waitForURL(`${base}/account/sign-in/code`);
  await shot(second, 'sign-in-code');
} finally {
  await browser.close();
  await app.close();
  await closeDeps(deps);
  rmSync(dataDir, { recursive: true, force: true });
}
