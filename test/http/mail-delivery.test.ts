// Mail delivery against a real SMTP server on a loopback port (smtp-server): the message, STARTTLS, AUTH, retries
// after the server starts late, a claim left by a dead sender, no duplicates with two instances on PostgreSQL;
// and the outbox mode's files and log lines.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { DestinationStream } from 'pino';
import { KyselyMailRepository } from '../../src/repositories/kysely-mail-repository.js';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { freePort, readOutbox, SmtpSink, waitFor } from '../helpers/mail.js';
import { createTestDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { drained, post, uniqueEmail } from './account-scenarios.js';
import { assertOk, login } from './http-helpers.js';

const FROM = 'Keyward Test <no-reply@keyward.test>';

class Capture implements DestinationStream {
  readonly lines: string[] = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line !== '') this.lines.push(line);
  }
}

/** A user with an email, verified directly in the database (the mail under test is the reset). */
async function userWithVerifiedEmail(t: TestApp): Promise<{ username: string; email: string }> {
  const username = uniqueName('smtp');
  const email = uniqueEmail().toLowerCase();
  const res = await post(t.app, '/user', { username, password: PASSWORD, email });
  assertOk(res, 201);
  await t.deps.database.db
    .updateTable('users')
    .set({ email_verified: 1 })
    .where('username', '=', username)
    .execute();
  return { username, email };
}

const apps: TestApp[] = [];
const sinks: SmtpSink[] = [];
after(async () => {
  await Promise.all(apps.map((t) => t.close()));
  await Promise.all(sinks.map((s) => s.stop()));
});

async function app(env: Record<string, string>, logDestination?: DestinationStream): Promise<TestApp> {
  const t = await makeApp({ MAIL_POLL_INTERVAL_MS: '30', MAIL_FROM: FROM, ...env }, {}, { logDestination });
  apps.push(t);
  return t;
}

async function sink(options: ConstructorParameters<typeof SmtpSink>[0] = {}): Promise<SmtpSink> {
  const s = await new SmtpSink(options).start();
  sinks.push(s);
  return s;
}

describe('mail over SMTP', () => {
  it('a reset mail reaches the SMTP server from MAIL_FROM, with the link to PUBLIC_URL and the Token line', async () => {
    const server = await sink();
    const t = await app({ SMTP_URL: server.url, PUBLIC_URL: 'https://auth.example.test/' });
    const user = await userWithVerifiedEmail(t);
    assertOk(await post(t.app, '/password/forgot', { login: user.username }), 202);
    const [mail] = await server.waitForMessages(1);
    assert.ok(mail?.token);
    assert.equal(mail.to, user.email);
    assert.equal(mail.from, 'no-reply@keyward.test');
    assert.equal(mail.subject, 'Reset your password');
    assert.ok(
      mail.text.includes(`https://auth.example.test/account/reset-password?token=${mail.token}`),
      mail.text,
    );
    assert.ok(mail.html.includes(`https://auth.example.test/account/reset-password?token=${mail.token}`));
    assertOk(await post(t.app, '/password/reset', { token: mail.token, password: `${PASSWORD} new` }));
    assertOk(await login(t.app, user.username, `${PASSWORD} new`));
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^keyward_mail_sent_total 1$/m);
    assert.match(metrics.body, /^keyward_mail_queued 0$/m);
    assert.match(metrics.body, /^keyward_mail_oldest_queued_age_seconds 0$/m);
  });

  it('STARTTLS is used when the server offers it, and SMTP AUTH with the URL credentials, which are never logged', async () => {
    const secret = 'Smtp-Pass-7f3a9c1e';
    const server = await sink({ starttls: true, auth: { user: 'mailer', pass: secret } });
    const logs = new Capture();
    const t = await app(
      {
        SMTP_URL: `smtp://mailer:${secret}@127.0.0.1:${server.port}?tls.rejectUnauthorized=false`,
        LOG_LEVEL: 'trace',
      },
      logs,
    );
    const user = await userWithVerifiedEmail(t);
    assertOk(await post(t.app, '/password/forgot', { login: user.email }), 202);
    const [mail] = await server.waitForMessages(1);
    assert.equal(mail?.secure, true, 'the session was upgraded with STARTTLS');
    assert.equal(mail.user, 'mailer');
    const text = logs.lines.join('\n');
    assert.ok(!text.includes(secret), 'the SMTP password never reaches the log');
    assert.ok(mail.token && !text.includes(mail.token), 'nor the token');
    assert.match(text, /"mailer":"smtp"/);
  });

  it('a message queued while the SMTP server is down is sent once it starts (retried with backoff)', async () => {
    const port = await freePort();
    const t = await app({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      MAIL_RETRY_DELAY: '1',
      MAIL_SEND_TIMEOUT: '2',
    });
    const user = await userWithVerifiedEmail(t);
    assertOk(await post(t.app, '/password/forgot', { login: user.username }), 202);
    // The first attempt has failed and the row waits for its retry: the hook for starting the server.
    const row = await waitFor('a failed first attempt', async () => {
      const found = await t.deps.database.db
        .selectFrom('mail_queue')
        .selectAll()
        .where('login', '=', user.username)
        .executeTakeFirst();
      return found && found.status === 'queued' && found.attempts >= 1 ? found : undefined;
    });
    assert.match(row.last_error ?? '', /ECONNREFUSED|connect/i);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^keyward_mail_queued 1$/m);
    assert.match(metrics.body, /^keyward_mail_retries_total [1-9]/m);
    const server = await sink({ port });
    const [mail] = await server.waitForMessages(1);
    assert.equal(mail?.to, user.email);
    await drained(t);
    assert.equal(server.messages.length, 1);
    // The token of the failed attempt never left the server and is gone; the one delivered works.
    assert.equal(
      (
        await t.deps.database.db
          .selectFrom('mail_tokens')
          .selectAll()
          .where('kind', '=', 'reset_password')
          .execute()
      ).filter((r) => r.message_id === row.id).length,
      1,
    );
    assertOk(await post(t.app, '/password/reset', { token: mail.token, password: `${PASSWORD} late` }));
  });

  it('a message still failing after MAIL_RETRY_FOR is recorded as failed and counted', async () => {
    const port = await freePort();
    const t = await app({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_RETRY_DELAY: '1', MAIL_RETRY_FOR: '1' });
    const user = await userWithVerifiedEmail(t);
    assertOk(await post(t.app, '/password/forgot', { login: user.username }), 202);
    const row = await waitFor('the message given up', async () => {
      const found = await t.deps.database.db
        .selectFrom('mail_queue')
        .selectAll()
        .where('login', '=', user.username)
        .executeTakeFirst();
      return found?.status === 'failed' ? found : undefined;
    });
    assert.ok(row.last_error);
    assert.equal(
      (
        await t.deps.database.db
          .selectFrom('mail_tokens')
          .selectAll()
          .where('message_id', '=', row.id)
          .execute()
      ).length,
      0,
    );
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^keyward_mail_failed_total 1$/m);
  });

  it('a message claimed by a sender that died is sent by another once the claim lapses', async () => {
    const server = await sink();
    const t = await app({ SMTP_URL: server.url, MAIL_SEND_TIMEOUT: '1' });
    await t.deps.mailQueue.stop();
    const id = await t.deps.database.db
      .insertInto('mail_queue')
      .values({
        kind: 'test',
        recipient: 'orphan@example.test',
        status: 'queued',
        next_attempt_at: Date.now(),
        created_at: Date.now(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    // What a dead instance leaves: the row claimed, its lease running, and no one to settle it.
    const repository = new KyselyMailRepository(t.deps.database);
    const [claimed] = await repository.claim('dead-instance', Date.now(), 1500, 1);
    assert.equal(claimed?.id, id.id);
    const other = await app({
      DATABASE_URL: t.config.databaseUrl,
      SMTP_URL: server.url,
      MAIL_SEND_TIMEOUT: '1',
    });
    const [mail] = await server.waitForMessages(1);
    assert.equal(mail?.to, 'orphan@example.test');
    await drained(other);
    const row = await other.deps.database.db
      .selectFrom('mail_queue')
      .selectAll()
      .where('id', '=', id.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'sent');
    assert.equal(row.attempts, 2);
    assert.equal(server.messages.length, 1);
  });
});

const noPostgres = (await postgresUnavailable()) ?? false;

describe('two instances on one PostgreSQL database', { skip: noPostgres }, () => {
  it('send each queued message exactly once', async () => {
    const database = await createTestDatabase();
    try {
      const server = await sink({
        // Slow acceptance, so that both senders are busy at once.
        beforeAccept: () => new Promise((resolve) => setTimeout(resolve, 5)),
      });
      const env = { DATABASE_URL: database.url, SMTP_URL: server.url, MAIL_POLL_INTERVAL_MS: '20' };
      const a = await app(env);
      const b = await app(env);
      const count = 40;
      const now = Date.now();
      // Rows written straight to the table wake neither sender: both find them by polling, at the same time.
      await a.deps.database.db
        .insertInto('mail_queue')
        .values(
          Array.from({ length: count }, (_v, i) => ({
            kind: 'test',
            recipient: `r${i}@example.test`,
            status: 'queued',
            next_attempt_at: now,
            created_at: now,
          })),
        )
        .execute();
      await server.waitForMessages(count, 20_000);
      await drained(a);
      const recipients = server.messages.map((m) => m.to).sort();
      assert.equal(recipients.length, count);
      assert.equal(new Set(recipients).size, count, 'no message sent twice');
      const sent = async (t: TestApp) =>
        Number(
          /^keyward_mail_sent_total (\d+)$/m.exec(
            (await t.app.inject({ method: 'GET', url: '/metrics' })).body,
          )?.[1],
        );
      assert.equal((await sent(a)) + (await sent(b)), count);
    } finally {
      await Promise.all(apps.splice(0).map((t) => t.close()));
      await database.drop();
    }
  });
});

describe('the outbox (no SMTP_URL)', () => {
  it('writes an RFC 5322 .eml file (0600 in a 0700 directory) and logs its name, never the token', async () => {
    const logs = new Capture();
    const t = await app({ LOG_LEVEL: 'info' }, logs);
    const user = await userWithVerifiedEmail(t);
    assertOk(await post(t.app, '/password/forgot', { login: user.username }), 202);
    const dir = `${t.dataDir}/outbox`;
    const [mail] = await waitFor('the outbox file', async () => {
      const mails = await readOutbox(dir);
      return mails.length > 0 ? mails : undefined;
    });
    assert.ok(mail?.token);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(`${dir}/${mail.file}`).mode & 0o777, 0o600);
    assert.equal(mail.from, 'no-reply@keyward.test');
    const line = await waitFor('the log line', () =>
      logs.lines.find((l) => l.includes('mail written to the outbox')),
    );
    assert.ok(line.includes(mail.file), line);
    assert.ok(!logs.lines.join('\n').includes(mail.token));
  });
});
