import { DomainError } from '../errors.js';
import type { User } from '../repositories/user-repository.js';
import { origin } from '../services/audit-log.js';
import { usernameKey } from '../domain/username.js';
import type { LoginAttempt, SignupAttempt } from '../services/rate-limiter.js';
import type { ClientInfo } from '../domain/client-info.js';
import type { RecoveryService } from '../services/recovery-service.js';
import type { SessionService } from '../services/session-service.js';
import type { AccountChanges, UserService } from '../services/user-service.js';
import type { FacadeGuards } from './auth-facade.js';
import { userView, type UserView } from './user-view.js';

export interface UserFacadeOptions extends FacadeGuards {
  /**
   * The sessions live in other processes' memory (the `keyward` command without REDIS_URL): a revocation cannot
   * reach them, and the audit events say so (`null`) rather than count none.
   */
  sessionsOutOfReach?: boolean | undefined;
  /** Outstanding reset tokens die with a password or email change. */
  recovery?: RecoveryService | undefined;
}

/** What an operator's change did to the account's sessions: how many were revoked, or null when out of reach. */
export interface OperatorResult {
  user: User;
  sessionsRevoked: number | null;
}

/**
 * Account use cases behind the seed's /user routes (the seed's UserFacade). The methods named for an operator
 * (`createUser`, `setPassword`, `deleteUser`) take a user id instead of a token: the `keyward` command calls them,
 * and the token-level methods share their rules.
 */
export class UserFacade {
  private readonly guards: FacadeGuards;
  private readonly sessionsOutOfReach: boolean;
  private readonly recovery: RecoveryService | undefined;

  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    options: UserFacadeOptions,
  ) {
    this.guards = { limiter: options.limiter, audit: options.audit };
    this.sessionsOutOfReach = options.sessionsOutOfReach ?? false;
    this.recovery = options.recovery;
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
    const attempt = await this.guards.limiter.beginSignup(client.ip);
    let user: User;
    try {
      user = await this.users.register(username, password, email);
    } catch (error) {
      // A 409 tells whether a username (or email) exists: probing that way stays counted like a created account.
      const taken =
        error instanceof DomainError && (error.code === 'username_taken' || error.code === 'email_taken');
      if (!taken) await attempt.abandoned().catch(() => undefined);
      throw error;
    }
    await attempt.created();
    await this.welcome(user, client);
    if (user.email !== null) {
      await this.guards.audit.record({
        event: 'email_added',
        userId: user.id,
        username: user.username,
        ...origin(client),
      });
    }
    return { message: 'User created successfully', user: userView(user) };
  }

  /** Registers an account for an operator: the rules, revocation and audit event of `create`, without its limit. */
  async createUser(username: string, password: string, client?: ClientInfo): Promise<User> {
    const user = await this.users.register(username, password);
    await this.welcome(user, client);
    return user;
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
   * Changes username and/or password; both need current_password, and a password change revokes every other
   * session. A wrong current_password counts as a failed login for (username, IP), so a stolen access token
   * cannot be used to guess the password; a rename to a taken name counts against the signup limit per IP, like
   * signup's 409, so that renames are no free way to enumerate usernames.
   */
  async update(
    token: string,
    changes: AccountChanges,
    client: ClientInfo,
  ): Promise<{ message: string; user: UserView; token: string }> {
    const checked = this.users.checkChanges(changes);
    return this.sessions.withAuth(token, async (auth) => {
      const attempt = await this.beginPasswordCheck(auth.userId, client);
      let probe: SignupAttempt | undefined;
      let result;
      let revoked = 0;
      try {
        if (checked.username !== undefined) probe = await this.guards.limiter.beginSignup(client.ip);
        result = await this.users.update(auth.userId, checked, async () => {
          revoked = await this.sessions.revokeOthers(auth.userId, auth.sid);
        });
      } catch (error) {
        const code = error instanceof DomainError ? error.code : undefined;
        if (code === 'wrong_current_password') await attempt?.failed();
        else await attempt?.abandoned().catch(() => undefined);
        if (code !== 'username_taken') await probe?.abandoned().catch(() => undefined);
        throw error;
      }
      await attempt?.succeeded();
      // A rename that went through is no probe of taken names.
      await probe?.abandoned();
      const { user, passwordChanged, usernameChanged, emailChanged } = result;
      if (usernameChanged) {
        await this.guards.audit.record({
          event: 'username_changed',
          userId: user.id,
          username: user.username,
          ...origin(client),
        });
      }
      if (emailChanged) {
        // A reset mailed to the old address must not work after the change.
        await this.recovery?.invalidate(user.id, 'reset_password');
        await this.guards.audit.record({
          event: 'email_added',
          userId: user.id,
          username: user.username,
          ...origin(client),
        });
      }
      if (passwordChanged) await this.passwordChangedEvent(user, revoked, true, client);
      return { message: 'User updated successfully', user: userView(user) };
    });
  }

  /**
   * Sets a user's password without the current one (an operator's reset): the password rules of `update`, and
   * every session is revoked, as `update` revokes every session but the caller's.
   */
  async setPassword(userId: number, password: string, client?: ClientInfo): Promise<OperatorResult> {
    let revoked = 0;
    const user = await this.users.setPassword(userId, password, async () => {
      revoked = await this.sessions.revokeAll(userId);
    });
    return { user, sessionsRevoked: await this.passwordChangedEvent(user, revoked, false, client) };
  }

  /** Deletes the caller's account and revokes all of its sessions. */
  async delete(token: string, client: ClientInfo): Promise<{ message: string }> {
    return this.sessions.guard(token, async (auth) => {
      await this.deleteUser(auth.userId, client);
      return { message: 'User deleted successfully' };
    });
  }

  /** Deletes an account and revokes all of its sessions (`delete` once the caller is known; an operator's). */
  async deleteUser(
    userId: number,
    client?: ClientInfo,
  ): Promise<{ user: User | undefined; sessionsRevoked: number | null }> {
    const user = await this.users.find(userId);
    // Sessions go first: if the token store fails, the account (and its chance to retry) is kept, rather than
    // leaving a deleted user with live tokens. The second revokeAll is the fence (docs/tokens.md): a login that
    // read the user's generation before it cannot create a session after it, and one that read it after it finds
    // no account.
    let revoked = await this.sessions.revokeAll(userId);
    await this.users.delete(userId);
    revoked += await this.sessions.revokeAll(userId);
    const sessionsRevoked = this.sessionsOutOfReach ? null : revoked;
    await this.guards.audit.record({
      event: 'account_deleted',
      userId,
      username: user?.username,
      ...origin(client),
      detail: { sessions_revoked: sessionsRevoked },
    });
    return { user, sessionsRevoked };
  }

  /**
   * A new account starts with no session. Ids are never reused by the database, but a token store that outlived a
   * database reset could still hold sessions for this id. If the token store cannot confirm that, the account is
   * removed again, so that a retry (after the 503) is not answered 409 for its own name.
   */
  private async welcome(user: User, client: ClientInfo | undefined): Promise<void> {
    try {
      await this.sessions.clearStale(user.id);
    } catch (error) {
      await this.users.delete(user.id).catch(() => undefined);
      throw error;
    }
    await this.guards.audit.record({
      event: 'signup',
      userId: user.id,
      username: user.username,
      ...origin(client),
    });
  }

  /** Audits a password change: `revoked` sessions, every one but the caller's when `keptCaller`. */
  private async passwordChangedEvent(
    user: User,
    revoked: number,
    keptCaller: boolean,
    client: ClientInfo | undefined,
  ): Promise<number | null> {
    // A reset mailed before the change must not undo it.
    await this.recovery?.invalidate(user.id, 'reset_password');
    const count = this.sessionsOutOfReach ? null : revoked;
    await this.guards.audit.record({
      event: 'password_changed',
      userId: user.id,
      username: user.username,
      ...origin(client),
      detail: keptCaller ? { other_sessions_revoked: count } : { sessions_revoked: count },
    });
    return count;
  }

  private async beginPasswordCheck(userId: number, client: ClientInfo): Promise<LoginAttempt | undefined> {
    const user = await this.users.find(userId);
    // A vanished account fails the update itself with invalid_token.
    return user ? this.guards.limiter.beginLogin(usernameKey(user.username), client.ip) : undefined;
  }
}
