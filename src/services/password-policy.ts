import { usernameKey } from '../domain/username.js';
import { DomainError } from '../errors.js';
import { type CommonPasswords, loadCommonPasswords } from './common-passwords.js';

export interface PasswordPolicyOptions {
  minLength: number;
  maxLength: number;
}

const USERNAME_MIN = 4;
const USERNAME_MAX = 64;
// Control, format, separator characters and any whitespace: invisible or ambiguous in a username.
const FORBIDDEN_IN_USERNAME = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Z}\s]/u;

/** NFKC form, as stored and returned. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC');
}

function length(text: string): number {
  // Code points, not UTF-16 units: a password of emoji is as long as it looks.
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

/**
 * NIST SP 800-63B rules: a length range, not in the bundled common-password list, not equal to or containing
 * the username; no composition rules. Usernames: 4–64 characters after NFKC, no control characters or spaces.
 */
export class PasswordPolicy {
  private readonly common: CommonPasswords;

  constructor(private readonly options: PasswordPolicyOptions) {
    // Shorter ones are refused by their length anyway.
    this.common = loadCommonPasswords((p) => length(p) >= options.minLength);
  }

  /** Checks a username and returns its display form and lookup key. */
  checkUsername(raw: string): { display: string; key: string } {
    const display = normalizeUsername(raw);
    const n = length(display);
    if (n < USERNAME_MIN || n > USERNAME_MAX) {
      throw new DomainError('invalid_username', {
        message: `username must be ${USERNAME_MIN}-${USERNAME_MAX} characters long`,
      });
    }
    if (FORBIDDEN_IN_USERNAME.test(display)) {
      throw new DomainError('invalid_username', {
        message: 'username must not contain spaces or control characters',
      });
    }
    return { display, key: usernameKey(display) };
  }

  /** Checks the rules that do not depend on the account (length, common list). */
  checkPassword(password: string): void {
    const n = length(password);
    if (n < this.options.minLength || n > this.options.maxLength) {
      throw new DomainError('weak_password', {
        message: `password must be ${this.options.minLength}-${this.options.maxLength} characters long`,
      });
    }
    if (this.common.has(password)) {
      throw new DomainError('weak_password', { message: 'password is too common; choose another' });
    }
  }

  /** Checks that the password neither equals nor contains the username (case-insensitively, NFKC). */
  checkPasswordAgainstUsername(password: string, username: string): void {
    if (usernameKey(password).includes(usernameKey(username))) {
      throw new DomainError('weak_password', { message: 'password must not contain the username' });
    }
  }
}
