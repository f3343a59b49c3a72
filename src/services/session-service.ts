import { randomBytes } from 'node:crypto';
import type { ClientInfo } from '../domain/client-info.js';
import { attachNextToken, DomainError } from '../errors.js';
import type { RefreshOutcome, SessionGeneration, SessionInfo, TokenStore } from '../stores/token-store.js';
import type { RefreshTokens } from './refresh-tokens.js';
import type { AccessClaims, TokenService } from './token-service.js';

export type TokenRotation = 'per-request' | 'off';

/** What a login or a refresh hands out. */
export interface Grant {
  userId: number;
  sid: string;
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

/** An authorized request: who it is, and the token the client must use next. */
export interface Auth {
  userId: number;
  sid: string;
  token: string;
  /** The roles the presented token carries (its `roles` claim). */
  roles: readonly string[];
}

export interface SessionEvents {
  tokenIssued?: () => void;
  tokenConsumed?: () => void;
  sessionsRevoked?: (count: number) => void;
  refreshReuse?: (userId: number, sid: string, client?: ClientInfo) => void;
}

export interface SessionServiceOptions {
  store: TokenStore;
  /**
   * The roles of a user who may still hold sessions, undefined when the account is gone or disabled: read on a
   * refresh (not on each renewal), so that a refresh brings the token's `roles` claim up to date.
   */
  currentRoles?: (userId: number) => Promise<readonly string[] | undefined>;
  tokens: TokenService;
  refreshTokens: RefreshTokens;
  rotation: TokenRotation;
  now?: () => number;
  events?: SessionEvents;
}

const MAX_USER_AGENT = 512;

/** Sessions, access-token checks and refresh-token rotation: SPEC §3 over a TokenStore. */
export class SessionService {
  readonly rotation: TokenRotation;
  private readonly store: TokenStore;
  private readonly tokens: TokenService;
  private readonly refreshTokens: RefreshTokens;
  private readonly now: () => number;
  private readonly events: SessionEvents;
  private readonly currentRoles: (userId: number) => Promise<readonly string[] | undefined>;

  constructor(options: SessionServiceOptions) {
    this.store = options.store;
    this.currentRoles = options.currentRoles ?? (async () => []);
    this.tokens = options.tokens;
    this.refreshTokens = options.refreshTokens;
    this.rotation = options.rotation;
    this.now = options.now ?? Date.now;
    this.events = options.events ?? {};
  }

  get accessTtlSec(): number {
    return this.tokens.accessTtlSec;
  }

  /**
   * The user's session generation, for `start`: read it before reading the credentials (the password hash) that
   * the new session will be based on (docs/tokens.md, "Fences").
   */
  generation(userId: number): Promise<SessionGeneration> {
    return this.store.generation(userId, this.now());
  }

  /**
   * Opens a session for a user who just proved who they are, with credentials read after `generation` was. If a
   * fence (password change, reset, deletion, logout_all, disable) came in between, nothing is opened and the
   * login fails with `invalid_credentials`: what it checked is no longer the truth. `roles` go into its tokens.
   */
  async start(
    userId: number,
    client: ClientInfo,
    generation: SessionGeneration,
    roles: readonly string[] = [],
  ): Promise<Grant> {
    const sid = randomBytes(16).toString('base64url');
    const accessToken = await this.tokens.issueThrough(
      userId,
      sid,
      (token) =>
        this.store.createSession(
          {
            userId,
            sid,
            userAgent: client.userAgent.slice(0, MAX_USER_AGENT),
            ip: client.ip,
            token,
            generation,
          },
          this.now(),
        ),
      roles,
    );
    if (accessToken === undefined) throw new DomainError('invalid_credentials');
    this.events.tokenIssued?.();
    return this.grant(userId, sid, accessToken, 0);
  }

  /** Checks an access token per TOKEN_ROTATION: consumed and replaced, or checked and echoed. */
  async authorize(token: string): Promise<Auth> {
    if (this.rotation === 'per-request') return this.renew(token);
    const claims = await this.tokens.verify(token);
    if (!(await this.store.check(claims, this.now()))) throw new DomainError('invalid_token');
    return { userId: claims.userId, sid: claims.sid, token, roles: claims.roles };
  }

  /**
   * Consumes the token and returns a fresh one for the same session (whatever TOKEN_ROTATION says): the store
   * swaps the presented token's id for the next one's atomically, so of concurrent uses of one token exactly one
   * gets a successor.
   */
  async renew(token: string): Promise<Auth> {
    const claims = await this.tokens.verify(token);
    const next = await this.tokens.rotate(token, claims, (successor) =>
      this.store.consume(claims, successor, this.now()),
    );
    if (next === undefined) throw new DomainError('invalid_token');
    this.events.tokenConsumed?.();
    this.events.tokenIssued?.();
    return { userId: claims.userId, sid: claims.sid, token: next, roles: claims.roles };
  }

  /**
   * Runs `work` for an authorized request. Once the presented token is consumed, a failure of `work` still
   * carries the next token, so the client is never left without one.
   */
  async guard<T>(token: string, work: (auth: Auth) => Promise<T>): Promise<T> {
    const auth = await this.authorize(token);
    try {
      return await work(auth);
    } catch (error) {
      throw attachNextToken(error, auth.token);
    }
  }

  /** Like `guard`, and adds the next token to the result. */
  async withAuth<T extends object>(
    token: string,
    work: (auth: Auth) => Promise<T>,
  ): Promise<T & { token: string }> {
    return this.guard(token, async (auth) => ({ ...(await work(auth)), token: auth.token }));
  }

  /**
   * The claims of a live access token without using it up (RFC 7662 introspection): the token store is asked with
   * its non-consuming check, whatever TOKEN_ROTATION says. Undefined for anything not live; a store outage throws.
   */
  async inspect(token: string): Promise<AccessClaims | undefined> {
    let claims: AccessClaims;
    try {
      claims = await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'invalid_token') return undefined;
      throw error;
    }
    return (await this.store.check(claims, this.now())) ? claims : undefined;
  }

  /** The session a refresh token names, when this server issued it (its MAC checks); nothing is rotated. */
  refreshTokenSession(refreshToken: string): { userId: number; sid: string } | undefined {
    const parts = this.refreshTokens.decode(refreshToken);
    return parts && { userId: parts.userId, sid: parts.sid };
  }

  /** Logout: revokes the session of a live token. */
  async end(token: string): Promise<AccessClaims> {
    const claims = await this.tokens.verify(token);
    if (!(await this.store.endSession(claims, this.now()))) throw new DomainError('invalid_token');
    this.events.sessionsRevoked?.(1);
    return claims;
  }

  /** Rotates a refresh token (SPEC §3), detecting reuse; `client` is reported with a detected reuse. */
  async refresh(refreshToken: string, client?: ClientInfo): Promise<Grant> {
    const parts = this.refreshTokens.decode(refreshToken);
    if (!parts) throw new DomainError('invalid_refresh_token');
    const roles = await this.currentRoles(parts.userId);
    if (roles === undefined) throw new DomainError('invalid_refresh_token');
    let outcome = { status: 'invalid' } as RefreshOutcome;
    const accessToken = await this.tokens.issueThrough(
      parts.userId,
      parts.sid,
      async (token) => {
        outcome = await this.store.refresh(parts.userId, parts.sid, parts.counter, token, this.now());
        return outcome.status === 'rotated' || outcome.status === 'grace';
      },
      roles,
    );
    if (outcome.status === 'reuse') {
      this.events.refreshReuse?.(parts.userId, parts.sid, client);
      this.events.sessionsRevoked?.(1);
      throw new DomainError('invalid_refresh_token');
    }
    if (accessToken === undefined || outcome.status === 'invalid') {
      throw new DomainError('invalid_refresh_token');
    }
    this.events.tokenIssued?.();
    return this.grant(parts.userId, parts.sid, accessToken, outcome.counter);
  }

  list(userId: number): Promise<SessionInfo[]> {
    return this.store.listSessions(userId, this.now());
  }

  /** Revokes one of the user's sessions; false when it is not theirs or not live. */
  async revoke(userId: number, sid: string): Promise<boolean> {
    const revoked = await this.store.revokeSession(userId, sid, this.now());
    if (revoked) this.events.sessionsRevoked?.(1);
    return revoked;
  }

  /**
   * The fence of SPEC §8 (logout_all, deletion, password reset, disabling): revokes every session of the user
   * and, in the same atomic step, refuses every session that a login which checked credentials before it would
   * still create. Returns how many sessions were live.
   */
  async revokeAll(userId: number): Promise<number> {
    const count = await this.store.revokeUserSessions(userId, this.now());
    this.events.sessionsRevoked?.(count);
    return count;
  }

  /** The fence of a password change: like `revokeAll`, but the session that made the change stays. */
  async revokeOthers(userId: number, keepSid: string): Promise<number> {
    const count = await this.store.revokeUserSessions(userId, this.now(), { except: keepSid });
    this.events.sessionsRevoked?.(count);
    return count;
  }

  /**
   * For an account just created: removes any session a token store that outlived a database reset still holds
   * under its id. Not a fence (no login can have read the new account yet), so it leaves no generation behind.
   */
  async clearStale(userId: number): Promise<void> {
    const count = await this.store.revokeUserSessions(userId, this.now(), { fence: false });
    if (count > 0) this.events.sessionsRevoked?.(count);
  }

  private grant(userId: number, sid: string, accessToken: string, counter: number): Grant {
    return {
      userId,
      sid,
      accessToken,
      expiresIn: this.tokens.accessTtlSec,
      refreshToken: this.refreshTokens.encode({ userId, sid, counter }),
    };
  }
}
