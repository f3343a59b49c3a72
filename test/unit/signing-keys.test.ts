import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyFile, jwkThumbprint, loadKeySet, readKeyDir } from '../../src/services/signing-keys.js';
import { TokenService } from '../../src/services/token-service.js';
import type { KeySet } from '../../src/services/signing-keys.js';
import { decodeToken } from '../helpers/jwt-forge.js';

function tokens(keys: KeySet): TokenService {
  return new TokenService({
    keys,
    issuer: 'keyward',
    audience: 'keyward',
    accessTtlSec: 600,
    maxTokenBytes: 8192,
  });
}

function ed25519Pem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function pemFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.pem'));
}

describe('jwkThumbprint (RFC 7638)', () => {
  const rfcKey = {
    kty: 'RSA',
    n:
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhM' +
      'stn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5' +
      'hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };

  it('matches the example of RFC 7638 §3.1', () => {
    assert.equal(jwkThumbprint(rfcKey), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('ignores member order and non-required members', () => {
    assert.equal(jwkThumbprint({ e: rfcKey.e, n: rfcKey.n, kty: 'RSA', use: 'sig' }), jwkThumbprint(rfcKey));
  });

  it('hashes an Ed25519 key over {crv, kty, x}', () => {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const expected = createHash('sha256')
      .update(`{"crv":"Ed25519","kty":"OKP","x":"${String(jwk.x)}"}`)
      .digest('base64url');
    assert.equal(jwkThumbprint({ ...jwk, kid: 'ignored' }), expected);
  });

  it('refuses an unknown key type', () => {
    assert.throws(() => jwkThumbprint({ kty: 'weird' }));
  });
});

describe('loadKeySet', () => {
  let dir: string;
  let keysDir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'keyward-keys-'));
    keysDir = path.join(dir, 'keys');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates an Ed25519 key on first start as keys/<kid>.pem with mode 0600', () => {
    const keys = loadKeySet({ keysDir });
    assert.equal(keys.signer.alg, 'EdDSA');
    const files = pemFiles(keysDir);
    assert.deepEqual(files, [`${keys.signer.kid}.pem`]);
    const file = path.join(keysDir, files[0] ?? '');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const pem = readFileSync(file, 'utf8');
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    const jwk = createPublicKey(pem).export({ format: 'jwk' });
    assert.equal(jwk.crv, 'Ed25519');
    assert.equal(jwkThumbprint(jwk), keys.signer.kid);
  });

  it('keeps the keys directory private', () => {
    loadKeySet({ keysDir });
    assert.equal(statSync(keysDir).mode & 0o077, 0);
  });

  it('reuses the generated key on the next start', async () => {
    const first = loadKeySet({ keysDir });
    const second = loadKeySet({ keysDir });
    assert.equal(second.signer.kid, first.signer.kid);
    assert.equal(pemFiles(keysDir).length, 1);
    assert.equal(
      (await tokens(second).verify(await tokens(first).issue(1, 'sid-sid-sid-sid-1').token)).userId,
      1,
    );
  });

  it('publishes the public JWK only, with kid, alg and use', () => {
    const keys = loadKeySet({ keysDir });
    const jwk = keys.signer.publicJwk ?? {};
    assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.equal(jwk.kid, keys.signer.kid);
    assert.equal(jwk.alg, 'EdDSA');
    assert.equal(jwk.use, 'sig');
  });

  it('lets every key in the directory verify while the newest signs', async () => {
    const older = generateKeyFile(keysDir);
    const newer = generateKeyFile(keysDir);
    utimesSync(path.join(keysDir, `${older.kid}.pem`), new Date('2024-01-01'), new Date('2024-01-01'));
    utimesSync(path.join(keysDir, `${newer.kid}.pem`), new Date('2025-01-01'), new Date('2025-01-01'));
    const keys = loadKeySet({ keysDir });
    assert.equal(keys.signer.kid, newer.kid);
    assert.deepEqual([...keys.byKid.keys()].sort(), [older.kid, newer.kid].sort());
    assert.equal(decodeToken(await tokens(keys).issue(1, 'sid-sid-sid-sid-1').token).header.kid, newer.kid);

    rmSync(path.join(keysDir, `${newer.kid}.pem`));
    const oldToken = await tokens(loadKeySet({ keysDir })).issue(2, 'sid-sid-sid-sid-2').token;
    assert.equal(decodeToken(oldToken).header.kid, older.kid);
    assert.equal(
      (await tokens(keys).verify(oldToken)).userId,
      2,
      'a token of the rotated-out key still verifies',
    );
  });

  it('orders the directory oldest first by modification time', () => {
    const a = generateKeyFile(keysDir);
    const b = generateKeyFile(keysDir);
    utimesSync(path.join(keysDir, `${a.kid}.pem`), new Date('2025-06-01'), new Date('2025-06-01'));
    utimesSync(path.join(keysDir, `${b.kid}.pem`), new Date('2025-01-01'), new Date('2025-01-01'));
    assert.deepEqual(
      readKeyDir(keysDir).map((k) => k.kid),
      [b.kid, a.kid],
    );
  });

  it('refuses a key file that is not an Ed25519 PKCS#8 key', () => {
    mkdirSync(keysDir, { recursive: true });
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(path.join(keysDir, 'ec.pem'), rsa.export({ type: 'pkcs8', format: 'pem' }).toString());
    assert.throws(() => loadKeySet({ keysDir }), /not supported/);
  });

  it('signs with JWT_PRIVATE_KEY and writes nothing to the directory', () => {
    const pem = ed25519Pem();
    const keys = loadKeySet({ keysDir, privateKeyPem: pem });
    assert.equal(keys.signer.kid, jwkThumbprint(createPublicKey(pem).export({ format: 'jwk' })));
    assert.equal(keys.signer.source, 'JWT_PRIVATE_KEY');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('accepts JWT_PRIVATE_KEY written on one line with \\n escapes', () => {
    const pem = ed25519Pem();
    const keys = loadKeySet({ keysDir, privateKeyPem: pem.replace(/\n/g, '\\n') });
    assert.equal(keys.signer.kid, loadKeySet({ keysDir, privateKeyPem: pem }).signer.kid);
  });

  it('signs with JWT_PRIVATE_KEY_FILE', () => {
    const file = path.join(dir, 'signing.pem');
    const pem = ed25519Pem();
    writeFileSync(file, pem, { mode: 0o600 });
    const keys = loadKeySet({ keysDir, privateKeyFile: file });
    assert.equal(keys.signer.kid, loadKeySet({ keysDir, privateKeyPem: pem }).signer.kid);
    assert.equal(keys.signer.source, file);
  });

  it('keeps the directory keys verifying when a supplied key signs', () => {
    const old = generateKeyFile(keysDir);
    const keys = loadKeySet({ keysDir, privateKeyPem: ed25519Pem() });
    assert.notEqual(keys.signer.kid, old.kid);
    assert.ok(keys.byKid.has(old.kid));
    assert.ok(keys.byKid.has(keys.signer.kid));
  });

  it('refuses a malformed JWT_PRIVATE_KEY without echoing it', () => {
    const garbage = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----\n';
    assert.throws(
      () => loadKeySet({ keysDir, privateKeyPem: garbage }),
      (error: unknown) => error instanceof Error && !error.message.includes('c2VjcmV0LXN0dWZm'),
    );
  });

  it('uses HS256 with JWT_KEY, publishing no public key and generating no file', () => {
    const keys = loadKeySet({ keysDir, hmacSecret: 'Jq8v3nZ2pL7xWc4tRb9yHs6kMf1dGa5e' });
    assert.equal(keys.signer.alg, 'HS256');
    assert.equal(keys.signer.publicJwk, undefined);
    assert.equal(keys.byKid.size, 1);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('derives a 32-byte refresh secret that survives a restart', () => {
    const first = loadKeySet({ keysDir });
    const second = loadKeySet({ keysDir });
    assert.equal(first.refreshSecret.length, 32);
    assert.ok(first.refreshSecret.equals(second.refreshSecret));
    const secretFile = path.join(keysDir, 'refresh-token.secret');
    assert.equal(statSync(secretFile).mode & 0o777, 0o600);
    const elsewhere = loadKeySet({ keysDir: path.join(dir, 'other') });
    assert.ok(!first.refreshSecret.equals(elsewhere.refreshSecret));
  });

  it('derives the refresh secret from REFRESH_TOKEN_SECRET or the supplied key, identically on every instance', () => {
    const secret = 'Jq8v3nZ2pL7xWc4tRb9yHs6kMf1dGa5e';
    const a = loadKeySet({ keysDir, refreshSecret: secret });
    const b = loadKeySet({ keysDir: path.join(dir, 'b'), refreshSecret: secret });
    assert.ok(a.refreshSecret.equals(b.refreshSecret));
    assert.ok(!a.refreshSecret.equals(Buffer.from(secret)), 'the configured secret is not used raw');
    const pem = ed25519Pem();
    const c = loadKeySet({ keysDir: path.join(dir, 'c'), privateKeyPem: pem });
    const d = loadKeySet({ keysDir: path.join(dir, 'd'), privateKeyPem: pem });
    assert.ok(c.refreshSecret.equals(d.refreshSecret));
    assert.ok(!c.refreshSecret.equals(loadKeySet({ keysDir, privateKeyPem: ed25519Pem() }).refreshSecret));
  });
});
