import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { DomainError } from '../../src/errors.js';
import {
  legacyHashFromSeedBlob,
  PasswordHasher,
  type Argon2Params,
} from '../../src/services/password-hasher.js';
import { watchThreads } from '../helpers/hash-threads.js';

const DEFAULTS = loadConfig({}).passwords.argon2;
const CHEAP: Argon2Params = { memoryCost: 8192, timeCost: 1, parallelism: 1 };
const PASSWORD = 'correct horse battery staple';

const opened: PasswordHasher[] = [];
after(async () => {
  await Promise.all(opened.map((h) => h.close()));
});

function hasher(argon2: Argon2Params = CHEAP, concurrency = 2, queueLimit = 16): PasswordHasher {
  const created = new PasswordHasher({ argon2, concurrency, queueLimit });
  opened.push(created);
  return created;
}

/** A password BLOB exactly as the Flask demo stores it: 32-byte random salt + PBKDF2-HMAC-SHA256 (100,000, 32 bytes). */
function seedBlob(password: string): Buffer {
  const salt = randomBytes(32);
  return Buffer.concat([salt, pbkdf2Sync(password, salt, 100_000, 32, 'sha256')]);
}

describe('PasswordHasher with the default (OWASP) parameters', () => {
  let phc: string;
  const defaults = hasher(DEFAULTS);

  before(async () => {
    phc = await defaults.hash(PASSWORD);
  });

  it('stores an argon2id PHC string with m=19456, t=2, p=1', () => {
    assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  });

  it('salts every hash', async () => {
    assert.notEqual(await defaults.hash(PASSWORD), phc);
  });

  it('verifies the right password without asking for a rehash', async () => {
    assert.deepEqual(await defaults.verify(phc, PASSWORD), { ok: true, needsRehash: false });
  });

  it('refuses a wrong password', async () => {
    assert.equal((await defaults.verify(phc, `${PASSWORD}!`)).ok, false);
    assert.equal((await defaults.verify(phc, '')).ok, false);
  });
});

describe('PasswordHasher', () => {
  it('asks to rehash a hash made with weaker parameters', async () => {
    const weak = await hasher(CHEAP).hash(PASSWORD);
    const strong = hasher({ memoryCost: 9216, timeCost: 2, parallelism: 1 });
    assert.deepEqual(await strong.verify(weak, PASSWORD), { ok: true, needsRehash: true });
    assert.equal(strong.isWeak(weak), true);
    assert.equal(strong.isWeak(await strong.hash(PASSWORD)), false);
  });

  it('does not ask to rehash after a failed verification', async () => {
    const weak = await hasher(CHEAP).hash(PASSWORD);
    const strong = hasher({ memoryCost: 9216, timeCost: 1, parallelism: 1 });
    assert.deepEqual(await strong.verify(weak, 'wrong password'), { ok: false, needsRehash: false });
  });

  it('treats each lower parameter as weak', () => {
    const policy = hasher({ memoryCost: 19456, timeCost: 2, parallelism: 2 });
    const salt = 'c2FsdHNhbHRzYWx0c2FsdA';
    const phc = (m: number, t: number, p: number) => `$argon2id$v=19$m=${m},t=${t},p=${p}$${salt}$aGFzaA`;
    assert.equal(policy.isWeak(phc(19456, 2, 2)), false);
    assert.equal(policy.isWeak(phc(65536, 3, 2)), false);
    assert.equal(policy.isWeak(phc(19455, 2, 2)), true);
    assert.equal(policy.isWeak(phc(19456, 1, 2)), true);
    assert.equal(policy.isWeak(phc(19456, 2, 1)), true);
    assert.equal(policy.isWeak(`$argon2i$v=19$m=19456,t=2,p=2$${salt}$aGFzaA`), true);
  });

  it('verifies a Flask demo PBKDF2 hash and asks to upgrade it', async () => {
    const legacy = legacyHashFromSeedBlob(seedBlob(PASSWORD));
    assert.match(legacy, /^pbkdf2_sha256\$100000\$/);
    assert.deepEqual(await hasher().verify(legacy, PASSWORD), { ok: true, needsRehash: true });
    assert.equal((await hasher().verify(legacy, 'wrong password')).ok, false);
  });

  it('refuses a legacy blob that is not 32 + 32 bytes', () => {
    assert.throws(() => legacyHashFromSeedBlob(randomBytes(63)));
    assert.throws(() => legacyHashFromSeedBlob(randomBytes(65)));
  });

  it('answers false for corrupt stored hashes instead of throwing', async () => {
    const h = hasher();
    for (const stored of [
      '',
      'plaintext',
      '$argon2id$v=19$m=8192,t=1,p=1$broken',
      'pbkdf2_sha256$x$y$z',
      'pbkdf2_sha256$0$$',
    ]) {
      assert.equal((await h.verify(stored, PASSWORD)).ok, false, stored);
    }
  });

  it('verifyDummy always answers false', async () => {
    const h = hasher();
    await h.warmUp();
    assert.equal(await h.verifyDummy(PASSWORD), false);
    assert.equal(await h.verifyDummy(''), false);
    assert.equal(await h.verifyDummy('warm-up'), false);
  });

  it('answers server_busy with retryAfter once the queue is full', async () => {
    const h = hasher(CHEAP, 1, 1);
    const first = h.hash('first password');
    const second = h.hash('second password');
    assert.equal(h.queueDepth, 1);
    await assert.rejects(h.hash('third password'), (error: unknown) => {
      assert.ok(error instanceof DomainError);
      assert.equal(error.code, 'server_busy');
      assert.equal(typeof error.retryAfter, 'number');
      assert.ok((error.retryAfter ?? 0) >= 1);
      return true;
    });
    const results = await Promise.all([first, second]);
    assert.ok(results.every((r) => r.startsWith('$argon2id$')));
    assert.equal(h.queueDepth, 0);
    assert.match(await h.hash('after the burst'), /^\$argon2id\$/);
  });

  it('queues verifications too, and refuses them when full', async () => {
    const h = hasher(CHEAP, 1, 0);
    const stored = await h.hash(PASSWORD);
    const running = h.verify(stored, PASSWORD);
    await assert.rejects(h.verify(stored, PASSWORD), (error: unknown) => {
      return error instanceof DomainError && error.code === 'server_busy';
    });
    assert.equal((await running).ok, true);
  });

  it('runs queued work in turn with concurrency 1', async () => {
    const h = hasher(CHEAP, 1, 8);
    const hashes = await Promise.all(Array.from({ length: 5 }, (_, i) => h.hash(`password number ${i}`)));
    assert.equal(new Set(hashes).size, 5);
    assert.equal(h.queueDepth, 0);
  });

  it('reports the duration of each operation', async () => {
    const seen: string[] = [];
    const h = new PasswordHasher({
      argon2: CHEAP,
      concurrency: 1,
      queueLimit: 4,
      onDuration: (seconds, operation) => {
        assert.ok(seconds >= 0);
        seen.push(operation);
      },
    });
    opened.push(h);
    await h.verify(await h.hash(PASSWORD), PASSWORD);
    assert.deepEqual(seen, ['hash', 'verify']);
  });

  it('fails a hash whose thread dies with an Error, then keeps serving', async () => {
    const threads = watchThreads();
    const h = new PasswordHasher({
      argon2: CHEAP,
      concurrency: 1,
      queueLimit: 4,
      onThreadStart: threads.onThreadStart,
    });
    opened.push(h);
    const stored = await h.hash(PASSWORD);
    const running = h.verify(stored, PASSWORD);
    await threads.crash();
    await assert.rejects(
      running,
      (error: unknown) => error instanceof Error && !(error instanceof DomainError),
    );
    assert.equal(h.queueDepth, 0);
    assert.deepEqual(await h.verify(stored, PASSWORD), { ok: true, needsRehash: false });
  });

  it('makes a new dummy hash when the thread making the first one died', async () => {
    const threads = watchThreads();
    const h = new PasswordHasher({
      argon2: CHEAP,
      concurrency: 1,
      queueLimit: 4,
      onThreadStart: threads.onThreadStart,
    });
    opened.push(h);
    const first = h.verifyDummy(PASSWORD);
    await threads.crash();
    await assert.rejects(first);
    assert.equal(await h.verifyDummy(PASSWORD), false);
  });
});
