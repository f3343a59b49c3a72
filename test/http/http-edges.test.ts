import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { bearer, makeApp, signUpAndLogin, type TestApp } from '../helpers/app.js';

const apps: TestApp[] = [];
after(async () => {
  await Promise.all(apps.map((t) => t.close()));
});

async function app(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await makeApp(env);
  apps.push(t);
  return t;
}

async function listening(
  env: Record<string, string> = {},
): Promise<{ t: TestApp; port: number; base: string }> {
  const t = await app(env);
  const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { t, port: (t.app.server.address() as net.AddressInfo).port, base };
}

interface RawOutcome {
  /** Everything the server sent before the connection ended. */
  received: string;
  /** The socket error the client saw (ECONNRESET, EPIPE), if any. */
  error: string | undefined;
  /** Body bytes written before the answer came. */
  sent: number;
}

/**
 * A client that sends `head` and then body frames as fast as the socket takes them, and keeps sending until it
 * has read a complete answer (head and body) or the connection ends; then it stops and closes, as HTTP clients do.
 */
function sendUntilAnswered(port: number, head: string, frame: Buffer): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let sent = 0;
    let error: string | undefined;
    let answered = false;
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      received += data;
      const [headers, body] = received.split('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(headers ?? '')?.[1];
      if (length !== undefined && body !== undefined && Buffer.byteLength(body) >= Number(length)) {
        answered = true;
        socket.end();
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => {
      resolve({ received, error, sent });
    });
    socket.write(head);
    const pump = (): void => {
      // 64 MiB without an answer is a server that reads forever: stop, the assertions will say so.
      if (answered || socket.destroyed || socket.writableEnded || sent > 64 * 1024 * 1024) {
        if (!answered && !socket.destroyed) socket.destroy();
        return;
      }
      sent += frame.length;
      if (socket.write(frame)) setImmediate(pump);
      else socket.once('drain', pump);
    };
    pump();
  });
}

function chunk(size: number): Buffer {
  return Buffer.concat([
    Buffer.from(`${size.toString(16)}\r\n`),
    Buffer.alloc(size, 0x61),
    Buffer.from('\r\n'),
  ]);
}

describe('HEAD on an authenticated route', () => {
  for (const url of ['/user', '/sessions']) {
    it(`HEAD ${url} answers 405 with Allow: GET and does not consume the token`, async () => {
      const t = await app();
      const { token } = await signUpAndLogin(t.app);
      const head = await t.app.inject({ method: 'HEAD', url, headers: bearer(token) });
      assert.equal(head.statusCode, 405);
      assert.equal(head.headers.allow, 'GET');
      assert.equal(head.body, '');
      // The token presented to HEAD is still the live one.
      const get = await t.app.inject({ method: 'GET', url, headers: bearer(token) });
      assert.equal(get.statusCode, 200, get.body);
    });
  }

  it('HEAD on an open route still answers like GET without a body', async () => {
    const t = await app();
    const head = await t.app.inject({ method: 'HEAD', url: '/healthz' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
  });
});

describe('security headers', () => {
  it('every answer carries nosniff and a JSON policy; token answers carry no-store and Pragma: no-cache', async () => {
    const t = await app();
    const { username } = await signUpAndLogin(t.app);
    const login = await t.app.inject({
      method: 'POST',
      url: '/authenticate_user',
      payload: { username, password: 'correct horse battery staple' },
    });
    const answers = [
      login,
      await t.app.inject({ method: 'GET', url: '/healthz' }),
      await t.app.inject({ method: 'GET', url: '/user' }),
      await t.app.inject({ method: 'GET', url: '/nowhere' }),
      await t.app.inject({
        method: 'POST',
        url: '/user',
        payload: '{',
        headers: { 'content-type': 'application/json' },
      }),
    ];
    for (const res of answers) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff', `${res.statusCode} ${res.body}`);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers.pragma, 'no-cache');
      assert.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
    }
    assert.equal(login.statusCode, 200);
    const jwks = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(jwks.headers['cache-control'], 'public, max-age=300');
    assert.equal(jwks.headers.pragma, undefined);
    assert.equal(jwks.headers['x-content-type-options'], 'nosniff');
  });

  it('/docs gets a policy that allows its own scripts only', async () => {
    const t = await app();
    for (const url of ['/docs/', '/docs/static/swagger-ui-bundle.js']) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200);
      const policy = String(res.headers['content-security-policy']);
      assert.match(policy, /script-src 'self'(;|$)/);
      assert.match(policy, /default-src 'none'/);
      assert.match(policy, /frame-ancestors 'none'/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
  });

  const chromium = '/usr/bin/chromium';
  it(
    'Swagger UI renders the API under that policy in Chromium, with no policy violation',
    { skip: !existsSync(chromium) && process.env.CI !== 'true' ? 'no Chromium' : false },
    async () => {
      const { base } = await listening();
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        execFile(
          chromium,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--enable-logging=stderr',
            '--v=0',
            '--virtual-time-budget=15000',
            '--dump-dom',
            `${base}/docs/`,
          ],
          { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
          (error, out, err) => {
            if (error) reject(new Error(`chromium failed: ${error.message}`, { cause: error }));
            else resolve({ stdout: out, stderr: err });
          },
        );
      });
      // The operations are rendered from /docs/json by the UI's scripts: the page ran.
      assert.match(stdout, /class="opblock/);
      assert.match(stdout, /\/authenticate_user/);
      const violations = stderr
        .split('\n')
        .filter((line) => /Content Security Policy|Refused to/i.test(line));
      assert.deepEqual(violations, []);
    },
  );
});

describe('a body over the limit', () => {
  for (const size of [4096, 65536]) {
    it(`a client still sending chunks of ${size} bytes reads its 413 before the connection closes`, async () => {
      const { port } = await listening();
      const head =
        'POST /user HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n';
      for (let round = 0; round < 10; round++) {
        const outcome = await sendUntilAnswered(port, head, chunk(size));
        assert.equal(outcome.error, undefined, `round ${round}: ${outcome.error ?? ''}`);
        assert.match(outcome.received, /^HTTP\/1\.1 413 /);
        assert.match(outcome.received, /\r\nconnection: close\r\n/i);
        assert.match(outcome.received, /"code":"payload_too_large"/);
        assert.ok(outcome.sent > 64 * 1024);
      }
    });
  }

  it('a client sending a declared Content-Length over the limit reads its 413 too', async () => {
    const { port } = await listening();
    const head =
      'PUT /user HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${10 * 1024 * 1024}\r\n\r\n`;
    for (let round = 0; round < 10; round++) {
      const outcome = await sendUntilAnswered(port, head, Buffer.alloc(65536, 0x61));
      assert.equal(outcome.error, undefined, `round ${round}: ${outcome.error ?? ''}`);
      assert.match(outcome.received, /^HTTP\/1\.1 413 /);
    }
  });
});

describe('timeouts', () => {
  it('the server runs with the configured header, request, keep-alive and socket timeouts', async () => {
    const t = await app({
      HTTP_HEADERS_TIMEOUT: '7',
      HTTP_REQUEST_TIMEOUT: '20',
      HTTP_KEEP_ALIVE_TIMEOUT: '50',
    });
    assert.equal(t.app.server.headersTimeout, 7000);
    assert.equal(t.app.server.requestTimeout, 20000);
    assert.equal(t.app.server.keepAliveTimeout, 50000);
    assert.equal(t.app.server.timeout, 120_000);
    const defaults = await app();
    assert.equal(defaults.app.server.headersTimeout, 10_000);
    assert.equal(defaults.app.server.requestTimeout, 30_000);
    assert.equal(defaults.app.server.keepAliveTimeout, 72_000);
  });

  it('a client that never finishes its headers gets 408 and the connection is closed', async () => {
    const { port } = await listening({ HTTP_HEADERS_TIMEOUT: '1', HTTP_REQUEST_TIMEOUT: '1' });
    const received = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (data: string) => (text += data));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        resolve(text);
      });
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    });
    assert.match(received, /^HTTP\/1\.1 408 /);
  });
});
