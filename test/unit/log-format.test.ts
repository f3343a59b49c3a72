import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { createLogger, prettyLogs } from '../../src/deps.js';
import { prettyMessage } from '../../src/pretty-log.js';

/** Collects what the logger writes; `lines(n)` resolves once n lines arrived (pino-pretty writes on a later tick). */
class Capture extends Writable {
  text = '';
  private waiting: (() => void) | undefined;
  private wanted = 0;

  override _write(chunk: Buffer | string, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    if (this.waiting && this.text.split('\n').length > this.wanted) this.waiting();
    done();
  }

  lines(count: number): Promise<string> {
    this.wanted = count;
    if (this.text.split('\n').length > count) return Promise.resolve(this.text);
    return new Promise((resolve) => {
      this.waiting = () => {
        resolve(this.text);
      };
    });
  }
}

const SECRETS = { password: 'Plum-Heron-Quartz-9431', token: 'eyJhbGciOi.secret.signature' };

async function logSecrets(format: 'json' | 'pretty'): Promise<string> {
  const capture = new Capture();
  const logger = createLogger(loadConfig({ LOG_FORMAT: format, LOG_LEVEL: 'info' }), capture);
  logger.info(
    { password: SECRETS.password, nested: { Authorization: `Bearer ${SECRETS.token}` } },
    'with secrets',
  );
  logger.info(
    { req: { method: 'POST', url: '/authenticate_user' }, res: { statusCode: 401 }, responseTime: 12.345 },
    'request completed',
  );
  return capture.lines(2);
}

describe('LOG_FORMAT', () => {
  it('auto is pretty only when stdout is a terminal; pretty and json force one', () => {
    assert.equal(prettyLogs({ logFormat: 'auto' }, true), true);
    assert.equal(prettyLogs({ logFormat: 'auto' }, undefined), false);
    assert.equal(prettyLogs({ logFormat: 'auto' }, false), false);
    assert.equal(prettyLogs({ logFormat: 'pretty' }, undefined), true);
    assert.equal(prettyLogs({ logFormat: 'json' }, true), false);
    assert.equal(loadConfig({}).logFormat, 'auto');
  });

  it('json: one JSON object per line, secrets redacted', async () => {
    const text = await logSecrets('json');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(first.password, '[redacted]');
    assert.deepEqual(first.nested, { Authorization: '[redacted]' });
    assert.doesNotMatch(text, /Plum-Heron|secret\.signature/);
  });

  it('pretty: readable lines, the request as one line, secrets redacted as in JSON', async () => {
    const text = await logSecrets('pretty');
    assert.doesNotMatch(text, /Plum-Heron|secret\.signature/);
    assert.match(text, /"password":"\[redacted\]"/);
    assert.match(text, /INFO.*: POST \/authenticate_user 401 12\.3 ms\n/);
    for (const line of text.trimEnd().split('\n')) assert.throws(() => JSON.parse(line) as unknown, line);
  });

  it('prettyMessage: a request line, an errored request, the banner, any other message', () => {
    const req = { method: 'GET', url: '/user?[redacted]' };
    assert.equal(
      prettyMessage({ msg: 'request completed', req, res: { statusCode: 200 }, responseTime: 1 }),
      'GET /user?[redacted] 200 1.0 ms',
    );
    assert.equal(
      prettyMessage({ msg: 'request errored', req, res: { statusCode: 500 }, responseTime: 2.25 }),
      'GET /user?[redacted] 500 2.3 ms (request errored)',
    );
    assert.equal(
      prettyMessage({
        msg: 'Keyward is listening on http://x',
        banner: { listening: 'http://x', mail: 'none' },
      }),
      'Keyward is listening on http://x\n  listening    http://x\n  mail         none',
    );
    assert.equal(prettyMessage({ msg: 'stopped' }), 'stopped');
  });
});
