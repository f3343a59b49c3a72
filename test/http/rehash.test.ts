import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { legacyHashFromSeedBlob } from '../../src/services/password-hasher.js';
import { assertOk, login, type Reply } from './http-helpers.js';

// Algorithm is an ambient const enum, which isolated modules cannot read.
const ARGON2I = 1 as unknown as Algorithm;
const ARGON2ID = 2 as unknown as Algorithm;
const CURRENT_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
const INVALID_CREDENTIALS = '{"error":"Invalid credentials","code":"invalid_credentials"}';

let t: TestApp;
before(async () => {
  // The SPEC's default parameters, spelled out so that the test does not depend on the test helper's.
  t = await makeApp({ ARGON2_MEMORY_KIB: '19456', ARGON2_ITERATIONS: '2', ARGON2_PARALLELISM: '1' });
});
after(async () => {
  await t.close();
});

async function storedHash(userId: number): Promise<string> {
  const user = await t.deps.users.findWithHashById(userId);
  assert.ok(user, `user ${userId} not found`);
  return user.passwordHash;
}

/** Replaces the user's hash behind the server's back, as an older release or `import-seed-db` would have left it. */
async function setHash(userId: number, next: string): Promise<void> {
  assert.equal(await t.deps.users.replaceHash(userId, await storedHash(userId), next), true);
}

function argon2(password: string, memoryCost: number, timeCost: number, algorithm = ARGON2ID) {
  return argon2Hash(password, { algorithm, memoryCost, timeCost, parallelism: 1 });
}

/** A hash in the Flask demo's format: 32-byte salt + PBKDF2-HMAC-SHA256(password, salt, 100000), as imported. */
function legacyHash(password: string): string {
  const salt = randomBytes(32);
  return legacyHashFromSeedBlob(Buffer.concat([salt, pbkdf2Sync(password, salt, 100_000, 32, 'sha256')]));
}

function assertInvalidCredentials(res: Reply): void {
  assert.equal(res.statusCode, 401);
  assert.equal(res.body, INVALID_CREDENTIALS);
}

describe('rehash on login', () => {
  it('a hash with weaker argon2 parameters is replaced by one with the current parameters', async () => {
    const s = await signUpAndLogin(t.app);
    assert.ok((await storedHash(s.userId)).startsWith(CURRENT_PREFIX));
    await setHash(s.userId, await argon2(PASSWORD, 8192, 1));
    assert.match(await storedHash(s.userId), /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);

    assertOk(await login(t.app, s.username, PASSWORD));
    const upgraded = await storedHash(s.userId);
    assert.ok(upgraded.startsWith(CURRENT_PREFIX), upgraded);
    assert.equal(await argon2Verify(upgraded, PASSWORD), true);

    assertOk(await login(t.app, s.username, PASSWORD));
    assert.equal(await storedHash(s.userId), upgraded, 'a current hash is not rehashed again');
  });

  it('one weaker parameter is enough (more memory but fewer iterations)', async () => {
    const s = await signUpAndLogin(t.app);
    await setHash(s.userId, await argon2(PASSWORD, 32768, 1));
    assertOk(await login(t.app, s.username, PASSWORD));
    assert.ok((await storedHash(s.userId)).startsWith(CURRENT_PREFIX));
  });

  it('an argon2i hash is replaced by argon2id', async () => {
    const s = await signUpAndLogin(t.app);
    await setHash(s.userId, await argon2(PASSWORD, 19456, 2, ARGON2I));
    assert.ok((await storedHash(s.userId)).startsWith('$argon2i$'));
    assertOk(await login(t.app, s.username, PASSWORD));
    assert.ok((await storedHash(s.userId)).startsWith(CURRENT_PREFIX));
  });

  it('a hash stronger than the policy is kept', async () => {
    const s = await signUpAndLogin(t.app);
    const stronger = await argon2(PASSWORD, 32768, 3);
    await setHash(s.userId, stronger);
    assertOk(await login(t.app, s.username, PASSWORD));
    assert.equal(await storedHash(s.userId), stronger);
  });

  it('a wrong password leaves a weak hash alone', async () => {
    const s = await signUpAndLogin(t.app);
    const weak = await argon2(PASSWORD, 8192, 1);
    await setHash(s.userId, weak);
    assertInvalidCredentials(await login(t.app, s.username, 'not the right passphrase'));
    assert.equal(await storedHash(s.userId), weak);
  });
});

describe('legacy PBKDF2 hashes (the Flask demo’s format)', () => {
  it('log in with the right password and are upgraded to argon2id', async () => {
    const s = await signUpAndLogin(t.app);
    const legacy = legacyHash(PASSWORD);
    assert.match(legacy, /^pbkdf2_sha256\$100000\$/);
    await setHash(s.userId, legacy);

    const res = await login(t.app, s.username, PASSWORD);
    assertOk(res);
    assert.equal(typeof res.json<{ token: string }>().token, 'string');
    const upgraded = await storedHash(s.userId);
    assert.ok(upgraded.startsWith(CURRENT_PREFIX), upgraded);
    assert.equal(await argon2Verify(upgraded, PASSWORD), true);
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('a wrong password gets the same 401 body as an unknown user and does not upgrade', async () => {
    const s = await signUpAndLogin(t.app);
    const legacy = legacyHash(PASSWORD);
    await setHash(s.userId, legacy);

    const wrong = await login(t.app, s.username, 'not the right passphrase');
    const unknown = await login(t.app, uniqueName('nobody'), PASSWORD);
    assertInvalidCredentials(wrong);
    assertInvalidCredentials(unknown);
    assert.equal(wrong.body, unknown.body);
    assert.equal(wrong.headers['content-type'], unknown.headers['content-type']);
    assert.equal(await storedHash(s.userId), legacy);

    assertOk(await login(t.app, s.username, PASSWORD));
    assert.ok((await storedHash(s.userId)).startsWith(CURRENT_PREFIX));
  });

  it('a non-ASCII password verifies against its UTF-8 bytes, as Python’s encode() produced them', async () => {
    const password = 'Grüße, ñandú — 密码 🔑';
    const s = await signUpAndLogin(t.app, uniqueName('utf'), password);
    const salt = randomBytes(32);
    const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, 100_000, 32, 'sha256');
    await setHash(s.userId, legacyHashFromSeedBlob(Buffer.concat([salt, key])));
    assertOk(await login(t.app, s.username, password));
    assert.ok((await storedHash(s.userId)).startsWith(CURRENT_PREFIX));
  });

  it('serves as current_password for a password change', async () => {
    const s = await signUpAndLogin(t.app);
    await setHash(s.userId, legacyHash(PASSWORD));
    const next = 'a brand new passphrase';
    const res = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(s.token),
      payload: { password: next, current_password: PASSWORD },
    });
    assertOk(res);
    assert.ok((await storedHash(s.userId)).startsWith(CURRENT_PREFIX));
    assertInvalidCredentials(await login(t.app, s.username, PASSWORD));
    assertOk(await login(t.app, s.username, next));
  });
});

describe('default argon2id parameters', () => {
  it('with no ARGON2_* variables set, a signup stores a PHC string with m=19456, t=2, p=1', async () => {
    const defaults = await makeApp({}, {}, { fastHash: false });
    try {
      const created = await defaults.app.inject({
        method: 'POST',
        url: '/user',
        payload: { username: uniqueName('argon'), password: PASSWORD },
      });
      assertOk(created, 201);
      const user = await defaults.deps.users.findWithHashById(
        created.json<{ user: { id: number } }>().user.id,
      );
      assert.ok(user, 'the new user is not in the repository');
      assert.ok(user.passwordHash.startsWith(CURRENT_PREFIX), user.passwordHash);
      assert.equal(await argon2Verify(user.passwordHash, PASSWORD), true);
    } finally {
      await defaults.close();
    }
  });
});
