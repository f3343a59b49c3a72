import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dictionary } from '@zxcvbn-ts/language-common';
import { DomainError } from '../../src/errors.js';
import { usernameKey } from '../../src/domain/username.js';
import { normalizeUsername, PasswordPolicy } from '../../src/services/password-policy.js';

const policy = new PasswordPolicy({ minLength: 8, maxLength: 1024 });

function rejectedAs(code: 'weak_password' | 'invalid_username') {
  return (error: unknown) => error instanceof DomainError && error.code === code;
}

describe('PasswordPolicy.checkPassword', () => {
  it('accepts 8 characters and refuses 7', () => {
    policy.checkPassword('kq3v-Zp8');
    assert.throws(() => {
      policy.checkPassword('kq3v-Zp');
    }, rejectedAs('weak_password'));
  });

  it('accepts 1024 characters and refuses 1025', () => {
    const long = 'kq3v-Zp8'.repeat(128);
    policy.checkPassword(long);
    assert.throws(() => {
      policy.checkPassword(`${long}x`);
    }, rejectedAs('weak_password'));
  });

  it('counts code points, not UTF-16 units', () => {
    policy.checkPassword('🔑🐢🌵🎻🧲🪁🛶🧊'); // 8 code points, 16 units
    assert.throws(() => {
      policy.checkPassword('🔑🐢🌵🎻🧲🪁🛶');
    }, rejectedAs('weak_password')); // 7 code points, 14 units
    policy.checkPassword('🔑🐢🌵🎻'.repeat(256)); // 1024 code points, 2048 units
    assert.throws(() => {
      policy.checkPassword(`${'🔑🐢🌵🎻'.repeat(256)}🔑`);
    }, rejectedAs('weak_password'));
  });

  it('refuses passwords from the bundled common list, case-insensitively', () => {
    for (const common of [
      'password',
      '12345678',
      'iloveyou',
      'sunshine',
      'PassWord',
      'ILOVEYOU',
      'trustno1',
    ]) {
      assert.throws(
        () => {
          policy.checkPassword(common);
        },
        rejectedAs('weak_password'),
        common,
      );
    }
  });

  it('uses the @zxcvbn-ts common-password list', () => {
    const list = dictionary['passwords-common'].filter(
      (p) => Array.from(p).length >= 8 && p === p.toLowerCase(),
    );
    assert.ok(list.length > 1000);
    for (const common of [list[0], list[100], list[1000], list[list.length - 1]]) {
      assert.throws(
        () => {
          policy.checkPassword(common ?? '');
        },
        rejectedAs('weak_password'),
        common,
      );
    }
  });

  it('has no composition rules: a long lower-case passphrase is fine', () => {
    policy.checkPassword('correct horse battery staple');
    policy.checkPassword('zzzzqqqqwwww');
  });

  it('honours a configured minimum length', () => {
    const strict = new PasswordPolicy({ minLength: 12, maxLength: 1024 });
    assert.throws(() => {
      strict.checkPassword('kq3v-Zp8Lm2');
    }, rejectedAs('weak_password'));
    strict.checkPassword('kq3v-Zp8Lm2x');
  });

  it('says what is wrong in the message', () => {
    assert.throws(() => {
      policy.checkPassword('short');
    }, /8-1024 characters/);
    assert.throws(() => {
      policy.checkPassword('password');
    }, /common/);
  });
});

describe('PasswordPolicy.checkPasswordAgainstUsername', () => {
  it('refuses the username itself', () => {
    assert.throws(() => {
      policy.checkPasswordAgainstUsername('alice-liddell', 'alice-liddell');
    }, rejectedAs('weak_password'));
  });

  it('refuses a password containing the username, case-insensitively', () => {
    assert.throws(() => {
      policy.checkPasswordAgainstUsername('my name is ALICE!', 'alice');
    }, rejectedAs('weak_password'));
    assert.throws(() => {
      policy.checkPasswordAgainstUsername('xxalicexx', 'Alice');
    }, rejectedAs('weak_password'));
  });

  it('compares in NFKC form', () => {
    // Full-width letters and the "ﬁ" ligature normalise to ASCII.
    assert.throws(() => {
      policy.checkPasswordAgainstUsername('ｍｙ ａｌｉｃｅ pass', 'alice');
    }, rejectedAs('weak_password'));
    assert.throws(() => {
      policy.checkPasswordAgainstUsername('secret ﬁona 2024', 'fiona');
    }, rejectedAs('weak_password'));
    assert.throws(() => {
      policy.checkPasswordAgainstUsername('secret fiona 2024', 'ﬁona');
    }, rejectedAs('weak_password'));
  });

  it('accepts a password unrelated to the username', () => {
    policy.checkPasswordAgainstUsername('correct horse battery staple', 'alice');
    policy.checkPasswordAgainstUsername('alic e is split', 'alice');
  });
});

describe('PasswordPolicy.checkUsername', () => {
  it('accepts 4 to 64 characters', () => {
    assert.deepEqual(policy.checkUsername('abcd'), { display: 'abcd', key: 'abcd' });
    policy.checkUsername('a'.repeat(64));
    assert.throws(() => policy.checkUsername('abc'), rejectedAs('invalid_username'));
    assert.throws(() => policy.checkUsername('a'.repeat(65)), rejectedAs('invalid_username'));
  });

  it('counts code points after NFKC', () => {
    policy.checkUsername('🔑🐢🌵🎻'); // 4 code points
    policy.checkUsername('🔑🐢🌵🎻'.repeat(16)); // 64 code points, 128 units
    assert.throws(() => policy.checkUsername('🔑🐢🌵'), rejectedAs('invalid_username'));
    // "ﬀ" is one code point that NFKC turns into "ff": two ligatures make four characters.
    assert.equal(policy.checkUsername('ﬀﬀ').display, 'ffff');
  });

  it('stores the NFKC form and compares case-insensitively', () => {
    assert.deepEqual(policy.checkUsername('ＡｌｉｃｅＸ'), { display: 'AliceX', key: 'alicex' });
    assert.equal(policy.checkUsername('ALICE').key, policy.checkUsername('alice').key);
    assert.equal(normalizeUsername('ｂｏｂｂｙ'), 'bobby');
    assert.equal(usernameKey('ＢＯＢＢＹ'), usernameKey('bobby'));
  });

  it('refuses whitespace, control and invisible characters', () => {
    for (const name of [
      'al ice',
      'al\tice',
      'al\nice',
      'al\u0000ice',
      'al\u200bice',
      'al\u00a0ice',
      'al\u2028ice',
      'alice\u202e',
    ]) {
      assert.throws(() => policy.checkUsername(name), rejectedAs('invalid_username'), JSON.stringify(name));
    }
  });

  it('accepts letters of any script and punctuation', () => {
    policy.checkUsername('Zoë_Ωmega');
    policy.checkUsername('名前テスト');
    policy.checkUsername('first.last@example');
  });
});
