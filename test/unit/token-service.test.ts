import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/errors.js';
import { loadKeySet, type KeySet } from '../../src/services/signing-keys.js';
import { TokenService, type TokenServiceOptions } from '../../src/services/token-service.js';
import { decodeToken, forge } from '../helpers/jwt-forge.js';

const TTL = 2100;

function isInvalidToken(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'invalid_token';
}

/** A clock tests can move; starts at the real time because fast-jwt also checks exp against Date.now(). */
function clock() {
  const state = { now: Date.now() };
  return { state, now: () => state.now };
}

function service(keys: KeySet, options: Partial<TokenServiceOptions> = {}) {
  return new TokenService({
    keys,
    issuer: 'keyward',
    audience: 'keyward',
    accessTtlSec: TTL,
    maxTokenBytes: 8 * 1024,
    ...options,
  });
}

/** RFC 7638 thumbprint computed here, independently of signing-keys.ts. */
function thumbprint(canonicalJson: string): string {
  return createHash('sha256').update(canonicalJson).digest('base64url');
}

describe('TokenService with EdDSA', () => {
  let dir: string;
  let keys: KeySet;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'keyward-tokens-'));
    keys = loadKeySet({ keysDir: path.join(dir, 'keys') });
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips a token: verify returns the issued user, session, jti and expiry', () => {
    const c = clock();
    const tokens = service(keys, { now: c.now });
    const issued = tokens.issue(42, 'session-id-0001');
    const claims = tokens.verify(issued.token);
    assert.deepEqual(claims, { userId: 42, sid: 'session-id-0001', jti: issued.jti, exp: issued.expiresAt });
    assert.equal(issued.expiresAt, (Math.floor(c.state.now / 1000) + TTL) * 1000);
  });

  it('writes the header of SPEC §3: alg EdDSA, typ at+jwt, kid the RFC 7638 thumbprint', () => {
    const { header } = decodeToken(service(keys).issue(1, 'sid-sid-sid-sid-1').token);
    const x = String(createPublicKey(keys.signer.signingMaterial).export({ format: 'jwk' }).x);
    assert.deepEqual(header, {
      alg: 'EdDSA',
      typ: 'at+jwt',
      kid: thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`),
    });
  });

  it('writes the claims of SPEC §3 with exp = iat + ttl', () => {
    const c = clock();
    const issued = service(keys, { now: c.now }).issue(7, 'sid-sid-sid-sid-7');
    const { payload } = decodeToken(issued.token);
    const iat = Math.floor(c.state.now / 1000);
    assert.deepEqual(payload, {
      iss: 'keyward',
      aud: 'keyward',
      sub: '7',
      user_id: 7,
      sid: 'sid-sid-sid-sid-7',
      jti: issued.jti,
      iat,
      exp: iat + TTL,
    });
  });

  it('gives every token a fresh jti', () => {
    const tokens = service(keys);
    const jtis = new Set(Array.from({ length: 200 }, () => tokens.issue(1, 'sid-sid-sid-sid-1').jti));
    assert.equal(jtis.size, 200);
  });

  it('uses the configured issuer and audience and rejects tokens for others', () => {
    const custom = service(keys, { issuer: 'https://auth.example', audience: 'orders-api' });
    const token = custom.issue(3, 'sid-sid-sid-sid-3').token;
    assert.equal(decodeToken(token).payload.iss, 'https://auth.example');
    assert.equal(decodeToken(token).payload.aud, 'orders-api');
    assert.equal(custom.verify(token).userId, 3);
    assert.throws(() => service(keys).verify(token), isInvalidToken);
    assert.throws(() => service(keys, { audience: 'orders-api' }).verify(token), isInvalidToken);
  });

  it('rejects a token once the injected clock reaches exp', () => {
    const c = clock();
    const tokens = service(keys, { now: c.now });
    const issued = tokens.issue(5, 'sid-sid-sid-sid-5');
    c.state.now = issued.expiresAt - 1000;
    assert.equal(tokens.verify(issued.token).userId, 5);
    c.state.now = issued.expiresAt;
    assert.throws(() => tokens.verify(issued.token), isInvalidToken);
  });

  it('accepts a token signed by another instance with the same keys, and remembers it until exp', () => {
    const c = clock();
    const issued = service(keys, { now: c.now }).issue(6, 'sid-sid-sid-sid-6');
    const tokens = service(keys, { now: c.now });
    assert.equal(tokens.verify(issued.token).userId, 6);
    assert.equal(tokens.verify(issued.token).userId, 6);
    c.state.now = issued.expiresAt;
    assert.throws(() => tokens.verify(issued.token), isInvalidToken);
  });

  it('never lets a token it signed or verified vouch for a changed copy', () => {
    const tokens = service(keys);
    const issued = tokens.issue(7, 'sid-sid-sid-sid-7');
    assert.equal(tokens.verify(issued.token).userId, 7);
    const { header, payload } = decodeToken(issued.token);
    const [h, p, signature = ''] = issued.token.split('.');
    const flip = (text: string) => text.slice(0, 4) + (text[4] === 'A' ? 'B' : 'A') + text.slice(5);
    const changed = [
      `${h}.${p}.${flip(signature)}`,
      `${h}.${Buffer.from(JSON.stringify({ ...payload, user_id: 8, sub: '8' })).toString('base64url')}.${signature}`,
      `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${p}.`,
      `${issued.token} `,
    ];
    for (const token of changed) assert.throws(() => tokens.verify(token), isInvalidToken, token);
    assert.equal(tokens.verify(issued.token).userId, 7, 'the original still verifies');
  });

  it('forget drops a token from memory only: it still verifies in full', () => {
    const tokens = service(keys);
    const issued = tokens.issue(9, 'sid-sid-sid-sid-9');
    tokens.forget(issued.token);
    assert.equal(tokens.verify(issued.token).userId, 9);
  });

  it('rejects a token signed by another key with the same kid', () => {
    const token = service(keys).issue(1, 'sid-sid-sid-sid-1').token;
    const { header, payload } = decodeToken(token);
    const other = generateKeyPairSync('ed25519').privateKey;
    assert.throws(
      () => service(keys).verify(forge(header, payload, { alg: 'EdDSA', key: other })),
      isInvalidToken,
    );
  });

  it('rejects a token over maxTokenBytes before looking at it', () => {
    const tokens = service(keys, { maxTokenBytes: 64 });
    const token = tokens.issue(1, 'sid-sid-sid-sid-1').token;
    assert.throws(() => tokens.verify(token), isInvalidToken);
  });

  it('rejects garbage with invalid_token, never another error', () => {
    const tokens = service(keys);
    for (const garbage of ['', '.', '..', 'a.b.c', 'e30.e30.', 'bnVsbA.e30.x', 'W10.e30.x', '💥.💥.💥']) {
      assert.throws(() => tokens.verify(garbage), isInvalidToken, garbage);
    }
  });

  it('keeps the library error as the cause', () => {
    const tokens = service(keys);
    const token = tokens.issue(1, 'sid-sid-sid-sid-1').token;
    try {
      tokens.verify(`${token.slice(0, -4)}AAAA`);
      assert.fail('a bad signature verified');
    } catch (error) {
      assert.ok(isInvalidToken(error));
      assert.ok((error as Error).cause instanceof Error);
    }
  });

  it('exposes the access lifetime', () => {
    assert.equal(service(keys).accessTtlSec, TTL);
  });
});

describe('TokenService with HS256 (JWT_KEY)', () => {
  const secret = randomBytes(48).toString('base64url');
  let keys: KeySet;
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'keyward-tokens-hs-'));
    keys = loadKeySet({ hmacSecret: secret, keysDir: path.join(dir, 'keys') });
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips a token', () => {
    const tokens = service(keys);
    const issued = tokens.issue(9, 'sid-sid-sid-sid-9');
    assert.deepEqual(tokens.verify(issued.token), {
      userId: 9,
      sid: 'sid-sid-sid-sid-9',
      jti: issued.jti,
      exp: issued.expiresAt,
    });
  });

  it('signs HS256 with the secret, typ at+jwt, kid the thumbprint of the oct JWK', () => {
    const token = service(keys).issue(9, 'sid-sid-sid-sid-9').token;
    const { header, payload } = decodeToken(token);
    const k = Buffer.from(secret, 'utf8').toString('base64url');
    assert.deepEqual(header, { alg: 'HS256', typ: 'at+jwt', kid: thumbprint(`{"k":"${k}","kty":"oct"}`) });
    assert.equal(forge(header, payload, { alg: 'HS256', secret }), token);
  });

  it('rejects a token signed with another secret', () => {
    const { header, payload } = decodeToken(service(keys).issue(9, 'sid-sid-sid-sid-9').token);
    const forged = forge(header, payload, { alg: 'HS256', secret: `${secret}!` });
    assert.throws(() => service(keys).verify(forged), isInvalidToken);
  });

  it('rejects an EdDSA token carrying the HS256 kid', () => {
    const { header, payload } = decodeToken(service(keys).issue(9, 'sid-sid-sid-sid-9').token);
    const key = generateKeyPairSync('ed25519').privateKey;
    const forged = forge({ ...header, alg: 'EdDSA' }, payload, { alg: 'EdDSA', key });
    assert.throws(() => service(keys).verify(forged), isInvalidToken);
  });

  it('does not accept tokens of an EdDSA key set, nor the other way round', () => {
    const edDir = path.join(dir, 'ed');
    const edKeys = loadKeySet({ keysDir: edDir });
    assert.throws(
      () => service(keys).verify(service(edKeys).issue(1, 'sid-sid-sid-sid-1').token),
      isInvalidToken,
    );
    assert.throws(
      () => service(edKeys).verify(service(keys).issue(1, 'sid-sid-sid-sid-1').token),
      isInvalidToken,
    );
  });
});
