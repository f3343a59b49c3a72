import { createHash, createHmac, randomBytes } from 'node:crypto';
import { generateSecret, generateURI, verifySync } from 'otplib';
import { DomainError } from '../errors.js';
import type { RecoveryCodeHash, UserRepository } from '../repositories/user-repository.js';
import type { MfaAttempt, MfaOutcome, TokenStore } from '../stores/token-store.js';
import type { DataKeyRing } from './data-key.js';

/** RFC 6238 as every authenticator app reads it from the otpauth URL: SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_SEC = 30;
const TOTP_DIGITS = 6;
/** ±1 step of clock drift, in seconds either side of now. */
const TOTP_TOLERANCE_SEC = TOTP_PERIOD_SEC;
/** 160-bit secrets, RFC 4226's recommended length. */
const SECRET_BYTES = 20;

export const RECOVERY_CODE_COUNT = 10;
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 16 characters of a 32-letter alphabet: 80 bits each. */
const RECOVERY_CODE_LENGTH = 16;

/** How long the second step of a login may take (SPEC §10). */
export const MFA_TOKEN_TTL_SEC = 300;
/** Wrong codes an mfa_token survives (SPEC §10). */
export const MFA_MAX_ATTEMPTS = 5;

export interface MfaServiceOptions {
  keys: DataKeyRing;
  store: TokenStore;
  issuer: string;
  now?: () => number;
}

/** An mfa_token taken apart: whose it is, and the hash under which the store keeps it. */
export interface MfaTokenRef {
  userId: number;
  tokenHash: string;
}

/** A recovery code as the user types it: case, dashes and spaces do not matter. */
export function normalizeRecoveryCode(code: string): string | undefined {
  const normalized = code.toLowerCase().replace(/[\s-]/g, '');
  if (normalized.length !== RECOVERY_CODE_LENGTH) return undefined;
  for (const char of normalized) if (!RECOVERY_ALPHABET.includes(char)) return undefined;
  return normalized;
}

function newRecoveryCode(): string {
  // 10 random bytes are 80 bits: 16 letters of 5 bits each, without modulo bias.
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += RECOVERY_ALPHABET.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)?.join('-') ?? out;
}

/**
 * The second factor's rules (SPEC §10): TOTP secrets (generated, encrypted for storage, checked with ±1 step
 * through otplib) and recovery codes (80 random bits each, stored as an HMAC-SHA-256 under a key derived from
 * the data key: a fast keyed hash suffices for codes this random, see docs/security.md).
 */
export class MfaService {
  private readonly keys: DataKeyRing;
  private readonly store: TokenStore;
  private readonly issuer: string;
  private readonly now: () => number;

  constructor(options: MfaServiceOptions) {
    this.keys = options.keys;
    this.store = options.store;
    this.issuer = options.issuer;
    this.now = options.now ?? Date.now;
  }

  /** A new random TOTP secret, base32 (what authenticator apps take). */
  newSecret(): string {
    return generateSecret({ length: SECRET_BYTES });
  }

  /** The Key Uri Format URL an authenticator app scans (issuer and account as label and parameter). */
  otpauthUrl(secret: string, accountName: string): string {
    return generateURI({
      issuer: this.issuer,
      label: accountName,
      secret,
      algorithm: 'sha1',
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD_SEC,
    });
  }

  encryptSecret(userId: number, secret: string): string {
    return this.keys.encrypt(secret, `totp:${userId}`);
  }

  /**
   * A secret that cannot be decrypted (its data key not loaded: DATA_ENCRYPTION_KEY or DATA_DIR/keys changed) is
   * the operator's to fix, like a store outage: 503, and a log line naming the key, never a 500.
   */
  decryptSecret(userId: number, encrypted: string): string {
    try {
      return this.keys.decrypt(encrypted, `totp:${userId}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const cause = new Error(`the TOTP secret of user ${userId} cannot be decrypted: ${message}`, {
        cause: error,
      });
      throw new DomainError('store_unavailable', { cause, retryAfter: 1 });
    }
  }

  /** The time step whose code `code` is (now, or one step either side), or undefined for a wrong code. */
  matchStep(secret: string, code: string): number | undefined {
    const digits = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(digits)) return undefined;
    try {
      const result = verifySync({
        secret,
        token: digits,
        algorithm: 'sha1',
        digits: TOTP_DIGITS,
        period: TOTP_PERIOD_SEC,
        epoch: Math.floor(this.now() / 1000),
        epochTolerance: TOTP_TOLERANCE_SEC,
      });
      return result.valid && 'timeStep' in result ? result.timeStep : undefined;
    } catch {
      return undefined;
    }
  }

  /** How long a used step must be remembered: until no tolerated clock can accept its code again. */
  get replayWindowMs(): number {
    return (3 * TOTP_PERIOD_SEC + TOTP_TOLERANCE_SEC) * 1000;
  }

  /**
   * Starts the second step of a login: an opaque mfa_token (256 random bits after the user id, which puts the
   * challenge beside the user's other keys in the store) of which the store keeps only a hash. `fence` is what the
   * password step read of the user's session fence, handed back when the challenge is accepted.
   */
  async issueChallenge(userId: number, fence: string): Promise<{ mfaToken: string; expiresIn: number }> {
    const mfaToken = `${userId}.${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    await this.store.createMfaChallenge(
      { userId, tokenHash: tokenHash(mfaToken), fence, expiresAt: now + MFA_TOKEN_TTL_SEC * 1000 },
      now,
    );
    return { mfaToken, expiresIn: MFA_TOKEN_TTL_SEC };
  }

  /** The user and store key of a well-formed mfa_token; undefined for anything else. */
  parseToken(mfaToken: string): MfaTokenRef | undefined {
    const match = /^([1-9]\d{0,14})\.([A-Za-z0-9_-]{43})$/.exec(mfaToken);
    if (!match?.[1]) return undefined;
    return { userId: Number(match[1]), tokenHash: tokenHash(mfaToken) };
  }

  /** Settles one attempt at a challenge (see TokenStore.settleMfaChallenge). */
  settle(ref: MfaTokenRef, attempt: MfaAttempt): Promise<MfaOutcome> {
    return this.store.settleMfaChallenge(ref.userId, ref.tokenHash, attempt, MFA_MAX_ATTEMPTS, this.now());
  }

  /** Marks a TOTP step of the user as used (outside a login: confirm, disable); false for a replay. */
  useStep(userId: number, step: number): Promise<boolean> {
    return this.store.useTotpStep(userId, step, this.replayWindowMs, this.now());
  }

  /** Ten new recovery codes, shown once, and their hashes under the current data key, to store. */
  newRecoveryCodes(): { codes: string[]; hashes: RecoveryCodeHash[] } {
    const key = this.keys.current;
    if (!key) throw new Error('no data key');
    const hmacKey = this.keys.derive(key, 'recovery codes');
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const hashes = codes.map((code) => ({
      keyId: key.id,
      hash: hmac(hmacKey, normalizeRecoveryCode(code) ?? code),
    }));
    return { codes, hashes };
  }

  /** The hashes a typed recovery code would have under each loaded data key (none for a malformed code). */
  recoveryCodeHashes(code: string): string[] {
    const normalized = normalizeRecoveryCode(code);
    if (normalized === undefined) return [];
    return this.keys.all.map((key) => hmac(this.keys.derive(key, 'recovery codes'), normalized));
  }
}

function tokenHash(mfaToken: string): string {
  return createHash('sha256').update(mfaToken).digest('base64url');
}

function hmac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

/** What a re-encryption pass did: secrets moved to the current key, already there, or unreadable. */
export interface ReencryptResult {
  reencrypted: number;
  current: number;
  failed: number[];
}

/**
 * Re-encrypts every stored TOTP secret (confirmed and pending) under the ring's current data key, row by row with
 * a compare-and-set, so that a secret a server changes meanwhile is left as the server wrote it. Rows the ring
 * cannot decrypt (a key missing) are reported by user id and left alone.
 */
export async function reencryptSecrets(users: UserRepository, keys: DataKeyRing): Promise<ReencryptResult> {
  const current = keys.current;
  if (!current) throw new Error('no data key');
  const result: ReencryptResult = { reencrypted: 0, current: 0, failed: [] };
  const move = (id: number, value: string | null): string | null => {
    if (value === null || keys.keyIdOf(value) === current.id) return value;
    return keys.encrypt(keys.decrypt(value, `totp:${id}`), `totp:${id}`);
  };
  let afterId = 0;
  for (;;) {
    const rows = await users.listEncryptedSecrets({ limit: 500, afterId });
    if (rows.length === 0) return result;
    for (const row of rows) {
      afterId = row.id;
      let next;
      try {
        next = {
          id: row.id,
          totpSecret: move(row.id, row.totpSecret),
          totpPending: move(row.id, row.totpPending),
        };
      } catch {
        result.failed.push(row.id);
        continue;
      }
      if (next.totpSecret === row.totpSecret && next.totpPending === row.totpPending) {
        result.current += 1;
      } else if (await users.replaceEncryptedSecrets(row, next)) {
        result.reencrypted += 1;
      }
    }
  }
}

/** How many stored secrets each data key encrypted (by key id). */
export async function secretsByKey(users: UserRepository, keys: DataKeyRing): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let afterId = 0;
  for (;;) {
    const rows = await users.listEncryptedSecrets({ limit: 500, afterId });
    if (rows.length === 0) return counts;
    for (const row of rows) {
      afterId = row.id;
      for (const value of [row.totpSecret, row.totpPending]) {
        const id = value === null ? undefined : keys.keyIdOf(value);
        if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
  }
}
