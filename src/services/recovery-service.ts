import { createHash, randomBytes } from 'node:crypto';
import type { MailRepository, MailTokenKind, MailTokenOwner } from '../repositories/mail-repository.js';

export interface RecoveryServiceOptions {
  mail: MailRepository;
  resetTtlSec: number;
  verificationTtlSec: number;
  now?: () => number;
}

/** 256 bits, base64url: 43 characters. Anything longer or with other characters is not one of ours. */
const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The stored form of a token. SHA-256 is enough: the token is 256 random bits, not a password to stretch. */
export function hashMailToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * The tokens mailed for email verification and password reset (SPEC §9): 256 random bits, stored only as a
 * SHA-256, bound to one kind (a verification token is never a reset token), to one user and to the address it was
 * mailed to, expiring, single-use.
 */
export class RecoveryService {
  private readonly mail: MailRepository;
  private readonly now: () => number;

  constructor(private readonly options: RecoveryServiceOptions) {
    this.mail = options.mail;
    this.now = options.now ?? Date.now;
  }

  ttlSec(kind: MailTokenKind): number {
    return kind === 'reset_password' ? this.options.resetTtlSec : this.options.verificationTtlSec;
  }

  /** Creates a token for the user and the address it will be mailed to; returns it (it is stored only hashed). */
  async issue(
    kind: MailTokenKind,
    userId: number,
    emailKey: string,
    messageId: number | null,
  ): Promise<string> {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const now = this.now();
    await this.mail.insertToken(
      {
        hash: hashMailToken(token),
        kind,
        userId,
        emailKey,
        messageId,
        expiresAt: now + this.ttlSec(kind) * 1000,
      },
      now,
    );
    return token;
  }

  /** The owner of a live token of this kind, without using it up. */
  async find(kind: MailTokenKind, token: string): Promise<MailTokenOwner | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    return this.mail.findToken(hashMailToken(token), kind, this.now());
  }

  /** Uses the token up: of two concurrent uses one gets the owner, the other undefined. */
  async consume(kind: MailTokenKind, token: string): Promise<MailTokenOwner | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    return this.mail.consumeToken(hashMailToken(token), kind, this.now());
  }

  /** Invalidates every outstanding token of this kind of the user. */
  invalidate(userId: number, kind: MailTokenKind): Promise<number> {
    return this.mail.deleteUserTokens(userId, kind);
  }
}
