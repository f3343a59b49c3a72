/** What one load-client loop sends, request after request. */
export type Workload =
  /** `GET /user`, each loop using the token returned by its previous response (chained). */
  | { kind: 'get-user'; tokens: string[] }
  /** `POST /validate_token` with the token in the Authorization header, chained the same way. */
  | { kind: 'validate'; tokens: string[] }
  /** `POST /authenticate_user` with correct credentials, loop `i` using `credentials[i % n]`. */
  | { kind: 'login'; credentials: { username: string; password: string }[] }
  /** `POST /user` with a username never used before. */
  | { kind: 'signup'; prefix: string; password: string };

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
