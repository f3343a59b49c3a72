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

  it('counts code points after the width mapping', () => {
    policy.checkUsername('𝒜'.normalize('NFKC').repeat(4)); // "AAAA"
    policy.checkUsername('𐐀𐐁𐐂𐐃'); // 4 code points (Deseret), 8 UTF-16 units
    policy.checkUsername('𐐀'.repeat(64)); // 64 code points, 128 units
    assert.throws(() => policy.checkUsername('𐐀𐐁𐐂'), rejectedAs('invalid_username'));
    assert.equal(policy.checkUsername('ＡＢＣＤ').display, 'ABCD');
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

  it('accepts letters of any one script, digits and ASCII punctuation', () => {
    policy.checkUsername('Zoë_Omega');
    policy.checkUsername('Ωμέγα_2');
    policy.checkUsername('名前テスト');
    policy.checkUsername('Latin中文字');
    policy.checkUsername('한국어이름');
    policy.checkUsername('first.last@example');
    assert.deepEqual(policy.checkUsername('ｶﾞｷﾞｸﾞｹﾞ'), { display: 'ガギグゲ', key: 'ガギグゲ' });
  });
});

describe('PasswordPolicy.checkUsername: RFC 8265 (PRECIS UsernameCaseMapped)', () => {
  it('refuses what IdentifierClass disallows: symbols, compatibility characters, titlecase, ignorables', () => {
    for (const name of [
      '🔑🐢🌵🎻', // symbols (emoji)
      'ﬁﬁﬁﬁ', // ligatures: compatibility characters, not mapped
      'abc①', // a circled digit
      'ǅabc', // a titlecase letter
      'Ⅻabc', // a letter-like number
      'abc♥def', // a symbol
      'abc«def»', // non-ASCII punctuation
      'abc\u00adef', // soft hyphen (default ignorable)
      'abc\ufe0fdef', // a variation selector (ignorable mark)
      'abc\u0640def', // Arabic tatweel (an exception: disallowed)
      '\u1100\u1100abcd', // old Hangul Jamo (that NFC does not compose into a syllable)
      'abcd\u{E0001}', // a tag character
    ]) {
      assert.throws(() => policy.checkUsername(name), rejectedAs('invalid_username'), JSON.stringify(name));
    }
  });

  it('refuses names that mix scripts, such as Latin with Cyrillic or Greek', () => {
    for (const name of ['pаypal', 'раураl', 'Zoë_Ωmega', 'admin\u0430', '٠١٢٣abc']) {
      assert.throws(
        () => policy.checkUsername(name),
        (error: unknown) => error instanceof DomainError && /mix scripts/.test(error.message),
        JSON.stringify(name),
      );
    }
  });

  it('maps width, keeps case for display, and compares in lower case', () => {
    assert.deepEqual(policy.checkUsername('ＳＴＲＡßＥ'), { display: 'STRAßE', key: 'straße' });
    assert.deepEqual(policy.checkUsername('E\u0301cole'), { display: 'École', key: 'école' });
  });
});
