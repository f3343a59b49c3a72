import { DomainError } from '../errors.js';
import { origin, type AuditLog } from '../services/audit-log.js';
import { usernameKey } from '../domain/username.js';
import { RateLimitedError, type LoginAttempt, type RateLimiter } from '../services/rate-limiter.js';
import type { ClientInfo } from '../domain/client-info.js';
import type { Grant, SessionService } from '../services/session-service.js';
import type { UserService } from '../services/user-service.js';

export interface TokenResponse {
  token: string;
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
}

export interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string;
  ip: string;
  current: boolean;
}

function tokenResponse(grant: Grant): TokenResponse {
  return {
    token: grant.accessToken,
    access_token: grant.accessToken,
    token_type: 'Bearer',
    expires_in: grant.expiresIn,
    refresh_token: grant.refreshToken,
  };
}

/** The cross-cutting services a facade reports to. */
export interface FacadeGuards {
  limiter: RateLimiter;
  audit: AuditLog;
}

/** Login, token validation and renewal, refresh, logout and session management (the seed's AuthFacade). */
export class AuthFacade {
  private readonly limiter: RateLimiter;
  private readonly audit: AuditLog;

  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    guards: FacadeGuards,
  ) {
    this.limiter = guards.limiter;
    this.audit = guards.audit;
  }

  /**
   * Checks credentials and opens a session. The rate limits are checked before any password work, so a refused
   * attempt costs no hashing time.
   */
  async authenticate(username: string, password: string, client: ClientInfo): Promise<TokenResponse> {
    let attempt: LoginAttempt;
    try {
      attempt = await this.limiter.beginLogin(usernameKey(username), client.ip);
    } catch (error) {
      if (error instanceof RateLimitedError) {
        await this.audit.record({
          event: 'login_failed',
          username,
          ...origin(client),
          detail: { reason: 'rate_limited', limit: error.limit },
        });
      }
      throw error;
    }
    let check;
    try {
      check = await this.users.checkCredentials(username, password, (userId) =>
        this.sessions.generation(userId),
      );
    } catch (error) {
      // Server busy or a store down: the attempt never reached the password, so it does not count.
      await attempt.abandoned().catch(() => undefined);
      throw error;
    }
    if (!check.ok) {
      await attempt.failed();
      await this.audit.record({
        event: 'login_failed',
        userId: check.reason === 'unknown_user' ? undefined : check.userId,
        username,
        ...origin(client),
        detail: { reason: check.reason },
      });
      throw new DomainError('invalid_credentials');
    }
    await attempt.succeeded();
    let grant;
    try {
      grant = await this.sessions.start(check.user.id, client, check.generation, check.user.roles);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'invalid_credentials') {
        // A fence (password change, deletion, logout_all…) came between the check and the session.
        await this.audit.record({
          event: 'login_failed',
          userId: check.user.id,
          username,
          ...origin(client),
          detail: { reason: 'fenced' },
        });
      }
      throw error;
    }
    await this.audit.record({
      event: 'login_succeeded',
      userId: check.user.id,
      username: check.user.username,
      ...origin(client),
      detail: { sid: grant.sid },
    });
    return tokenResponse(grant);
  }

  /** Consumes a live token and returns its successor. */
  async validate(
    token: string,
  ): Promise<{ message: string; token: string; user_id: number; expires_in: number }> {
    const auth = await this.sessions.renew(token);
    return {
      message: 'Token is valid',
      token: auth.token,
      user_id: auth.userId,
      expires_in: this.sessions.accessTtlSec,
    };
  }

  /** Revokes the session the token belongs to. */
  async logout(token: string, client: ClientInfo): Promise<{ message: string }> {
    const claims = await this.sessions.end(token);
    await this.audit.record({
      event: 'logout',
      userId: claims.userId,
      ...origin(client),
      detail: { sid: claims.sid },
    });
    return { message: 'Logged out successfully' };
  }

  /** Rotates a refresh token into a new access and refresh token (a detected reuse is audited by deps). */
  async refresh(refreshToken: string, client: ClientInfo): Promise<TokenResponse> {
    return tokenResponse(await this.sessions.refresh(refreshToken, client));
  }

  /** Revokes every session of the caller, the current one included. */
  async logoutAll(token: string, client: ClientInfo): Promise<{ message: string; revoked: number }> {
    return this.sessions.guard(token, async (auth) => ({
      message: 'Logged out of all sessions',
      revoked: await this.revokeUserSessions(auth.userId, client),
    }));
  }

  /** Revokes every session of a user (`logoutAll` once the caller is known; an operator's). */
  async revokeUserSessions(userId: number, client?: ClientInfo): Promise<number> {
    const revoked = await this.sessions.revokeAll(userId);
    await this.audit.record({ event: 'logout_all', userId, ...origin(client), detail: { revoked } });
    return revoked;
  }

  /** The caller's live sessions, the current one marked. */
  async listSessions(token: string): Promise<{ sessions: SessionView[]; token: string }> {
    return this.sessions.withAuth(token, async (auth) => ({
      sessions: (await this.sessions.list(auth.userId)).map((s) => ({
        id: s.id,
        created_at: new Date(s.createdAt).toISOString(),
        last_used_at: new Date(s.lastUsedAt).toISOString(),
        user_agent: s.userAgent,
        ip: s.ip,
        current: s.id === auth.sid,
      })),
    }));
  }

  /** Revokes one of the caller's sessions; the same 404 for an unknown id and for another user's session. */
  async revokeSession(
    token: string,
    sessionId: string,
    client: ClientInfo,
  ): Promise<{ message: string; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      if (!(await this.sessions.revoke(auth.userId, sessionId))) throw new DomainError('session_not_found');
      await this.audit.record({
        event: 'session_revoked',
        userId: auth.userId,
        ...origin(client),
        detail: { sid: sessionId, current: sessionId === auth.sid },
      });
      return { message: 'Session revoked' };
    });
  }
}
