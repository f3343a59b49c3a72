import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PASSWORD, uniqueName } from '../../../test/helpers/app.js';
import { listeningApp, type ListeningApp } from '../../../test/helpers/listening.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const missing = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}`;
if (missing && process.env.CI === 'true') throw new Error(`CI=true: ${missing}`);

const here = path.dirname(fileURLToPath(import.meta.url));

/** The client as a browser loads it: the package's ESM entry, bundled into one module. */
async function clientModule(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(here, '../src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
  });
  return result.outputFiles[0]?.text ?? '';
}

/** A tiny static server for the page and the client module (a different origin from Keyward: CORS applies). */
async function staticServer(
  files: Record<string, [string, string]>,
): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    const file = files[request.url ?? ''];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('@keyward/client in Chromium, two tabs of one origin', { skip: missing }, () => {
  let k: ListeningApp;
  let site: { server: Server; origin: string };
  let browser: Browser;
  const files: Record<string, [string, string]> = {};

  before(async () => {
    files['/client.js'] = ['text/javascript', await clientModule()];
    site = await staticServer(files);
    k = await listeningApp({ CORS_ORIGINS: site.origin });
    files['/'] = [
      'text/html',
      `<!doctype html><title>app</title><script type="module">
        import { createClient } from '/client.js';
        window.kw = createClient({ baseUrl: ${JSON.stringify(k.baseUrl)} });
        window.changes = [];
        window.kw.onSessionChange((loggedIn) => window.changes.push(loggedIn));
        window.ready = true;
      </script>`,
    ];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  });

  after(async () => {
    await browser.close();
    await k.close();
    await new Promise((resolve) => site.server.close(resolve));
  });

  /** Signs up and logs in from a page, through the client loaded in it. */
  async function signUpAndLogIn(page: Page, username: string): Promise<void> {
    await page.evaluate(
      `window.kw.signup(${JSON.stringify(username)}, ${JSON.stringify(PASSWORD)})
        .then(() => window.kw.login(${JSON.stringify(username)}, ${JSON.stringify(PASSWORD)}))`,
    );
  }

  async function tab(context: Awaited<ReturnType<Browser['newContext']>>): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${site.origin}/`);
    await page.waitForFunction('window.ready === true');
    return page;
  }

  it('a login in one tab is the session of both; 30 requests from the two tabs at once all succeed', async () => {
    const context = await browser.newContext();
    try {
      const a = await tab(context);
      const b = await tab(context);
      const username = uniqueName('tabs');
      await signUpAndLogIn(a, username);
      assert.equal(await b.evaluate('window.kw.isLoggedIn()'), true, 'tab B sees the login of tab A');
      const burst = (page: Page) =>
        page.evaluate(`Promise.all(Array.from({ length: 15 }, () =>
          window.kw.request('/user').then((r) => r.status))).then((s) => s.join(','))`);
      const [fromA, fromB] = await Promise.all([burst(a), burst(b)]);
      const statuses = `${String(fromA)},${String(fromB)}`.split(',');
      assert.equal(statuses.length, 30);
      assert.deepEqual([...new Set(statuses)], ['200']);
      // Still one live chain: both tabs go on working.
      assert.equal(await a.evaluate("window.kw.request('/user').then((r) => r.status)"), 200);
      assert.equal(await b.evaluate("window.kw.request('/user').then((r) => r.status)"), 200);
      const sessions = await a.evaluate<number>(
        "window.kw.request('/sessions').then((r) => r.json()).then((b) => b.sessions.length)",
      );
      assert.equal(sessions, 1, 'the two tabs share one session');
    } finally {
      await context.close();
    }
  });

  it('a logout in one tab logs the other out and tells it', async () => {
    const context = await browser.newContext();
    try {
      const a = await tab(context);
      const b = await tab(context);
      const username = uniqueName('tabsout');
      await signUpAndLogIn(a, username);
      await b.evaluate('window.kw.logout()');
      await a.waitForFunction('window.changes.includes(false)');
      assert.equal(await a.evaluate('window.kw.isLoggedIn()'), false);
      const refused = await a.evaluate("window.kw.request('/user').then(() => 'sent', (e) => e.code)");
      assert.equal(refused, 'not_logged_in');
    } finally {
      await context.close();
    }
  });
});
