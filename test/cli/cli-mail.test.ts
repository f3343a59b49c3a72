import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { freePort, readOutbox, SmtpSink } from '../helpers/mail.js';
import { assertError, assertOk, login } from '../http/http-helpers.js';
import { assertCleanFailure, assertExit, makeWorkspace, runCli, type CliWorkspace } from './cli-helpers.js';

describe('keyward mail test', () => {
  let sink: SmtpSink;
  before(async () => {
    sink = await new SmtpSink({ auth: { user: 'ops', pass: 'Cli-Smtp-Secret-42' } }).start();
  });
  after(async () => {
    await sink.stop();
  });

  it('sends a test message through SMTP_URL at once and says so', async () => {
    const ws = makeWorkspace({
      SMTP_URL: `smtp://ops:Cli-Smtp-Secret-42@127.0.0.1:${sink.port}`,
      MAIL_FROM: 'Ops <ops@keyward.test>',
    });
    try {
      const r = await runCli(['mail', 'test', 'Someone@Example.ORG'], ws.env);
      assertExit(r, 0);
      assert.match(
        r.stdout,
        /sent a test message to Someone@example\.org via smtp:\/\/ops:\*\*\*@127\.0\.0\.1/,
      );
      assert.ok(!r.stdout.includes('Cli-Smtp-Secret-42'));
      const [mail] = await sink.waitForMessages(1);
      assert.equal(mail?.to, 'Someone@example.org');
      assert.equal(mail.from, 'ops@keyward.test');
      assert.equal(mail.subject, 'Keyward test message');
    } finally {
      ws.remove();
    }
  });

  it('fails with exit 1 and the reason when the server cannot be reached, without the password', async () => {
    const port = await freePort();
    const ws = makeWorkspace({
      SMTP_URL: `smtp://ops:Cli-Smtp-Secret-42@127.0.0.1:${port}`,
      MAIL_FROM: 'ops@keyward.test',
    });
    try {
      const r = await runCli(['mail', 'test', 'someone@example.org'], ws.env);
      assertCleanFailure(r, 1, /cannot send mail via smtp:\/\/ops:\*\*\*@127\.0\.0\.1:\d+: .*ECONNREFUSED/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes('Cli-Smtp-Secret-42'));
    } finally {
      ws.remove();
    }
  });

  it('writes into the outbox without SMTP_URL; a malformed address is a usage error', async () => {
    const ws = makeWorkspace();
    try {
      const r = await runCli(['mail', 'test', 'someone@example.org'], ws.env);
      assertExit(r, 0);
      const mails = await readOutbox(`${ws.dataDir}/outbox`);
      assert.equal(mails.length, 1);
      assert.ok(r.stdout.includes(mails[0]?.file ?? '\u0000'));
      assertCleanFailure(
        await runCli(['mail', 'test', 'not-an-address'], ws.env),
        2,
        /email must be a valid email address/,
      );
    } finally {
      ws.remove();
    }
  });
});

describe('keyward user set-email', () => {
  let ws: CliWorkspace;
  let t: TestApp;
  before(async () => {
    ws = makeWorkspace();
    t = await makeApp(ws.env);
  });
  after(async () => {
    await t.close();
    ws.remove();
  });

  it('sets an unverified email that the user can then confirm; a taken one fails with email_taken', async () => {
    const username = uniqueName('cli');
    assertOk(
      await t.app.inject({ method: 'POST', url: '/user', payload: { username, password: PASSWORD } }),
      201,
    );
    const email = `${uniqueName('c')}@Example.COM`;
    const r = await runCli(['user', 'set-email', username, email], ws.env);
    assertExit(r, 0);
    const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
    assert.match(r.stdout, new RegExp(`to ${stored} \\(unverified\\)`));
    const token = (await login(t.app, username, PASSWORD)).json<{ token: string }>().token;
    const me = await t.app.inject({
      method: 'GET',
      url: '/user',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(me.json<{ user: object }>().user, {
      id: me.json<{ user: { id: number } }>().user.id,
      username,
      email: stored,
      email_verified: false,
      roles: [],
      mfa_enabled: false,
    });

    const other = uniqueName('cli');
    assertOk(
      await t.app.inject({ method: 'POST', url: '/user', payload: { username: other, password: PASSWORD } }),
      201,
    );
    assertCleanFailure(
      await runCli(['user', 'set-email', other, email.toUpperCase()], ws.env),
      1,
      /Email already in use/,
    );
    assertCleanFailure(
      await runCli(['user', 'set-email', other, 'nope'], ws.env),
      1,
      /email must be a valid email address/,
    );
    assertCleanFailure(
      await runCli(['user', 'set-email', 'nobody-here', stored], ws.env),
      1,
      /no user named/,
    );
    assertError(
      await t.app.inject({
        method: 'POST',
        url: '/user',
        payload: { username: uniqueName(), password: PASSWORD, email: stored },
      }),
      409,
      'email_taken',
    );
  });
});
