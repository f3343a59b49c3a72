import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RefreshTokens } from '../../src/services/refresh-tokens.js';

const secret = randomBytes(32);
const refresh = new RefreshTokens(secret);
const parts = { userId: 1234, sid: randomBytes(16).toString('base64url'), counter: 7 };

describe('RefreshTokens', () => {
  it('decodes what it encodes', () => {
    assert.deepEqual(refresh.decode(refresh.encode(parts)), parts);
    assert.deepEqual(refresh.decode(refresh.encode({ ...parts, counter: 0 })), { ...parts, counter: 0 });
  });

  it('has the form kwr1.<user>.<session>.<counter>.<mac>', () => {
    const [version, user, sid, counter, mac] = refresh.encode(parts).split('.');
    assert.deepEqual([version, user, sid, counter], ['kwr1', '1234', parts.sid, '7']);
    assert.match(mac ?? '', /^[A-Za-z0-9_-]{43}$/);
  });

  it('carries a 256-bit MAC, so a guess succeeds with probability 2^-256 (≥128 bits required)', () => {
    const mac = refresh.encode(parts).split('.')[4] ?? '';
    assert.equal(Buffer.from(mac, 'base64url').length * 8, 256);
  });

  it('gives every session and counter a different MAC', () => {
    const macs = new Set<string>();
    for (let counter = 0; counter < 100; counter += 1) {
      macs.add(refresh.encode({ ...parts, counter }).split('.')[4] ?? '');
      macs.add(
        refresh.encode({ ...parts, sid: randomBytes(16).toString('base64url'), counter }).split('.')[4] ?? '',
      );
    }
    assert.equal(macs.size, 200);
  });

  it('rejects a change to any single character', () => {
    const token = refresh.encode(parts);
    for (let i = 0; i < token.length; i += 1) {
      for (const replacement of ['A', '9', '.', '-']) {
        if (token[i] === replacement) continue;
        const tampered = `${token.slice(0, i)}${replacement}${token.slice(i + 1)}`;
        assert.equal(refresh.decode(tampered), undefined, `position ${i} -> ${replacement}`);
      }
    }
  });

  it('rejects another user, session or counter under the original MAC', () => {
    const mac = refresh.encode(parts).split('.')[4] ?? '';
    for (const body of [
      `kwr1.1235.${parts.sid}.7`,
      `kwr1.1234.${randomBytes(16).toString('base64url')}.7`,
      `kwr1.1234.${parts.sid}.8`,
      `kwr2.1234.${parts.sid}.7`,
    ]) {
      assert.equal(refresh.decode(`${body}.${mac}`), undefined, body);
    }
  });

  it('rejects a truncated or extended token', () => {
    const token = refresh.encode(parts);
    assert.equal(refresh.decode(token.slice(0, -1)), undefined);
    assert.equal(refresh.decode(`${token}A`), undefined);
    assert.equal(refresh.decode(`${token}.extra`), undefined);
    assert.equal(refresh.decode(token.split('.').slice(0, 4).join('.')), undefined);
  });

  it('rejects a token made with another secret', () => {
    const other = new RefreshTokens(randomBytes(32));
    assert.equal(refresh.decode(other.encode(parts)), undefined);
  });

  it('rejects an oversized token', () => {
    const mac = refresh.encode(parts).split('.')[4] ?? '';
    assert.equal(refresh.decode(`kwr1.1234.${parts.sid}.7.${mac}${'A'.repeat(300)}`), undefined);
    assert.equal(refresh.decode('A'.repeat(10_000)), undefined);
  });

  it('rejects non-canonical numbers even with a matching MAC', () => {
    for (const [user, counter] of [
      ['01234', '7'],
      ['1234', '07'],
      ['0', '7'],
      ['-1', '7'],
      ['1234', '-1'],
      ['1e3', '7'],
      ['99999999999999999', '7'],
    ] as const) {
      // A MAC made with the real secret: only the syntax check can stop these.
      const body = `kwr1.${user}.${parts.sid}.${counter}`;
      const mac = createHmac('sha256', secret).update(body).digest('base64url');
      assert.equal(refresh.decode(`${body}.${mac}`), undefined, body);
    }
  });

  it('rejects session ids of the wrong shape', () => {
    for (const sid of ['short', 'a'.repeat(65), 'has space in it!!', 'sid/with/slashes0']) {
      assert.equal(refresh.decode(refresh.encode({ ...parts, sid })), undefined, sid);
    }
  });

  it('is an HMAC-SHA256 of the body under the secret', () => {
    const token = refresh.encode(parts);
    const body = token.slice(0, token.lastIndexOf('.'));
    assert.equal(token.slice(body.length + 1), createHmac('sha256', secret).update(body).digest('base64url'));
  });

  it('rejects garbage', () => {
    for (const garbage of ['', '.', '....', 'kwr1', 'kwr1....', 'a.b.c.d.e', '💥.💥.💥.💥.💥']) {
      assert.equal(refresh.decode(garbage), undefined, garbage);
    }
  });
});
