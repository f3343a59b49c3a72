import { base32Bytes, TOTP_STEP_MS, totpAt } from '../../bench/totp.js';

/**
 * RFC 6238 codes for tests, computed with node:crypto alone, independently of the library the server uses. One
 * implementation serves the tests and the bench's login + TOTP scenario (bench/totp.ts).
 */
export const base32Decode = base32Bytes;

/** The code (HMAC-SHA-1, 6 digits, 30-second steps) of a base32 secret at `atMs`. */
export function totpCode(secret: string, atMs: number): string {
  return totpAt(base32Bytes(secret), Math.floor(atMs / TOTP_STEP_MS));
}
