/** Why a token was refused; `status` is the HTTP status a resource server should answer with. */
export type VerifyErrorCode = 'token_missing' | 'invalid_token' | 'forbidden' | 'introspection_failed';

const STATUS: Record<VerifyErrorCode, number> = {
  token_missing: 401,
  invalid_token: 401,
  forbidden: 403,
  introspection_failed: 503,
};

const MESSAGE: Record<VerifyErrorCode, string> = {
  token_missing: 'Token is missing',
  invalid_token: 'Invalid or expired token',
  forbidden: 'Forbidden',
  introspection_failed: 'Token introspection is unavailable',
};

/** A refused token, with a stable code (the same envelope as Keyward's own errors). */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode;
  readonly status: number;

  constructor(code: VerifyErrorCode, options: { cause?: unknown; message?: string } = {}) {
    super(options.message ?? MESSAGE[code], { cause: options.cause });
    this.name = 'VerifyError';
    this.code = code;
    this.status = STATUS[code];
  }

  /** The JSON body to answer with: `{"error","code"}`. */
  toJSON(): { error: string; code: VerifyErrorCode } {
    return { error: this.message, code: this.code };
  }
}
