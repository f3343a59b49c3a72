// The start banner and both log formats over a real server process (LOG_FORMAT; src/pretty-log.ts,
// src/start-banner.ts): what a person at a terminal reads, what a log shipper reads, no secret in either.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent } from 'undici';
import { uniqueName } from '../helpers/app.js';
import { field, killAllServers, send, ServerProcess, START_TIMEOUT_MS } from '../helpers/server-process.js';

const agent = new Agent();
after(async () => {
  await killAllServers();
  await agent.close();
});

const PASSWORD = 'Quartz-Heron-Plum-7716-logs';
const MEMORY = 'in-process memory (single instance only; sessions are lost on restart)';

/** Signs up, logs in, and presents the token in the header and (as a client might) in the query string. */
async function traffic(base: string): Promise<string[]> {
  const username = uniqueName('fmt');
  assert.equal(
    (await send(agent, base, 'POST', '/user', { json: { username, password: PASSWORD } })).status,
    201,
  );
  const login = await send(agent, base, 'POST', '/authenticate_user', {
    json: { username, password: PASSWORD },
  });
  assert.equal(login.status, 200);
  const token = field(login, 'token');
  const refresh = field(login, 'refresh_token');
  const user = await send(agent, base, 'GET', `/user?token=${token}`, { token });
  assert.equal(user.status, 200);
  const wrong = await send(agent, base, 'POST', '/authenticate_user', {
    json: { username, password: `${PASSWORD}-wrong` },
  });
  assert.equal(wrong.status, 401);
  return [PASSWORD, `${PASSWORD}-wrong`, token, token.split('.')[2] ?? token, refresh, field(user, 'token')];
}

/** The whole of stdout so far, as written. */
function stdout(server: ServerProcess): string {
  return server.lines.map((line) => (line.level === 0 ? line.msg : JSON.stringify(line))).join('\n');
}

function assertNoSecret(text: string, secrets: string[]): void {
  for (const secret of secrets)
    assert.ok(!text.includes(secret), `a secret reached the log: ${secret.slice(0, 12)}…`);
}

describe('the log over a real process', { timeout: 4 * START_TIMEOUT_MS }, () => {
  it('stdout not a terminal: JSON lines, the start banner as one line with its fields, no secret', async () => {
    const server = await ServerProcess.start({ LOG_LEVEL: 'trace' });
    const base = server.url;
    const banner = await server.waitForLog(
      (line) => line.msg.startsWith('Keyward is listening'),
      'the banner',
    );
    assert.equal(banner.msg, `Keyward is listening on ${base}`);
    assert.deepEqual(banner.banner, {
      listening: base,
      database: `sqlite:${path.join(server.dataDir, 'users.db')}`,
      'token store': MEMORY,
      mail: `outbox: .eml files in ${path.join(server.dataDir, 'outbox')} (no SMTP_URL)`,
      'API docs': `${base}/docs`,
      account: `${base}/account`,
    });
    // The banner's docs address is where the docs are.
    assert.equal((await send(agent, base, 'GET', '/openapi.json')).status, 200);

    const secrets = await traffic(base);
    const access = await server.waitForLog(
      (line) => line.msg === 'request completed' && (line.res as { statusCode?: number }).statusCode === 401,
      'the wrong login access line',
    );
    assert.deepEqual(access.req, {
      method: 'POST',
      url: '/authenticate_user',
      host: new URL(base).host,
      remoteAddress: '127.0.0.1',
    });
    assert.equal(typeof access.responseTime, 'number');
    assert.ok(
      server.lines.every((line) => line.level > 0),
      'every line is JSON',
    );
    assert.ok(
      server.lines.some((line) => (line.req as { url?: string } | undefined)?.url === '/user?[redacted]'),
    );
    assertNoSecret(stdout(server), secrets);
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  it('LOG_FORMAT=pretty: the banner as aligned rows, one line per request (method, path, status, time, request id), no JSON, no secret', async () => {
    const server = ServerProcess.spawn({ LOG_FORMAT: 'pretty', LOG_LEVEL: 'trace' });
    const row = await server.waitForLog((line) => /^ {2}account +http/.test(line.msg), 'the banner');
    const base = /(http:\/\/\S+)\/account$/.exec(row.msg)?.[1] ?? '';
    const text = () => stdout(server);
    assert.match(text(), new RegExp(`INFO.*: Keyward is listening on ${base}\\n`));
    const rows = [
      `  listening    ${base}`,
      `  database     sqlite:${path.join(server.dataDir, 'users.db')}`,
      `  token store  ${MEMORY}`,
      `  mail         outbox: .eml files in ${path.join(server.dataDir, 'outbox')} (no SMTP_URL)`,
      `  API docs     ${base}/docs`,
      `  account      ${base}/account`,
    ];
    assert.ok(text().includes(rows.join('\n')), text());

    const secrets = await traffic(base);
    await server.waitForLog(
      (line) => /POST \/authenticate_user 401 \d+\.\d ms \{"reqId":"[\w-]+"\}$/.test(line.msg),
      'the 401 line',
    );
    assert.match(text(), /INFO.*: POST \/user 201 \d+\.\d ms \{"reqId":"[\w-]+"\}\n/);
    assert.match(text(), /INFO.*: POST \/authenticate_user 200 \d+\.\d ms \{"reqId":"[\w-]+"\}\n/);
    assert.match(text(), /INFO.*: GET \/user\?\[redacted\] 200 \d+\.\d ms \{"reqId":"[\w-]+"\}\n/);
    assert.ok(
      server.lines.every((line) => line.level === 0),
      'no line is JSON',
    );
    assertNoSecret(text(), secrets);
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });
});
