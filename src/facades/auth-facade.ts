import { DomainError } from '../errors.js';
import type { ClientInfo, Grant, SessionService } from '../services/session-service.js';
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

/** Login, token validation and renewal, refresh, logout and session management (the seed's AuthFacade). */
export class AuthFacade {
  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
  ) {}

  /** Checks credentials and opens a session. */
  async authenticate(username: string, password: string, client: ClientInfo): Promise<TokenResponse> {
    const user = await this.users.verifyCredentials(username, password);
    return tokenResponse(await this.sessions.start(user.id, client));
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
  async logout(token: string): Promise<{ message: string }> {
    await this.sessions.end(token);
    return { message: 'Logged out successfully' };
  }

  /** Rotates a refresh token into a new access and refresh token. */
  async refresh(refreshToken: string): Promise<TokenResponse> {
    return tokenResponse(await this.sessions.refresh(refreshToken));
  }

  /** Revokes every session of the caller, the current one included. */
  async logoutAll(token: string): Promise<{ message: string; revoked: number }> {
    return this.sessions.guard(token, async (auth) => ({
      message: 'Logged out of all sessions',
      revoked: await this.sessions.revokeAll(auth.userId),
    }));
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
  async revokeSession(token: string, sessionId: string): Promise<{ message: string; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      if (!(await this.sessions.revoke(auth.userId, sessionId))) throw new DomainError('session_not_found');
      return { message: 'Session revoked' };
    });
  }
}
