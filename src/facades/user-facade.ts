import { DomainError } from '../errors.js';
import type { User } from '../repositories/user-repository.js';
import { origin, type AuditLog } from '../services/audit-log.js';
import { usernameKey } from '../services/password-policy.js';
import type { LoginAttempt, RateLimiter } from '../services/rate-limiter.js';
import type { ClientInfo, SessionService } from '../services/session-service.js';
import type { RecoveryService } from '../services/recovery-service.js';
import type { AccountChanges, UserService } from '../services/user-service.js';
import type { FacadeGuards } from './auth-facade.js';
import { userView, type UserView } from './user-view.js';

/** Account use cases behind the seed's /user routes (the seed's UserFacade). */
export class UserFacade {
  private readonly limiter: RateLimiter | undefined;
  private readonly audit: AuditLog | undefined;

  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    guards: FacadeGuards = {},
    /** Outstanding reset tokens die with a password or email change. */
    private readonly recovery?: RecoveryService,
  ) {
    this.limiter = guards.limiter;
    this.audit = guards.audit;
  }

  /**
   * Registers a new account. Signups per IP are limited: created accounts and taken usernames count, requests
   * refused by the username or password rules do not.
   */
  async create(
    username: string,
    password: string,
    client: ClientInfo,
    email?: string,
  ): Promise<{ message: string; user: UserView }> {
    const attempt = await this.limiter?.beginSignup(client.ip);
    let user: User;
    try {
      user = await this.users.register(username, password, email);
    } catch (error) {
      // A 409 tells whether a username (or email) exists: probing that way stays counted like a created account.
      if (!(
        error instanceof DomainError &&
        (error.code === 'username_taken' || error.code === 'email_taken')
      )) {
        await attempt?.abandoned().catch(() => undefined);
      }
      throw error;
    }
    await attempt?.created();
    // Ids are never reused by the database, but a token store that outlived a database reset could still hold
    // sessions for this id: a new account starts with none. If the token store cannot confirm that, the account
    // is removed again, so that the client's retry (after the 503) is not answered 409 for its own name.
    try {
      await this.sessions.revokeAll(user.id);
    } catch (error) {
      await this.users.delete(user.id).catch(() => undefined);
      throw error;
    }
    await this.audit?.record({
      event: 'signup',
      userId: user.id,
      username: user.username,
      ...origin(client),
    });
    if (user.email !== null) {
      await this.audit?.record({
        event: 'email_added',
        userId: user.id,
        username: user.username,
        ...origin(client),
      });
    }
    return { message: 'User created successfully', user: userView(user) };
  }

  /** The caller's account. */
  async get(token: string): Promise<{ user: UserView; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      const user = await this.users.find(auth.userId);
      if (!user) throw new DomainError('invalid_token');
      return { user: userView(user) };
    });
  }

  /**
   * Changes username and/or password; a password change revokes every other session. A wrong current_password
   * counts as a failed login for (username, IP), so a stolen access token cannot be used to guess the password.
   */
  async update(
    token: string,
    changes: AccountChanges,
    client: ClientInfo,
  ): Promise<{ message: string; user: UserView; token: string }> {
    const checked = this.users.checkChanges(changes);
    return this.sessions.withAuth(token, async (auth) => {
      const attempt =
        checked.currentPassword === undefined
          ? undefined
          : await this.beginPasswordCheck(auth.userId, client);
      let result;
      try {
        result = await this.users.update(auth.userId, checked);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'wrong_current_password') await attempt?.failed();
        else await attempt?.abandoned().catch(() => undefined);
        throw error;
      }
      await attempt?.succeeded();
      const { user, passwordChanged, usernameChanged, emailChanged } = result;
      const base = { userId: user.id, username: user.username, ...origin(client) };
      if (usernameChanged) await this.audit?.record({ ...base, event: 'username_changed' });
      // A reset mailed before the change (to the old address, or for the old password) must not work after it.
      if (passwordChanged || emailChanged) await this.recovery?.invalidate(user.id, 'reset_password');
      if (emailChanged) await this.audit?.record({ ...base, event: 'email_added' });
      if (passwordChanged) {
        const revoked = await this.sessions.revokeOthers(auth.userId, auth.sid);
        await this.audit?.record({
          ...base,
          event: 'password_changed',
          detail: { other_sessions_revoked: revoked },
        });
      }
      return { message: 'User updated successfully', user: userView(user) };
    });
  }

  private async beginPasswordCheck(userId: number, client: ClientInfo): Promise<LoginAttempt | undefined> {
    if (!this.limiter) return undefined;
    const user = await this.users.find(userId);
    // A vanished account fails the update itself with invalid_token.
    return user ? this.limiter.beginLogin(usernameKey(user.username), client.ip) : undefined;
  }

  /** Deletes the caller's account and revokes all of its sessions. */
  async delete(token: string, client: ClientInfo): Promise<{ message: string }> {
    return this.sessions.guard(token, async (auth) => {
      const user = await this.users.find(auth.userId);
      // Sessions go first: if the token store fails, the account (and its chance to retry) is kept, rather than
      // leaving a deleted user with live tokens. A login that slips in between is caught by the second sweep.
      let revoked = await this.sessions.revokeAll(auth.userId);
      await this.users.delete(auth.userId);
      revoked += await this.sessions.revokeAll(auth.userId);
      await this.audit?.record({
        event: 'account_deleted',
        userId: auth.userId,
        username: user?.username,
        ...origin(client),
        detail: { sessions_revoked: revoked },
      });
      return { message: 'User deleted successfully' };
    });
  }
}
