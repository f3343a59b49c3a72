import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/errors.js';
import { loadKeySet, type KeySet } from '../../src/services/signing-keys.js';
import {
  TokenService,
  type IssuedToken,
  type TokenServiceOptions,
} from '../../src/services/token-service.js';
import { decodeToken, forge } from '../helpers/jwt-forge.js';

const TTL = 2100;

function isInvalidToken(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'invalid_token';
}

/** A clock tests can move. */
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

function without(claims: Record<string, unknown>, name: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([key]) => key !== name));
}

/** An issued token with its signature awaited. */
async function settle(issued: IssuedToken) {
  return { ...issued, token: await issued.token };
}

/** RFC 7638 thumbprint computed here, independently of signing-keys.ts. */
function thumbprint(canonicalJson: string): string {
  return createHash('sha256').update(canonicalJson).digest('base64url');
}

describe('TokenService with EdDSA', async () => {
  let dir: string;
  let keys: KeySet;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'keyward-tokens-'));
    keys = loadKeySet({ keysDir: path.join(dir, 'keys') });
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips a token: verify returns the issued user, session, jti and expiry', async () => {
    const c = clock();
    const tokens = service(keys, { now: c.now });
    const issued = await settle(tokens.issue(42, 'session-id-0001'));
    const claims = await tokens.verify(issued.token);
    assert.deepEqual(claims, {
      userId: 42,
      sid: 'session-id-0001',
      jti: issued.jti,
      exp: issued.expiresAt,
      iat: issued.expiresAt / 1000 - TTL,
      roles: [],
    });
    assert.equal(issued.expiresAt, (Math.floor(c.state.now / 1000) + TTL) * 1000);
  });

  it('writes the header of SPEC §3: alg EdDSA, typ at+jwt, kid the RFC 7638 thumbprint', async () => {
    const { header } = decodeToken(await service(keys).issue(1, 'sid-sid-sid-sid-1').token);
    const x = String(createPublicKey(keys.signer.signingMaterial).export({ format: 'jwk' }).x);
    assert.deepEqual(header, {
      alg: 'EdDSA',
      typ: 'at+jwt',
      kid: thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`),
    });
  });

  it('writes the claims of SPEC §3 with exp = iat + ttl', async () => {
    const c = clock();
    const issued = await settle(service(keys, { now: c.now }).issue(7, 'sid-sid-sid-sid-7'));
    const { payload } = decodeToken(issued.token);
    const iat = Math.floor(c.state.now / 1000);
    assert.deepEqual(payload, {
      iss: 'keyward',
      aud: 'keyward',
      sub: '7',
      user_id: 7,
      sid: 'sid-sid-sid-sid-7',
      roles: [],
      jti: issued.jti,
      iat,
      exp: iat + TTL,
    });
  });

  it('carries the roles it is given in the roles claim, and verify returns them', async () => {
    const tokens = service(keys);
    const issued = await settle(tokens.issue(8, 'sid-sid-sid-sid-8', ['admin', 'editor']));
    assert.deepEqual(decodeToken(issued.token).payload.roles, ['admin', 'editor']);
    // A fresh service verifies fully (no cache of its own tokens).
    assert.deepEqual((await service(keys).verify(issued.token)).roles, ['admin', 'editor']);
  });

  it('gives every token a fresh jti', async () => {
    const tokens = service(keys);
    const jtis = new Set(Array.from({ length: 200 }, () => tokens.issue(1, 'sid-sid-sid-sid-1').jti));
    assert.equal(jtis.size, 200);
  });

  it('uses the configured issuer and audience and rejects tokens for others', async () => {
    const custom = service(keys, { issuer: 'https://auth.example', audience: 'orders-api' });
    const token = await custom.issue(3, 'sid-sid-sid-sid-3').token;
    assert.equal(decodeToken(token).payload.iss, 'https://auth.example');
    assert.equal(decodeToken(token).payload.aud, 'orders-api');
    assert.equal((await custom.verify(token)).userId, 3);
    await assert.rejects(async () => service(keys).verify(token), isInvalidToken);
    await assert.rejects(async () => service(keys, { audience: 'orders-api' }).verify(token), isInvalidToken);
  });

  it('rejects a token once the injected clock reaches exp', async () => {
    const c = clock();
    const tokens = service(keys, { now: c.now });
    const issued = await settle(tokens.issue(5, 'sid-sid-sid-sid-5'));
    c.state.now = issued.expiresAt - 1000;
    assert.equal((await tokens.verify(issued.token)).userId, 5);
    c.state.now = issued.expiresAt;
    await assert.rejects(async () => tokens.verify(issued.token), isInvalidToken);
  });

  it('accepts a token signed by another instance with the same keys, and remembers it until exp', async () => {
    const c = clock();
    const issued = await settle(service(keys, { now: c.now }).issue(6, 'sid-sid-sid-sid-6'));
    const tokens = service(keys, { now: c.now });
    assert.equal((await tokens.verify(issued.token)).userId, 6);
    assert.equal((await tokens.verify(issued.token)).userId, 6);
    c.state.now = issued.expiresAt;
    await assert.rejects(async () => tokens.verify(issued.token), isInvalidToken);
  });

  it('never lets a token it signed or verified vouch for a changed copy', async () => {
    const tokens = service(keys);
    const issued = await settle(tokens.issue(7, 'sid-sid-sid-sid-7'));
    assert.equal((await tokens.verify(issued.token)).userId, 7);
    const { header, payload } = decodeToken(issued.token);
    const [h, p, signature = ''] = issued.token.split('.');
    const flip = (text: string) => text.slice(0, 4) + (text[4] === 'A' ? 'B' : 'A') + text.slice(5);
    const changed = [
      `${h}.${p}.${flip(signature)}`,
      `${h}.${Buffer.from(JSON.stringify({ ...payload, user_id: 8, sub: '8' })).toString('base64url')}.${signature}`,
      `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${p}.`,
      `${issued.token} `,
    ];
    for (const token of changed)
      await assert.rejects(async () => tokens.verify(token), isInvalidToken, token);
    assert.equal((await tokens.verify(issued.token)).userId, 7, 'the original still verifies');
  });

  it('a token rotated away leaves the cache only: it still verifies in full', async () => {
    const tokens = service(keys);
    const issued = await settle(tokens.issue(9, 'sid-sid-sid-sid-9'));
    const claims = await tokens.verify(issued.token);
    assert.equal(await tokens.rotate(issued.token, claims, async () => false), undefined);
    assert.equal((await tokens.verify(issued.token)).userId, 9);
  });

  it('rotate hands the swap the next token id and resolves to that token once swapped', async () => {
    const tokens = service(keys);
    const issued = await settle(tokens.issue(9, 'sid-sid-sid-sid-9'));
    const claims = await tokens.verify(issued.token);
    let offered: { jti: string; expiresAt: number } | undefined;
    const next = await tokens.rotate(issued.token, claims, async (id) => {
      offered = id;
      return true;
    });
    assert.ok(next !== undefined && offered !== undefined);
    const nextClaims = await tokens.verify(next);
    assert.equal(nextClaims.jti, offered.jti);
    assert.equal(nextClaims.exp, offered.expiresAt);
    assert.equal(nextClaims.sid, claims.sid);
  });

  it('a store failure inside rotate or issueThrough reaches the caller', async () => {
    const tokens = service(keys);
    const issued = await settle(tokens.issue(9, 'sid-sid-sid-sid-9'));
    const claims = await tokens.verify(issued.token);
    const failure = new Error('store down');
    await assert.rejects(
      tokens.rotate(issued.token, claims, async () => {
        throw failure;
      }),
      (error: unknown) => error === failure,
    );
    await assert.rejects(
      tokens.issueThrough(9, 'sid-sid-sid-sid-9', async () => {
        throw failure;
      }),
      (error: unknown) => error === failure,
    );
    assert.equal(await tokens.issueThrough(9, 'sid-sid-sid-sid-9', async () => false), undefined);
  });

  it('rejects a token signed by another key with the same kid', async () => {
    const token = await service(keys).issue(1, 'sid-sid-sid-sid-1').token;
    const { header, payload } = decodeToken(token);
    const other = generateKeyPairSync('ed25519').privateKey;
    await assert.rejects(
      async () => service(keys).verify(forge(header, payload, { alg: 'EdDSA', key: other })),
      isInvalidToken,
    );
  });

  it('rejects a token over maxTokenBytes before looking at it', async () => {
    const tokens = service(keys, { maxTokenBytes: 64 });
    const token = await tokens.issue(1, 'sid-sid-sid-sid-1').token;
    await assert.rejects(async () => tokens.verify(token), isInvalidToken);
  });

  it('rejects garbage with invalid_token, never another error', async () => {
    const tokens = service(keys);
    for (const garbage of ['', '.', '..', 'a.b.c', 'e30.e30.', 'bnVsbA.e30.x', 'W10.e30.x', '💥.💥.💥']) {
      await assert.rejects(async () => tokens.verify(garbage), isInvalidToken, garbage);
    }
  });

  it('accepts only the canonical spelling of a signature', async () => {
    // Signed by one instance, checked by another: nothing is cached, every spelling goes through the full check.
    const token = await service(keys).issue(1, 'sid-sid-sid-sid-1').token;
    const tokens = service(keys);
    // 64 bytes are 86 base64url characters; the last one carries 4 unused bits. Setting them spells the same
    // signature differently, which a lenient decoder would accept as a second valid token string.
    const last = token.at(-1) ?? '';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) | 0b0011] ?? last;
    assert.notEqual(sibling, last);
    const respelled = token.slice(0, -1) + sibling;
    assert.deepEqual(
      Buffer.from(respelled.split('.')[2] ?? '', 'base64url'),
      Buffer.from(token.split('.')[2] ?? '', 'base64url'),
    );
    await assert.rejects(async () => tokens.verify(respelled), isInvalidToken);
    await assert.rejects(async () => tokens.verify(`${token}==`), isInvalidToken);
    assert.equal((await tokens.verify(token)).userId, 1);
  });

  it('rejects validly signed tokens whose claims are not those of a live Keyward access token', async () => {
    const c = clock();
    const tokens = service(keys, { now: c.now });
    const { header, payload } = decodeToken(await tokens.issue(4, 'sid-sid-sid-sid-4').token);
    const now = Math.floor(c.state.now / 1000);
    const variants: Record<string, Record<string, unknown>> = {
      'no iss': without(payload, 'iss'),
      'no aud': without(payload, 'aud'),
      'no jti': without(payload, 'jti'),
      'no iat': without(payload, 'iat'),
      'aud as a list': { ...payload, aud: ['keyward'] },
      'exp as a string': { ...payload, exp: String(now + 60) },
      'exp now': { ...payload, exp: now },
      'nbf in the future': { ...payload, nbf: now + 60 },
      'sub and user_id disagree': { ...payload, sub: '5' },
      'user_id not an integer': { ...payload, user_id: 4.5, sub: '4.5' },
      'empty sid': { ...payload, sid: '' },
      'roles as a string': { ...payload, roles: 'admin' },
      'roles with a number': { ...payload, roles: ['admin', 1] },
    };
    const key = keys.signer.signingMaterial as string;
    for (const [name, claims] of Object.entries(variants)) {
      await assert.rejects(
        async () => tokens.verify(forge(header, claims, { alg: 'EdDSA', key })),
        isInvalidToken,
        name,
      );
    }
    const control = forge(header, { ...payload, nbf: now - 1 }, { alg: 'EdDSA', key });
    assert.equal((await tokens.verify(control)).userId, 4, 'the same forge with valid claims verifies');
    // A token from before roles existed has none.
    const older = forge(header, without(payload, 'roles'), { alg: 'EdDSA', key });
    assert.deepEqual((await tokens.verify(older)).roles, []);
  });

  it('signs and verifies many tokens at once (the signatures run on the thread pool)', async () => {
    const signer = service(keys);
    const verifier = service(keys);
    const issued = Array.from({ length: 64 }, (_, i) => signer.issue(i + 1, `sid-sid-sid-sid-${i}`));
    const signed = await Promise.all(issued.map((t) => t.token));
    assert.equal(new Set(signed).size, 64);
    const claims = await Promise.all(signed.map((token) => verifier.verify(token)));
    assert.deepEqual(
      claims.map((c) => c.jti),
      issued.map((t) => t.jti),
    );
  });

  it('exposes the access lifetime', async () => {
    assert.equal(service(keys).accessTtlSec, TTL);
  });
});

describe('TokenService with HS256 (JWT_KEY)', async () => {
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

  it('round-trips a token', async () => {
    const tokens = service(keys);
    const issued = await settle(tokens.issue(9, 'sid-sid-sid-sid-9'));
    assert.deepEqual(await tokens.verify(issued.token), {
      userId: 9,
      sid: 'sid-sid-sid-sid-9',
      jti: issued.jti,
      exp: issued.expiresAt,
      iat: issued.expiresAt / 1000 - TTL,
      roles: [],
    });
  });

  it('signs HS256 with the secret, typ at+jwt, kid the thumbprint of the oct JWK', async () => {
    const token = await service(keys).issue(9, 'sid-sid-sid-sid-9').token;
    const { header, payload } = decodeToken(token);
    const k = Buffer.from(secret, 'utf8').toString('base64url');
    assert.deepEqual(header, { alg: 'HS256', typ: 'at+jwt', kid: thumbprint(`{"k":"${k}","kty":"oct"}`) });
    assert.equal(forge(header, payload, { alg: 'HS256', secret }), token);
  });

  it('rejects a token signed with another secret', async () => {
    const { header, payload } = decodeToken(await service(keys).issue(9, 'sid-sid-sid-sid-9').token);
    const forged = forge(header, payload, { alg: 'HS256', secret: `${secret}!` });
    await assert.rejects(async () => service(keys).verify(forged), isInvalidToken);
  });

  it('rejects an EdDSA token carrying the HS256 kid', async () => {
    const { header, payload } = decodeToken(await service(keys).issue(9, 'sid-sid-sid-sid-9').token);
    const key = generateKeyPairSync('ed25519').privateKey;
    const forged = forge({ ...header, alg: 'EdDSA' }, payload, { alg: 'EdDSA', key });
    await assert.rejects(async () => service(keys).verify(forged), isInvalidToken);
  });

  it('does not accept tokens of an EdDSA key set, nor the other way round', async () => {
    const edDir = path.join(dir, 'ed');
    const edKeys = loadKeySet({ keysDir: edDir });
    await assert.rejects(
      async () => service(keys).verify(await service(edKeys).issue(1, 'sid-sid-sid-sid-1').token),
      isInvalidToken,
    );
    await assert.rejects(
      async () => service(edKeys).verify(await service(keys).issue(1, 'sid-sid-sid-sid-1').token),
      isInvalidToken,
    );
  });
});
