/** What a mailed token proves: a verification token confirms an address, a reset token allows a new password. */
export type MailTokenKind = 'verify_email' | 'reset_password';

/** What the queue sends: a password reset request (resolved by the sender), a verification mail, a test mail. */
export type MailKind = 'password_reset' | 'verify_email' | 'test';

export interface NewMailToken {
  /** SHA-256 of the token; the token itself is never stored. */
  hash: string;
  kind: MailTokenKind;
  userId: number;
  emailKey: string;
  messageId: number | null;
  expiresAt: number;
}

export interface MailTokenOwner {
  userId: number;
  emailKey: string;
}

export interface NewMail {
  kind: MailKind;
  userId?: number | undefined;
  login?: string | undefined;
  recipient?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
}

/** A queued message claimed by one sender. */
export interface ClaimedMail {
  id: number;
  kind: MailKind;
  userId: number | null;
  login: string | null;
  recipient: string | null;
  ip: string | null;
  requestId: string | null;
  /** Counting this one. */
  attempts: number;
  createdAt: number;
  /** The claim's id: only its holder may settle the row. */
  claim: string;
}

export type MailOutcome = 'sent' | 'dropped' | 'failed';

export interface MailQueueStats {
  /** Messages not yet settled (waiting, being sent, or waiting for a retry). */
  queued: number;
  /** Age in milliseconds of the oldest of them (0 when there is none). */
  oldestAgeMs: number;
}

/**
 * The mail tables: tokens (stored as hashes) and the queue. Every time is epoch milliseconds. Claiming is atomic
 * across instances; StoreUnavailableError when the database cannot be reached.
 */
export interface MailRepository {
  insertToken(token: NewMailToken, now: number): Promise<void>;
  /** The token's owner if it exists, is of this kind and has not expired; nothing is changed. */
  findToken(hash: string, kind: MailTokenKind, now: number): Promise<MailTokenOwner | undefined>;
  /** Deletes the token and returns its owner if it was live: of two concurrent calls, one gets it. */
  consumeToken(hash: string, kind: MailTokenKind, now: number): Promise<MailTokenOwner | undefined>;
  /** Deletes every token of this kind of the user; returns how many. */
  deleteUserTokens(userId: number, kind: MailTokenKind): Promise<number>;
  deleteMessageTokens(messageId: number): Promise<void>;

  enqueue(mail: NewMail, now: number): Promise<number>;
  /**
   * Claims up to `limit` due messages for `leaseMs`: waiting ones whose time has come, and ones still `sending`
   * whose lease ran out (their sender died). A message is claimed by one caller only.
   */
  claim(claim: string, now: number, leaseMs: number, limit: number): Promise<ClaimedMail[]>;
  /** Settles a claimed message; false when the claim was lost (the lease ran out and another sender took it). */
  finish(mail: ClaimedMail, outcome: MailOutcome, now: number, error?: string): Promise<boolean>;
  /** Puts a claimed message back for another attempt at `at`. */
  retryAt(mail: ClaimedMail, at: number, error: string): Promise<boolean>;
  stats(now: number): Promise<MailQueueStats>;
  /** Deletes expired tokens and settled messages finished before `settledBefore`. */
  prune(now: number, settledBefore: number): Promise<void>;
}
