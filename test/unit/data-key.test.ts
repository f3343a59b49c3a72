import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { dataKeyId, DataKeyRing, generateDataKeyFile, loadDataKeyRing } from '../../src/services/data-key.js';

function key(): Buffer {
  return randomBytes(32);
}

function ring(...keys: Buffer[]): DataKeyRing {
  return loadDataKeyRing({ configured: keys, keysDir: '/nonexistent' });
}

describe('data keys (AES-256-GCM for secrets at rest)', () => {
  it('encrypts to a ciphertext naming its key, which decrypts in the same context only', () => {
    const k = key();
    const r = ring(k);
    const sealed = r.encrypt('JBSWY3DPEHPK3PXP', 'totp:1');
    assert.match(sealed, /^kwd1\.[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(r.keyIdOf(sealed), dataKeyId(k));
    assert.ok(!sealed.includes('JBSWY3DPEHPK3PXP'));
    assert.notEqual(r.encrypt('JBSWY3DPEHPK3PXP', 'totp:1'), sealed, 'a fresh IV each time');
    assert.equal(r.decrypt(sealed, 'totp:1'), 'JBSWY3DPEHPK3PXP');
    assert.throws(() => r.decrypt(sealed, 'totp:2'), 'bound to its context (the user)');
  });

  it('a tampered ciphertext does not decrypt', () => {
    const r = ring(key());
    const sealed = r.encrypt('secret', 'c');
    const parts = sealed.split('.');
    const data = Buffer.from(parts[3] ?? '', 'base64url');
    data[0] = (data[0] ?? 0) ^ 1;
    assert.throws(() => r.decrypt([parts[0], parts[1], parts[2], data.toString('base64url')].join('.'), 'c'));
    assert.throws(() => r.decrypt('not-a-ciphertext', 'c'));
  });

  it('rotation: the first configured key encrypts, the older ones still decrypt what they encrypted', () => {
    const old = key();
    const next = key();
    const before = ring(old).encrypt('s', 'c');
    const rotated = ring(next, old);
    assert.equal(rotated.current?.id, dataKeyId(next));
    assert.equal(rotated.decrypt(before, 'c'), 's');
    assert.equal(rotated.keyIdOf(rotated.encrypt('s', 'c')), dataKeyId(next));
    assert.throws(() => ring(next).decrypt(before, 'c'), /not loaded/);
  });

  it('without DATA_ENCRYPTION_KEY a key file is generated (0600) and shared; a newer file is found later', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyward-datakey-'));
    try {
      const first = loadDataKeyRing({ keysDir: dir });
      const id = first.current?.id ?? '';
      assert.equal(statSync(path.join(dir, `data-${id}.key`)).mode & 0o777, 0o600);
      assert.equal(loadDataKeyRing({ keysDir: dir }).current?.id, id, 'a second instance loads the same key');
      const added = generateDataKeyFile(dir);
      const sealed = new DataKeyRing([added]).encrypt('s', 'c');
      assert.equal(
        first.decrypt(sealed, 'c'),
        's',
        'the running ring reads the new file on an unknown key id',
      );
      assert.equal(loadDataKeyRing({ keysDir: path.join(dir, 'none'), generate: false }).current, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('DATA_ENCRYPTION_KEY must be base64 32-byte keys', () => {
    const good = key().toString('base64');
    assert.equal(
      loadConfig({ DATA_ENCRYPTION_KEY: `${good}, ${key().toString('base64')}` }).mfa.dataKeys?.length,
      2,
    );
    for (const bad of ['short', randomBytes(16).toString('base64'), 'not base64 !!']) {
      assert.throws(
        () => loadConfig({ DATA_ENCRYPTION_KEY: bad }),
        (error: unknown) =>
          error instanceof ConfigError &&
          /DATA_ENCRYPTION_KEY/.test(error.message) &&
          !error.message.includes(bad),
      );
    }
  });
});
