import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DestinationStream } from 'pino';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/deps.js';
import { redactLogLine, SECRET_FIELDS } from '../../src/redact-log-line.js';

const SECRET = 'S3cret-Value-Never-Logged-7f3a';

/** The line JSON.stringify writes for `value`, through the redactor, parsed back. */
function redacted(value: unknown): unknown {
  const line = JSON.stringify(value);
  const out = redactLogLine(line);
  assert.ok(!out.includes(SECRET), `the secret survived in ${out}`);
  return JSON.parse(out) as unknown;
}

describe('redactLogLine', () => {
  it('replaces every secret field at the top level and deeper, whatever the value', () => {
    for (const name of SECRET_FIELDS) {
      assert.deepEqual(redacted({ [name]: SECRET, keep: 1 }), { [name]: '[redacted]', keep: 1 }, name);
      assert.deepEqual(
        redacted({ a: { b: { c: [{ [name]: SECRET }] } }, z: 'after' }),
        { a: { b: { c: [{ [name]: '[redacted]' }] } }, z: 'after' },
        name,
      );
    }
    assert.deepEqual(
      redacted({
        token: { nested: SECRET, list: [SECRET, '}', ']', '{'] },
        password: 12345678,
        refresh_token: [SECRET],
        access_token: null,
        current_password: true,
        next: 'kept',
      }),
      {
        token: '[redacted]',
        password: '[redacted]',
        refresh_token: '[redacted]',
        access_token: '[redacted]',
        current_password: '[redacted]',
        next: 'kept',
      },
    );
    // A value that is the last of its object ends at the object's closing brace.
    assert.deepEqual(redacted({ inner: { password: 42 }, list: [{ token: false }], after: 'x' }), {
      inner: { password: '[redacted]' },
      list: [{ token: '[redacted]' }],
      after: 'x',
    });
  });

  it('matches names without regard to case, and - or _ alike', () => {
    assert.deepEqual(
      redacted({ headers: { Authorization: `Bearer ${SECRET}`, COOKIE: SECRET, set_cookie: [SECRET] } }),
      { headers: { Authorization: '[redacted]', COOKIE: '[redacted]', set_cookie: '[redacted]' } },
    );
  });

  it('copes with quotes, backslashes and brackets inside the secret', () => {
    for (const secret of [`${SECRET}"}`, `${SECRET}\\`, `${SECRET}\\",\\"x\\":{`, `${SECRET}\n]`]) {
      const line = JSON.stringify({ password: secret, after: { token: secret }, tail: 'end' });
      const out = redactLogLine(line);
      assert.deepEqual(JSON.parse(out), {
        password: '[redacted]',
        after: { token: '[redacted]' },
        tail: 'end',
      });
    }
  });

  it('leaves text that only looks like a secret field inside a value alone', () => {
    const value = {
      msg: 'the "token": field, {"password":"x"}',
      url: '/user?[redacted]',
      tokens: 3,
      tokenish: 'y',
    };
    const line = JSON.stringify(value);
    assert.equal(redactLogLine(line), line);
  });

  it('returns a line without a secret field unchanged', () => {
    const line = `${JSON.stringify({ level: 30, reqId: 'r-1', res: { statusCode: 200 }, msg: 'request completed' })}\n`;
    assert.equal(redactLogLine(line), line);
  });
});

describe("the server's logger", () => {
  it('writes no secret, wherever it sits in what is logged', () => {
    const lines: string[] = [];
    const capture: DestinationStream = { write: (chunk: string) => void lines.push(chunk) };
    const logger = createLogger(loadConfig({ LOG_LEVEL: 'info' }), capture);
    const child = logger.child({ token: SECRET });
    child.info({ err: { config: { headers: { authorization: `Bearer ${SECRET}` } } } }, 'upstream failed');
    logger.warn({ body: { user: { password: SECRET } }, access_token: SECRET }, 'bad input');
    const error = Object.assign(new Error('refused'), { nextToken: SECRET });
    logger.error({ err: error }, 'failed');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.ok(!line.includes(SECRET), line);
    const [first] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(first);
    assert.deepEqual(first.err, { config: { headers: { authorization: '[redacted]' } } });
    assert.equal(first.token, '[redacted]');
    assert.equal(first.msg, 'upstream failed');
  });
});
