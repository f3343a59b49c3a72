import { VerifyError } from './errors.js';
import type { ClaimsCheck } from './roles.js';
import type { KeywardClaims, Verifier } from './verifier.js';

const BEARER = /^bearer\s+(\S+)\s*$/i;

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case); a VerifyError otherwise. */
export function bearerToken(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') throw new VerifyError('token_missing');
  const match = BEARER.exec(value.trim());
  if (!match?.[1]) throw new VerifyError('invalid_token');
  return match[1];
}

/** The plain function: verifies the bearer token of an Authorization header, then runs the checks. */
export async function authenticate(
  verifier: Verifier,
  authorization: string | string[] | undefined,
  ...checks: ClaimsCheck[]
): Promise<KeywardClaims> {
  const claims = await verifier.verify(bearerToken(authorization));
  for (const check of checks) check(claims);
  return claims;
}

/** The `WWW-Authenticate` header for a refusal (RFC 6750 §3). */
export function challenge(error: VerifyError): string | undefined {
  if (error.code === 'token_missing') return 'Bearer';
  if (error.code === 'invalid_token') return 'Bearer error="invalid_token"';
  if (error.code === 'forbidden') return 'Bearer error="insufficient_scope"';
  return undefined;
}

/** Any failure as a VerifyError (an unexpected one becomes `introspection_failed`, a 503, never a 500 leak). */
export function asVerifyError(error: unknown): VerifyError {
  return error instanceof VerifyError ? error : new VerifyError('introspection_failed', { cause: error });
}
