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

export interface NewSession {
  userId: number;
  sid: string;
  userAgent: string;
  ip: string;
  /** The session's first access token. */
  token: TokenGrant;
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

/** The pending second step of a login (SPEC §10): only a hash of the mfa_token is kept. */
export interface MfaChallenge {
  userId: number;
  tokenHash: string;
  /** What the password step read of the user's session fence, compared when the session is created. */
  fence: string;
  expiresAt: number;
}

/**
 * What the code presented with an mfa_token turned out to be: `wrong`, a right TOTP code of time step `step`
 * (accepted once per user: the step is remembered for `replayTtlMs`), or a right recovery code.
 */
export type MfaAttempt =
  { kind: 'wrong' } | { kind: 'totp'; step: number; replayTtlMs: number } | { kind: 'recovery' };

/**
 * `accepted`: the challenge is used up (single use) and its fence returned; `wrong` and `replayed`: one more
 * failed attempt was counted (the challenge dies at the limit); `invalid`: no such live challenge.
 */
export type MfaOutcome =
  | { status: 'accepted'; fence: string }
  | { status: 'wrong' | 'replayed'; attemptsLeft: number }
  | { status: 'invalid' };

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
  /** Creates a session with refresh counter 0 and its first access token. */
  createSession(session: NewSession, now: number): Promise<void>;
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
  /** Revokes every session of the user; returns how many were live. */
  revokeUserSessions(userId: number, now: number): Promise<number>;
  /** Stores a login's pending second step until `challenge.expiresAt`. */
  createMfaChallenge(challenge: MfaChallenge, now: number): Promise<void>;
  /**
   * Settles one attempt at a challenge, atomically: counts a failure (at most `maxAttempts`, then the challenge is
   * gone), refuses a TOTP step this user already used, or uses the challenge up.
   */
  settleMfaChallenge(
    userId: number,
    tokenHash: string,
    attempt: MfaAttempt,
    maxAttempts: number,
    now: number,
  ): Promise<MfaOutcome>;
  /** Marks a TOTP step of the user as used; false when it already was (a replay). */
  useTotpStep(userId: number, step: number, ttlMs: number, now: number): Promise<boolean>;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
