/** A token the store should accept until `expiresAt` (epoch ms) while its session lives. */
export interface TokenGrant {
  jti: string;
  expiresAt: number;
}

/** What a verified access token points at. */
export interface TokenRef {
  userId: number;
  sid: string;
  jti: string;
}

/**
 * A user's session generation as read by `generation()`: opaque, compared for equality only. Every fence
 * (`revokeUserSessions`) moves it on in the same atomic step that revokes the sessions.
 */
export type SessionGeneration = string;

/** The generation of a user no fence has touched (or whose last fence is older than SESSION_MAX_TTL). */
export const INITIAL_GENERATION: SessionGeneration = '0';

/**
 * How many access tokens one session may hold at once (SPEC §8). Issuing one more (refresh, a replay inside the
 * reuse window, renewal) revokes the session's oldest; consuming one frees its place for its successor.
 */
export const MAX_TOKENS_PER_SESSION = 16;

export interface NewSession {
  userId: number;
  sid: string;
  userAgent: string;
  ip: string;
  /** The session's first access token. */
  token: TokenGrant;
  /** The generation read before the credentials that this session is based on were checked. */
  generation: SessionGeneration;
}

export interface SessionInfo {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  userAgent: string;
  ip: string;
}

/**
 * The result of presenting refresh counter `n` of a session:
 * `rotated` (n was current; the successor is n+1), `grace` (n was just rotated, within the reuse window:
 * the current successor is returned), `reuse` (an older or out-of-window counter: the session is now revoked),
 * `invalid` (no such live session, or a counter the server never issued).
 */
export type RefreshOutcome =
  { status: 'rotated' | 'grace'; counter: number } | { status: 'reuse' } | { status: 'invalid' };

/** What `revokeUserSessions` spares. */
export interface RevokeOptions {
  /** A session to keep (the one that changed the password). */
  except?: string | undefined;
  /**
   * False to leave the generation as it is: only for an account that has just been created, whose id no login
   * can have read yet, so that every signup does not leave a generation behind for SESSION_MAX_TTL.
   */
  fence?: boolean;
}

/** Lifetimes the store enforces, in milliseconds. */
export interface SessionPolicy {
  idleTtlMs: number;
  maxTtlMs: number;
  refreshReuseWindowMs: number;
}

/**
 * The allowlist of SPEC §3: a token is valid only while its jti and its session are present. Every method is
 * one atomic step; `now` is epoch milliseconds, passed in so that every instance and test agrees on time.
 */
export interface TokenStore {
  readonly kind: string;
  /** The user's current session generation; read it before reading the credentials a login checks. */
  generation(userId: number, now: number): Promise<SessionGeneration>;
  /**
   * Creates a session with refresh counter 0 and its first access token, unless a fence moved the user's
   * generation away from `session.generation` since it was read: then nothing is created and it returns false.
   */
  createSession(session: NewSession, now: number): Promise<boolean>;
  /** Single-use check: removes `ref.jti`, allows `next` and touches the session, or returns false. */
  consume(ref: TokenRef, next: TokenGrant, now: number): Promise<boolean>;
  /** Reusable check (TOKEN_ROTATION=off): true when the token and its session are live; touches the session. */
  check(ref: TokenRef, now: number): Promise<boolean>;
  /** Logout: revokes the token's session if the token is live; false otherwise. */
  endSession(ref: TokenRef, now: number): Promise<boolean>;
  /** Rotates the session's refresh counter and allows `next` (see RefreshOutcome). */
  refresh(
    userId: number,
    sid: string,
    counter: number,
    next: TokenGrant,
    now: number,
  ): Promise<RefreshOutcome>;
  /** The user's live sessions, oldest first. */
  listSessions(userId: number, now: number): Promise<SessionInfo[]>;
  /** Revokes one of the user's sessions; false when the user has no such live session. */
  revokeSession(userId: number, sid: string, now: number): Promise<boolean>;
  /**
   * The fence (SPEC §8): revokes every session of the user but `options.except`, and moves the user's generation
   * on, in one atomic step, so that no login that read the old generation can create a session afterwards.
   * Returns how many sessions were live and revoked. The generation is kept for SESSION_MAX_TTL.
   */
  revokeUserSessions(userId: number, now: number, options?: RevokeOptions): Promise<number>;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
