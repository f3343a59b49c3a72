/** Every error a client can see: its stable code, HTTP status and default message (SPEC §2 wording kept verbatim). */
export const ERRORS = {
  validation_failed: { status: 400, message: 'Invalid request' },
  invalid_json: { status: 400, message: 'Request body is not valid JSON' },
  weak_password: { status: 400, message: 'Password does not meet the password policy' },
  invalid_username: { status: 400, message: 'Username does not meet the username rules' },
  current_password_required: { status: 400, message: 'current_password is required to change the password' },
  no_email: { status: 400, message: 'The account has no email address' },
  invalid_verification_token: { status: 400, message: 'Invalid or expired verification token' },
  invalid_reset_token: { status: 400, message: 'Invalid or expired reset token' },
  invalid_cursor: { status: 400, message: 'cursor is malformed' },
  token_missing: { status: 401, message: 'Token is missing' },
  invalid_token: { status: 401, message: 'Invalid or expired token' },
  invalid_credentials: { status: 401, message: 'Invalid credentials' },
  invalid_refresh_token: { status: 401, message: 'Invalid or expired refresh token' },
  invalid_client: { status: 401, message: 'Client authentication failed' },
  wrong_current_password: { status: 403, message: 'Current password is incorrect' },
  forbidden: { status: 403, message: 'Forbidden' },
  not_found: { status: 404, message: 'Not found' },
  user_not_found: { status: 404, message: 'User not found' },
  session_not_found: { status: 404, message: 'Session not found' },
  method_not_allowed: { status: 405, message: 'Method not allowed' },
  username_taken: { status: 409, message: 'Username already exists' },
  email_taken: { status: 409, message: 'Email already in use' },
  email_already_verified: { status: 409, message: 'Email is already verified' },
  payload_too_large: { status: 413, message: 'Request body is too large' },
  unsupported_media_type: { status: 415, message: 'Content-Type must be application/json' },
  rate_limited: { status: 429, message: 'Too many requests' },
  invalid_mfa_code: { status: 400, message: 'Invalid authentication code' },
  // The same code on the wire, 401 where the code is the credential (POST /mfa/verify, SPEC §10).
  mfa_code_rejected: { status: 401, message: 'Invalid authentication code', wire: 'invalid_mfa_code' },
  invalid_mfa_token: { status: 401, message: 'Invalid or expired MFA token' },
  mfa_already_enabled: { status: 409, message: 'Two-factor authentication is already enabled' },
  mfa_not_enabled: { status: 409, message: 'Two-factor authentication is not enabled' },
  mfa_setup_required: { status: 409, message: 'Two-factor setup has not been started' },
  internal_error: { status: 500, message: 'Internal server error' },
  store_unavailable: { status: 503, message: 'Service temporarily unavailable' },
  server_busy: { status: 503, message: 'Server is busy, retry shortly' },
} as const satisfies Record<string, { status: number; message: string; wire?: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The code a client sees: the catalogue key, or the `wire` code an entry shares with another status. */
export function wireCode(code: ErrorCode): string {
  const entry = ERRORS[code];
  return 'wire' in entry ? entry.wire : code;
}

export interface DomainErrorOptions {
  message?: string;
  cause?: unknown;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  retryAfter?: number;
}

/** An expected failure of a use case: carries a catalogue code, never an HTTP status. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly retryAfter: number | undefined;
  /** The next access token, when the failing request had already consumed the presented one. */
  nextToken: string | undefined;

  constructor(code: ErrorCode, options: DomainErrorOptions = {}) {
    super(options.message ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'DomainError';
    this.code = code;
    this.retryAfter = options.retryAfter;
  }
}

/** A backing store (token store or database) could not be reached; always surfaces as 503. */
export class StoreUnavailableError extends DomainError {
  constructor(cause: unknown) {
    super('store_unavailable', { cause, retryAfter: 1 });
    this.name = 'StoreUnavailableError';
  }
}

/** Next tokens of errors that are not DomainErrors (kept off the error object, so that no log serializes them). */
const nextTokens = new WeakMap<object, string>();

/**
 * Marks a failure of a request whose token was already consumed with the token the client must use next, so
 * that the answer carries it whatever the failure (SPEC §2: a client is never left without a token). A thrown
 * value that is not an object is wrapped in an Error, which is returned to be thrown instead.
 */
export function attachNextToken(error: unknown, token: string): unknown {
  if (error instanceof DomainError) {
    error.nextToken = token;
    return error;
  }
  const thrown = typeof error === 'object' && error !== null ? error : new Error(String(error));
  nextTokens.set(thrown, token);
  return thrown;
}

/** The next token attached to a failure by `attachNextToken`, if any. */
export function nextTokenOf(error: unknown): string | undefined {
  if (error instanceof DomainError) return error.nextToken;
  return typeof error === 'object' && error !== null ? nextTokens.get(error) : undefined;
}
