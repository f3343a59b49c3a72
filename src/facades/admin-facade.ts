import { DomainError } from '../errors.js';
import type { User } from '../repositories/user-repository.js';
import { origin, type AuditLog } from '../services/audit-log.js';
import { ADMIN_ROLE, changeRoles, normalizeRoles, removesAny } from '../services/roles.js';
import type { ClientInfo } from '../domain/client-info.js';
import type { RecoveryService } from '../services/recovery-service.js';
import type { Auth, SessionService } from '../services/session-service.js';
import type { UserService } from '../services/user-service.js';

/** A user as the admin API shows it. */
export interface AdminUserView {
  id: number;
  username: string;
  roles: string[];
  disabled: boolean;
}

export interface UserSearch {
  query?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export const DEFAULT_PAGE_SIZE = 50;

/** Cursors are opaque to clients: a version tag and the last id of the page, base64url-encoded. */
const CURSOR = /^v1:([1-9][0-9]{0,14})$/;

function encodeCursor(lastId: number): string {
  return Buffer.from(`v1:${lastId}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^[A-Za-z0-9_-]{1,64}$/.test(cursor)
    ? CURSOR.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
    : null;
  const id = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(id)) throw new DomainError('invalid_cursor');
  return id;
}

/** A path id: anything but a positive safe integer names no user (the same 404 as an unknown id). */
function parseUserId(id: string): number {
  const n = /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : NaN;
  if (!Number.isSafeInteger(n)) throw new DomainError('user_not_found');
  return n;
}

function view(user: User): AdminUserView {
  return { id: user.id, username: user.username, roles: user.roles, disabled: user.disabled };
}

/**
 * The admin API of SPEC §12: every method authorizes the bearer token (consuming it under single-use rotation), then
 * checks that the caller holds the `admin` role **in the database** (not the token's claim, so that a removed role
 * counts at once), and records an audit event naming the acting admin.
 */
export class AdminFacade {
  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly recovery: RecoveryService,
    private readonly audit?: AuditLog,
  ) {}

  /** Users in id order, optionally those whose name contains `query`; `next_cursor` is null on the last page. */
  async listUsers(
    token: string,
    search: UserSearch,
  ): Promise<{ users: AdminUserView[]; next_cursor: string | null; token: string }> {
    // A malformed cursor is refused before the token is consumed, like any other malformed request.
    const afterId = search.cursor === undefined || search.cursor === '' ? 0 : decodeCursor(search.cursor);
    const limit = search.limit ?? DEFAULT_PAGE_SIZE;
    return this.asAdmin(token, async () => {
      // One more than asked tells whether there is a next page without a second query.
      const rows = await this.users.list({ limit: limit + 1, afterId, query: search.query });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        users: page.map(view),
        next_cursor: rows.length > limit && last ? encodeCursor(last.id) : null,
      };
    });
  }

  /** One user; `user_not_found` for an unknown id. */
  async getUser(token: string, id: string): Promise<{ user: AdminUserView; token: string }> {
    const userId = parseUserId(id);
    return this.asAdmin(token, async () => ({ user: view(await this.existing(userId)) }));
  }

  /** Disables the account and revokes every session of it (a fence: no login in flight survives it). */
  async disable(
    token: string,
    id: string,
    client: ClientInfo,
  ): Promise<{ message: string; user: AdminUserView; revoked: number; token: string }> {
    const userId = parseUserId(id);
    return this.asAdmin(token, async (auth) => {
      // Disabled first, so that no new login succeeds, then every session revoked. A failure after the first step
      // answers 503 with the account disabled (the safe side); the admin's retry finishes the revocation.
      const user = await this.users.setDisabled(userId, true);
      if (!user) throw new DomainError('user_not_found');
      const revoked = await this.sessions.revokeAll(userId);
      // A reset link mailed before the disable must not work once the account is enabled again.
      await this.recovery.invalidate(userId, 'reset_password');
      await this.record(auth, client, user, 'account_disabled', { sessions_revoked: revoked });
      return { message: 'User disabled', user: view(user), revoked };
    });
  }

  /** Enables a disabled account (its owner logs in again; no session comes back). */
  async enable(
    token: string,
    id: string,
    client: ClientInfo,
  ): Promise<{ message: string; user: AdminUserView; token: string }> {
    const userId = parseUserId(id);
    return this.asAdmin(token, async (auth) => {
      const user = await this.users.setDisabled(userId, false);
      if (!user) throw new DomainError('user_not_found');
      await this.record(auth, client, user, 'account_enabled');
      return { message: 'User enabled', user: view(user) };
    });
  }

  /**
   * Replaces a user's roles. Taking a role away revokes the user's sessions, so that no live token still carries
   * it; added roles reach the user's tokens at the next login or refresh (docs/tokens.md).
   */
  async setRoles(
    token: string,
    id: string,
    roles: readonly string[],
    client: ClientInfo,
  ): Promise<{ message: string; user: AdminUserView; revoked: number; token: string }> {
    const userId = parseUserId(id);
    const next = normalizeRoles(roles);
    return this.asAdmin(token, async (auth) => {
      const { user, revoked } = await this.replaceRoles(userId, () => next, auth.userId, client);
      return { message: 'Roles updated', user: view(user), revoked };
    });
  }

  /**
   * Adds and removes roles for an operator (`keyward user roles`), under the same rules as `setRoles`:
   * `validation_failed` for a bad role name, `user_not_found` for an unknown id.
   */
  async changeRoles(
    userId: number,
    add: readonly string[],
    remove: readonly string[],
  ): Promise<{ user: AdminUserView; revoked: number }> {
    const checked = { add: normalizeRoles(add), remove: normalizeRoles(remove) };
    const { user, revoked } = await this.replaceRoles(userId, (current) =>
      changeRoles(current, checked.add, checked.remove),
    );
    return { user: view(user), revoked };
  }

  private async replaceRoles(
    userId: number,
    next: (current: readonly string[]) => string[],
    actorId?: number,
    client?: ClientInfo,
  ): Promise<{ user: User; revoked: number }> {
    const before = await this.existing(userId);
    const user = await this.users.setRoles(userId, next(before.roles));
    if (!user) throw new DomainError('user_not_found');
    const revoked = removesAny(before.roles, user.roles) ? await this.sessions.revokeAll(userId) : 0;
    await this.audit?.record({
      event: 'roles_changed',
      userId: user.id,
      username: user.username,
      ...origin(client),
      detail: {
        ...(actorId === undefined ? {} : { actor_id: actorId }),
        roles: user.roles.join(' '),
        previous: before.roles.join(' '),
        sessions_revoked: revoked,
      },
    });
    return { user, revoked };
  }

  /** Signs the user out everywhere: every session, with all its access and refresh tokens. */
  async revokeSessions(
    token: string,
    id: string,
    client: ClientInfo,
  ): Promise<{ message: string; revoked: number; token: string }> {
    const userId = parseUserId(id);
    return this.asAdmin(token, async (auth) => {
      const user = await this.existing(userId);
      const revoked = await this.sessions.revokeAll(userId);
      await this.record(auth, client, user, 'sessions_revoked_by_admin', { sessions_revoked: revoked });
      return { message: 'Sessions revoked', revoked };
    });
  }

  private asAdmin<T extends object>(
    token: string,
    work: (auth: Auth) => Promise<T>,
  ): Promise<T & { token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      const caller = await this.users.find(auth.userId);
      if (!caller) throw new DomainError('invalid_token');
      if (caller.disabled || !caller.roles.includes(ADMIN_ROLE)) throw new DomainError('forbidden');
      return work(auth);
    });
  }

  private async existing(userId: number): Promise<User> {
    const user = await this.users.find(userId);
    if (!user) throw new DomainError('user_not_found');
    return user;
  }

  private async record(
    auth: Auth,
    client: ClientInfo,
    user: User,
    event: 'roles_changed' | 'account_disabled' | 'account_enabled' | 'sessions_revoked_by_admin',
    detail: Record<string, string | number> = {},
  ): Promise<void> {
    await this.audit?.record({
      event,
      userId: user.id,
      username: user.username,
      ...origin(client),
      detail: { actor_id: auth.userId, ...detail },
    });
  }
}
