import { asVerifyError, authenticate, challenge } from './authenticate.js';
import type { ClaimsCheck } from './roles.js';
import type { KeywardClaims, Verifier } from './verifier.js';

/** The parts of Express's request and response the middleware uses (no dependency on Express itself). */
export interface ExpressLikeRequest {
  headers: { authorization?: string | undefined };
  keyward?: KeywardClaims;
}
export interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): unknown;
}

/**
 * Express (or Connect) middleware: verifies the bearer token, runs the checks (e.g. `requireRoles('admin')`) and
 * puts the claims on `req.keyward`; answers `401`/`403`/`503` with `{"error","code"}` otherwise.
 */
export function expressMiddleware(
  verifier: Verifier,
  ...checks: ClaimsCheck[]
): (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    authenticate(verifier, req.headers.authorization, ...checks).then(
      (claims) => {
        req.keyward = claims;
        next();
      },
      (error: unknown) => {
        const refusal = asVerifyError(error);
        const header = challenge(refusal);
        if (header) res.setHeader('WWW-Authenticate', header);
        res.status(refusal.status).json(refusal.toJSON());
      },
    );
  };
}
