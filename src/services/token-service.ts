import { randomUUID } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import { DomainError } from '../errors.js';
import type { KeySet, SigningKey } from './signing-keys.js';

/** The claims of a verified Keyward access token. */
export interface AccessClaims {
  userId: number;
  sid: string;
  jti: string;
  /** Expiry, epoch milliseconds. */
  exp: number;
}

export interface IssuedToken {
  token: string;
  jti: string;
  /** Expiry, epoch milliseconds. */
  expiresAt: number;
}

export interface TokenServiceOptions {
  keys: KeySet;
  issuer: string;
  audience: string;
  accessTtlSec: number;
  maxTokenBytes: number;
  now?: () => number;
}

const ACCESS_TYP = 'at+jwt';

/**
 * How many token strings `verify` remembers. A signature check is most of the CPU an authenticated request
 * costs (Ed25519 verify: about 175 µs here, against 60 µs to sign); the token a client presents is, in the
 * common case, the one this process signed for it on the previous request, or (TOKEN_ROTATION=off) one it
 * already verified. Entries are small (~0.5 KB), so this bounds the memory to a few MB.
 */
const KNOWN_TOKENS = 8192;
const ALLOWED_HEADER = new Set(['alg', 'typ', 'kid']);

type Verify = (token: string) => Record<string, unknown>;

function invalid(cause?: unknown): DomainError {
  return new DomainError('invalid_token', { cause });
}

function decodeHeader(token: string): Record<string, unknown> {
  const dot = token.indexOf('.');
  if (dot <= 0 || token.indexOf('.', dot + 1) < 0) throw invalid();
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
  } catch (cause) {
    throw invalid(cause);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid();
  return header as Record<string, unknown>;
}

/** Signs and verifies access tokens (SPEC §3); the only module that touches the JWT library. */
export class TokenService {
  readonly accessTtlSec: number;
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verifiers = new Map<string, { key: SigningKey; verify: Verify }>();
  private readonly maxTokenBytes: number;
  private readonly now: () => number;
  /** Token strings known to carry a valid signature (signed here, or verified), least recently used first. */
  private readonly known = new Map<string, AccessClaims>();

  constructor(options: TokenServiceOptions) {
    this.accessTtlSec = options.accessTtlSec;
    this.maxTokenBytes = options.maxTokenBytes;
    this.now = options.now ?? Date.now;
    const { signer } = options.keys;
    this.sign = createSigner({
      key: signer.signingMaterial,
      algorithm: signer.alg,
      kid: signer.kid,
      header: { alg: signer.alg, typ: ACCESS_TYP },
      iss: options.issuer,
      aud: options.audience,
    });
    for (const key of options.keys.byKid.values()) {
      // One verifier per key, pinned to that key's algorithm: an HS256 token can never be checked
      // against an Ed25519 public key used as an HMAC secret (key-type confusion).
      const verify = createVerifier({
        key: key.verifyingMaterial,
        algorithms: [key.alg],
        allowedIss: options.issuer,
        allowedAud: options.audience,
        // fast-jwt checks iss/aud only when present: requiring them makes a token without them invalid.
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti', 'sub', 'sid', 'user_id'],
      }) as Verify;
      this.verifiers.set(key.kid, { key, verify });
    }
  }

  /** Issues an access token for a session; every token has the same lifetime whatever route issues it. */
  issue(userId: number, sid: string): IssuedToken {
    const jti = randomUUID();
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.accessTtlSec;
    const token = this.sign({ sub: String(userId), user_id: userId, sid, jti, iat, exp });
    this.remember(token, { userId, sid, jti, exp: exp * 1000 });
    return { token, jti, expiresAt: exp * 1000 };
  }

  /**
   * Verifies signature, header and claims; throws `invalid_token` for anything that is not ours and live.
   *
   * A byte-identical copy of a token this process signed or verified before is not verified again: its
   * signature was valid then and the keys cannot change while the process runs, so the outcome would be the
   * same; its expiry is still checked. Only exact strings match (a token changed by one bit is a miss and goes
   * through the full check), nothing a client sends can enter the cache without passing that check, and this
   * says nothing about revocation, which the token store decides on every request.
   */
  verify(token: string): AccessClaims {
    if (token.length > this.maxTokenBytes) throw invalid();
    const known = this.known.get(token);
    if (known !== undefined) {
      this.known.delete(token);
      if (known.exp <= this.now()) throw invalid();
      this.known.set(token, known);
      return known;
    }
    const claims = this.verifyFully(token);
    this.remember(token, claims);
    return claims;
  }

  /** Drops a token that can no longer be used (consumed or replayed), so the cache keeps the live ones. */
  forget(token: string): void {
    this.known.delete(token);
  }

  private remember(token: string, claims: AccessClaims): void {
    this.known.set(token, Object.freeze(claims));
    if (this.known.size > KNOWN_TOKENS) {
      const oldest = this.known.keys().next();
      if (oldest.done !== true) this.known.delete(oldest.value);
    }
  }

  private verifyFully(token: string): AccessClaims {
    const header = decodeHeader(token);
    for (const name of Object.keys(header)) if (!ALLOWED_HEADER.has(name)) throw invalid();
    if (header.typ !== ACCESS_TYP || typeof header.kid !== 'string') throw invalid();
    const entry = this.verifiers.get(header.kid);
    if (!entry || header.alg !== entry.key.alg) throw invalid();
    let payload: Record<string, unknown>;
    try {
      payload = entry.verify(token);
    } catch (cause) {
      throw invalid(cause);
    }
    const { sub, user_id: userId, sid, jti, exp } = payload;
    if (
      typeof sub !== 'string' ||
      !Number.isSafeInteger(userId) ||
      String(userId) !== sub ||
      typeof sid !== 'string' ||
      sid.length === 0 ||
      typeof jti !== 'string' ||
      jti.length === 0 ||
      typeof exp !== 'number' ||
      // RFC 7519 §4.1.4: not accepted on or after exp (fast-jwt still accepts at exp), on the injected clock.
      exp * 1000 <= this.now()
    ) {
      throw invalid();
    }
    return { userId: userId as number, sid, jti, exp: exp * 1000 };
  }
}
