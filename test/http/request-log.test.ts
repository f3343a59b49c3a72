import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DestinationStream } from 'pino';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';

/** Collects every line the logger writes, parsed. */
class Capture implements DestinationStream {
  readonly lines: Record<string, unknown>[] = [];
  readonly text: string[] = [];
  write(chunk: string): void {
    this.text.push(chunk);
    for (const line of chunk.split('\n'))
      if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
}

const apps: TestApp[] = [];
after(async () => {
  await Promise.all(apps.map((t) => t.close()));
});

/** A server listening on a real port, logging at `level` into a capture. */
async function listening(level: string): Promise<{ base: string; capture: Capture }> {
  const capture = new Capture();
  const t = await makeApp({ LOG_LEVEL: level }, {}, { logDestination: capture });
  apps.push(t);
  const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { base, capture };
}

async function request(
  base: string,
  id: string,
  route: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${base}${route}`, { headers: { ...headers, 'x-request-id': id } });
  await res.arrayBuffer();
  return res.status;
}

/** The lines of one request, once its access line is written (it may follow the response by a moment). */
async function linesOf(capture: Capture, id: string): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 100; i++) {
    const lines = capture.lines.filter((line) => line.reqId === id);
    if (lines.some((line) => line.msg === 'request completed')) return lines;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`no access line for ${id}`);
}

describe('the access log', () => {
  it('at LOG_LEVEL=info writes one line per request, with the request, its status and its time', async () => {
    const { base, capture } = await listening('info');
    assert.equal(await request(base, 'access-1', '/user', { authorization: 'Bearer nope' }), 401);
    assert.equal(await request(base, 'access-2', '/healthz?probe=1'), 200);

    const [first, ...more] = await linesOf(capture, 'access-1');
    assert.ok(first);
    assert.deepEqual(more, [], 'one line for the request');
    assert.equal(first.msg, 'request completed');
    assert.equal(first.level, 30);
    assert.deepEqual(first.req, {
      method: 'GET',
      url: '/user',
      host: new URL(base).host,
      remoteAddress: '127.0.0.1',
    });
    assert.deepEqual(first.res, { statusCode: 401 });
    assert.equal(typeof first.responseTime, 'number');

    const [health, ...moreHealth] = await linesOf(capture, 'access-2');
    assert.ok(health);
    assert.deepEqual(moreHealth, []);
    assert.deepEqual(health.res, { statusCode: 200 });
    assert.equal((health.req as { url?: string }).url, '/healthz?[redacted]');
    assert.ok(!capture.lines.some((line) => line.msg === 'incoming request'));
  });

  it('at LOG_LEVEL=debug also writes when each request arrives', async () => {
    const { base, capture } = await listening('debug');
    assert.equal(await request(base, 'arrive-1', '/healthz'), 200);
    const lines = await linesOf(capture, 'arrive-1');
    assert.deepEqual(
      lines.map((line) => [line.msg, line.level]),
      [
        ['incoming request', 20],
        ['request completed', 30],
      ],
    );
    assert.equal((lines[0]?.req as { url?: string } | undefined)?.url, '/healthz');
  });

  it('at LOG_LEVEL=warn writes nothing for a request that went well', async () => {
    const { base, capture } = await listening('warn');
    assert.equal(await request(base, 'quiet-1', '/healthz'), 200);
    assert.equal(await request(base, 'quiet-2', '/user', { authorization: 'Bearer nope' }), 401);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      capture.lines.filter((line) => typeof line.reqId === 'string'),
      [],
    );
  });

  it('at LOG_LEVEL=trace carries no password or token that a client sent over HTTP, wherever it sent it', async () => {
    const { base, capture } = await listening('trace');
    const username = uniqueName('logged');
    const json = { 'content-type': 'application/json' };
    const signup = await fetch(`${base}/user`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    assert.equal(signup.status, 201);
    const login = await fetch(`${base}/authenticate_user`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    const { token, refresh_token: refreshToken } = (await login.json()) as {
      token: string;
      refresh_token: string;
    };
    // The token in the header, in the query string, in a cookie; the password in a body that fails to parse.
    const got = await fetch(`${base}/user?token=${encodeURIComponent(token)}`, {
      headers: { authorization: `Bearer ${token}`, cookie: `token=${token}` },
    });
    assert.equal(got.status, 200);
    const next = ((await got.json()) as { token: string }).token;
    const broken = await fetch(`${base}/authenticate_user`, {
      method: 'POST',
      headers: json,
      body: `{"username":"${username}","password":"${PASSWORD}"`,
    });
    assert.equal(broken.status, 400);
    await linesOf(capture, String(broken.headers.get('x-request-id')));

    const written = capture.text.join('');
    assert.ok(capture.lines.length >= 8, `only ${capture.lines.length} lines`);
    for (const secret of [PASSWORD, token, refreshToken, next]) {
      assert.ok(!written.includes(secret), `a log line carries ${secret.slice(0, 12)}…`);
    }
  });
});
