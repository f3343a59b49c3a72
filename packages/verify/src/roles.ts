import { VerifyError } from './errors.js';
import type { KeywardClaims } from './verifier.js';

/** A check on verified claims: throws a VerifyError (`forbidden`) when it fails. */
export type ClaimsCheck = (claims: KeywardClaims) => void;

/** Requires every one of `roles` in the token's `roles` claim; `forbidden` (403) otherwise. */
export function requireRoles(...roles: string[]): ClaimsCheck {
  return (claims) => {
    const held = new Set(claims.roles);
    if (!roles.every((role) => held.has(role))) throw new VerifyError('forbidden');
  };
}
