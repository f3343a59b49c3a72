/** What one load-client loop sends, request after request. */
export type Workload =
  /** `GET /user`, each loop using the token returned by its previous response (chained). */
  | { kind: 'get-user'; tokens: string[] }
  /** `POST /validate_token` with the token in the Authorization header, chained the same way. */
  | { kind: 'validate'; tokens: string[] }
  /** `POST /authenticate_user` with correct credentials, loop `i` using `credentials[i % n]`. */
  | { kind: 'login'; credentials: { username: string; password: string }[] }
  /** `POST /user` with a username never used before. */
  | { kind: 'signup'; prefix: string; password: string }
  /**
   * A login with a TOTP second factor: `POST /authenticate_user`, then `POST /mfa/verify` with the `mfa_token`
   * and the code (computed with node:crypto), timed and counted as one operation. Loop `i` logs in its own users
   * `users[i]` in turn: a code is accepted once per user and 30-second step, so each user is used at most once
   * per step (the steps one before and after the current one are accepted too).
   */
  | {
      kind: 'login-totp';
      users: TotpUser[][];
      /** The bare server checks no code: the users are reused without the once-per-step bookkeeping. */
      anyStep?: boolean;
    }
  /** RFC 7662 `POST /introspect` (HTTP Basic, form body) of the token `tokens[i % n]`; never consumes it. */
  | { kind: 'introspect'; tokens: string[]; authorization: string };

/** A user with TOTP turned on, as the login + TOTP scenario logs it in. */
export interface TotpUser {
  username: string;
  password: string;
  /** The base32 secret. */
  secret: string;
  /** The step of the code that confirmed the enrolment (used already). */
  confirmedStep: number;
}

/** One measurement, sent by the orchestrator to a load-client process. */
export interface RunSpec {
  id: number;
  origin: string;
  connections: number;
  durationMs: number;
  workload: Workload;
}

/** What a load-client process measured. */
export interface RunResult {
  id: number;
  requests: number;
  ok: number;
  non2xx: number;
  socketErrors: number;
  /** Chained loops that ended because a response carried no next token. */
  lostLoops: number;
  elapsedMs: number;
  histogram: { counts: [number, number][]; total: number; max: number };
  statuses: Record<string, number>;
  /** The tokens each chained loop must use next (so that the next round can go on with them). */
  tokens: string[];
}

export type ClientMessage = { type: 'run'; spec: RunSpec } | { type: 'exit' };
