import { DomainError } from '../errors.js';
import type { Composed, MailQueue } from '../mail/mail-queue.js';
import { passwordResetMail, testMail, verificationMail } from '../mail/templates.js';
import type { ClaimedMail } from '../repositories/mail-repository.js';
import type { User } from '../repositories/user-repository.js';
import { origin, type AuditLog } from '../services/audit-log.js';
import type { RateLimiter } from '../services/rate-limiter.js';
import type { RecoveryService } from '../services/recovery-service.js';
import type { ClientInfo } from '../domain/client-info.js';
import type { SessionService } from '../services/session-service.js';
import type { UserService } from '../services/user-service.js';
import type { FacadeGuards } from './auth-facade.js';

export interface AccountFacadeOptions {
  /** PUBLIC_URL: the base of the links in mails. */
  publicUrl: string;
}

const FORGOT_MESSAGE = 'If the account exists, a reset email has been sent';

/** Email verification and password recovery (SPEC §9), and the composing of their mails for the queue. */
export class AccountFacade {
  private readonly limiter: RateLimiter;
  private readonly audit: AuditLog;

  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly recovery: RecoveryService,
    private readonly queue: MailQueue,
    private readonly options: AccountFacadeOptions,
    guards: FacadeGuards,
  ) {
    this.limiter = guards.limiter;
    this.audit = guards.audit;
    queue.setComposer((mail) => this.composeMail(mail));
  }

  /**
   * Queues a verification mail to the caller's email. Over the per-account limit the mail is dropped and the
   * answer is the same.
   */
  async requestVerification(token: string, client: ClientInfo): Promise<{ message: string; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      const user = await this.users.find(auth.userId);
      if (!user) throw new DomainError('invalid_token');
      if (user.email === null) throw new DomainError('no_email');
      if (user.emailVerified) throw new DomainError('email_already_verified');
      if (await this.limiter.allowRecoveryMail(user.id)) {
        await this.queue.enqueue({
          kind: 'verify_email',
          userId: user.id,
          recipient: user.email,
          ip: client.ip,
          requestId: client.requestId,
        });
      }
      return { message: 'Verification email sent' };
    });
  }

  /** Confirms the email a verification token was mailed to; `invalid_verification_token` otherwise. */
  async verifyEmail(token: string, client: ClientInfo): Promise<{ message: string }> {
    await this.limiter.beginRecovery(client.ip);
    const owner = await this.recovery.consume('verify_email', token);
    // A token mailed to an address the account no longer has confirms nothing.
    if (!owner || !(await this.users.markEmailVerified(owner.userId, owner.emailKey))) {
      throw new DomainError('invalid_verification_token');
    }
    await this.recovery.invalidate(owner.userId, 'verify_email');
    const user = await this.users.find(owner.userId);
    await this.audit.record({
      event: 'email_verified',
      userId: owner.userId,
      username: user?.username,
      ...origin(client),
    });
    return { message: 'Email verified' };
  }

  /**
   * Asks for a reset mail. The same work whatever `login` names: one rate-limit count and one queued row. Who the
   * account is, whether its email is verified, and the per-account limit are settled by the background sender,
   * so neither the answer nor its timing tells whether the account exists.
   */
  async forgotPassword(login: string, client: ClientInfo): Promise<{ message: string }> {
    await this.limiter.beginRecovery(client.ip);
    // PostgreSQL refuses a NUL in text; no username or email holds one, so the replaced login matches nothing, as
    // the original would have, after the same work.
    const stored = login.replaceAll('\u0000', '\uFFFD');
    // The sender is not woken: what it does with the row (look the account up, mail it or not) happens at its
    // next poll, apart from this request, so that it cannot show in this request's time.
    await this.queue.enqueue(
      { kind: 'password_reset', login: stored, ip: client.ip, requestId: client.requestId },
      { wake: false },
    );
    return { message: FORGOT_MESSAGE };
  }

  /**
   * Sets a new password with a reset token: the policy applies (a refused password leaves the token usable);
   * the token is used up, every other reset token of the account is invalidated, and every session is revoked.
   */
  async resetPassword(token: string, password: string, client: ClientInfo): Promise<{ message: string }> {
    const owner = await this.recovery.find('reset_password', token);
    const user = owner && (await this.users.find(owner.userId));
    // A disabled account's link (mailed before an operator disabled it) resets nothing: only an operator enables it.
    if (!user || user.disabled) throw new DomainError('invalid_reset_token');
    const passwordHash = await this.users.hashNewPassword(user, password);
    // Used up only now, after the slow hash: of two concurrent resets with one token, one wins here.
    const used = await this.recovery.consume('reset_password', token);
    if (!used || used.userId !== user.id) throw new DomainError('invalid_reset_token');
    // The fence (every session, and every login that checked the old hash) is the commit point of the new hash.
    let revoked = 0;
    const set = await this.users.setPasswordHash(user.id, passwordHash, async () => {
      revoked = await this.sessions.revokeAll(user.id);
    });
    if (!set) throw new DomainError('invalid_reset_token');
    await this.recovery.invalidate(user.id, 'reset_password');
    await this.audit.record({
      event: 'password_reset',
      userId: user.id,
      username: user.username,
      ...origin(client),
      detail: { sessions_revoked: revoked },
    });
    return { message: 'Password has been reset' };
  }

  /** Sets an account's email (unverified) for an operator (`keyward user set-email`). */
  async setEmail(userId: number, email: string): Promise<User> {
    const user = await this.users.setEmail(userId, email);
    await this.recovery.invalidate(userId, 'reset_password');
    await this.audit.record({
      event: 'email_added',
      userId,
      username: user.username,
    });
    return user;
  }

  /** Sends a test message at once, outside the queue (`keyward mail test`); throws the mailer's error. */
  async sendTestMail(address: string): Promise<{ messageId: string; file?: string }> {
    return this.queue.sendNow({ to: address, ...testMail() });
  }

  /** Turns a claimed queue row into its message: resolves a reset request, creates the token it carries. */
  async composeMail(mail: ClaimedMail): Promise<Composed> {
    if (mail.kind === 'password_reset') return this.composeReset(mail);
    if (mail.kind === 'verify_email') return this.composeVerification(mail);
    if (mail.recipient === null) return { drop: 'no recipient' };
    return { mail: { to: mail.recipient, ...testMail() } };
  }

  private async composeReset(mail: ClaimedMail): Promise<Composed> {
    const user = mail.login === null ? undefined : await this.users.findByLogin(mail.login);
    if (!user) return { drop: 'no such account' };
    const first = mail.attempts === 1;
    const recorded = { userId: user.id, username: user.username, ip: mail.ip ?? undefined };
    const requestId = mail.requestId ?? undefined;
    if (user.disabled) {
      if (first)
        await this.audit.record({
          ...recorded,
          requestId,
          event: 'password_reset_requested',
          detail: { sent: false, reason: 'account_disabled' },
        });
      return { drop: 'account disabled' };
    }
    if (user.email === null || !user.emailVerified) {
      if (first)
        await this.audit.record({
          ...recorded,
          requestId,
          event: 'password_reset_requested',
          detail: { sent: false, reason: 'no_verified_email' },
        });
      return { drop: 'no verified email' };
    }
    if (first && !(await this.limiter.allowRecoveryMail(user.id))) {
      await this.audit.record({
        ...recorded,
        requestId,
        event: 'password_reset_requested',
        detail: { sent: false, reason: 'rate_limited' },
      });
      return { drop: 'rate limited' };
    }
    if (first)
      await this.audit.record({
        ...recorded,
        requestId,
        event: 'password_reset_requested',
        detail: { sent: true },
      });
    const token = await this.recovery.issue('reset_password', user.id, user.email.toLowerCase(), mail.id);
    return {
      mail: {
        to: user.email,
        ...passwordResetMail({
          username: user.username,
          publicUrl: this.options.publicUrl,
          token,
          ttlSec: this.recovery.ttlSec('reset_password'),
        }),
      },
    };
  }

  private async composeVerification(mail: ClaimedMail): Promise<Composed> {
    const user = mail.userId === null ? undefined : await this.users.find(mail.userId);
    if (!user || user.email === null || user.email !== mail.recipient) return { drop: 'email changed' };
    if (user.emailVerified) return { drop: 'already verified' };
    const token = await this.recovery.issue('verify_email', user.id, user.email.toLowerCase(), mail.id);
    return {
      mail: {
        to: user.email,
        ...verificationMail({
          username: user.username,
          publicUrl: this.options.publicUrl,
          token,
          ttlSec: this.recovery.ttlSec('verify_email'),
        }),
      },
    };
  }
}
