import { DomainError } from '../errors.js';
import { origin, type AuditLog } from '../services/audit-log.js';
import type { ClientAuthenticator, ClientCredentials } from '../services/client-authenticator.js';
import type { ClientInfo } from '../domain/client-info.js';
import type { SessionService } from '../services/session-service.js';

/** RFC 7662 §2.2: the answer for a live access token. */
export interface ActiveToken {
  active: true;
  token_type: 'access_token';
  sub: string;
  user_id: number;
  sid: string;
  roles: string[];
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
}

/** The answer for anything else: expired, revoked, consumed, malformed, or not an access token. */
export interface InactiveToken {
  active: false;
}

/** Credentials from an HTTP Basic header: absent, unreadable (null), or read. */
export type PresentedClient = ClientCredentials | undefined | null;

export interface OAuthFacadeOptions {
  sessions: SessionService;
  clients: ClientAuthenticator;
  issuer: string;
  audience: string;
  audit?: AuditLog | undefined;
}

/** The standard endpoints of SPEC §12: RFC 7662 token introspection and RFC 7009 token revocation. */
export class OAuthFacade {
  private readonly sessions: SessionService;
  private readonly clients: ClientAuthenticator;
  private readonly issuer: string;
  private readonly audience: string;
  private readonly audit: AuditLog | undefined;

  constructor(options: OAuthFacadeOptions) {
    this.sessions = options.sessions;
    this.clients = options.clients;
    this.issuer = options.issuer;
    this.audience = options.audience;
    this.audit = options.audit;
  }

  /**
   * Whether an access token is live, for an authenticated client (`invalid_client` otherwise). Never consumes a
   * single-use token: the store is asked with its non-consuming check.
   */
  async introspect(client: PresentedClient, token: string): Promise<ActiveToken | InactiveToken> {
    if (this.clients.authenticate(client ?? undefined) === undefined) throw new DomainError('invalid_client');
    const claims = await this.sessions.inspect(token);
    if (!claims) return { active: false };
    return {
      active: true,
      token_type: 'access_token',
      sub: String(claims.userId),
      user_id: claims.userId,
      sid: claims.sid,
      roles: [...claims.roles],
      iss: this.issuer,
      aud: this.audience,
      iat: claims.iat,
      exp: Math.floor(claims.exp / 1000),
      jti: claims.jti,
    };
  }

  /**
   * Revokes the session of a refresh token this server issued, or of a live access token; answers the same for
   * anything else (RFC 7009 §2.2). No client authentication is needed (the token proves itself), but credentials
   * that are sent must be right.
   */
  async revoke(
    client: PresentedClient,
    token: string,
    hint: string | undefined,
    info: ClientInfo,
  ): Promise<Record<string, never>> {
    if (client !== undefined && this.clients.authenticate(client ?? undefined) === undefined) {
      throw new DomainError('invalid_client');
    }
    // The hint only orders the attempts (RFC 7009 §2.1); an unknown hint is ignored.
    const kinds =
      hint === 'access_token' ? (['access', 'refresh'] as const) : (['refresh', 'access'] as const);
    for (const kind of kinds) {
      const session =
        kind === 'refresh' ? this.sessions.refreshTokenSession(token) : await this.sessions.inspect(token);
      if (!session) continue;
      const revoked = await this.sessions.revoke(session.userId, session.sid);
      if (revoked) {
        await this.audit?.record({
          event: 'session_revoked',
          userId: session.userId,
          ...origin(info),
          detail: {
            sid: session.sid,
            via: 'rfc7009',
            token_type: kind === 'refresh' ? 'refresh_token' : 'access_token',
          },
        });
      }
      break;
    }
    return {};
  }
}
