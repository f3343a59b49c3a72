// Durable delivery across a crash: a server process SIGKILLed while its SMTP send is in flight (the SMTP server
// holds its answer to DATA) loses no mail: the next process on the same database sends it once its claim lapses.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent } from 'undici';
import { SmtpSink, type ReceivedMail } from '../helpers/mail.js';
import { field, killAllServers, send, ServerProcess } from '../helpers/server-process.js';

const agent = new Agent();
const PASSWORD = 'correct horse battery staple';

describe('mail queue across a crash', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-mail-e2e-'));
  let sink: SmtpSink | undefined;
  after(async () => {
    await killAllServers();
    await sink?.stop();
    await agent.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a message whose sender was killed mid-send is sent once by the next process', async () => {
    let held: (mail: ReceivedMail) => void = () => undefined;
    const heldMail = new Promise<ReceivedMail>((resolve) => {
      held = resolve;
    });
    let first = true;
    sink = await new SmtpSink({
      beforeAccept: (mail) => {
        if (!first) return Promise.resolve();
        first = false;
        held(mail);
        // Never answered: the client waits for its 250 until it dies.
        return new Promise<void>(() => undefined);
      },
    }).start();
    const env = {
      DATA_DIR: dataDir,
      SMTP_URL: sink.url,
      MAIL_FROM: 'keyward@keyward.test',
      MAIL_SEND_TIMEOUT: '2',
      MAIL_POLL_INTERVAL_MS: '100',
    };
    const a = await ServerProcess.start(env);
    const email = 'crash@example.test';
    assert.equal(
      (await send(agent, a.url, 'POST', '/user', { json: { username: 'crashy', password: PASSWORD, email } }))
        .status,
      201,
    );
    const login = await send(agent, a.url, 'POST', '/authenticate_user', {
      json: { username: 'crashy', password: PASSWORD },
    });
    const asked = await send(agent, a.url, 'POST', '/email/verification', { token: field(login, 'token') });
    assert.equal(asked.status, 202);
    const inFlight = await heldMail;
    assert.equal(inFlight.to, email);
    await a.kill();

    const b = await ServerProcess.start(env);
    const [mail] = await sink.waitForMessages(1, 30_000);
    assert.equal(mail?.to, email);
    assert.ok(mail.token);
    assert.notEqual(mail.token, inFlight.token, 'the retry mails a fresh token');
    const verified = await send(agent, b.url, 'POST', '/email/verify', { json: { token: mail.token } });
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    const stale = await send(agent, b.url, 'POST', '/email/verify', { json: { token: inFlight.token } });
    assert.equal(stale.status, 400);
    assert.equal(sink.messages.length, 1);
    assert.ok(b.lines.some((line) => line.msg === 'mail sent'));
    await b.stop();
  });
});
