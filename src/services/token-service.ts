import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  randomUUID,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { ChurnMap } from '../churn-map.js';
import { DomainError } from '../errors.js';
import type { KeySet, SigningAlgorithm, SigningKey } from './signing-keys.js';

/** The claims of a verified Keyward access token. */
export interface AccessClaims {
  userId: number;
  sid: string;
  jti: string;
  /** Expiry, epoch milliseconds. */
  exp: number;
  /** Issue time, epoch seconds (the `iat` claim). */
  iat: number;
  /** The `roles` claim: the user's roles when the session's login or last refresh read them (docs/tokens.md). */
  roles: readonly string[];
}

/** The id and expiry (epoch milliseconds) of a token being issued: what a token store allowlists. */
export interface TokenId {
  jti: string;
  expiresAt: number;
}

/**
 * A token being signed: its id and expiry are known at once (so that the store can allowlist it while the
 * signature is computed off the event loop), the compact JWS string when `token` resolves.
 */
export interface IssuedToken {
  token: Promise<string>;
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
 * How many token strings `verify` remembers. A signature check is the largest CPU cost an authenticated
 * request could have; the token a client presents is, in the common case, the one this process signed for it
 * on the previous request, or (TOKEN_ROTATION=off) one it already verified. Entries are small (~0.5 KB), so
 * this bounds the memory to a few MB.
 */
const KNOWN_TOKENS = 8192;
const ALLOWED_HEADER = new Set(['alg', 'typ', 'kid']);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ignore = (): void => undefined;
const NO_ROLES: readonly string[] = Object.freeze([]);

/** The `roles` claim: absent (a token from before roles existed) is none; anything but strings is refused. */
function rolesClaim(value: unknown): readonly string[] | undefined {
  if (value === undefined) return NO_ROLES;
  if (!Array.isArray(value) || value.some((role) => typeof role !== 'string')) return undefined;
  return Object.freeze(value as string[]);
}

/** Signature primitives of one key, with its algorithm fixed by Keyward's key record, never by a token. */
interface KeyCrypto {
  alg: SigningAlgorithm;
  signatureBytes: number;
  sign(input: Buffer): Promise<Buffer> | Buffer;
  verify(input: Buffer, signature: Buffer): Promise<boolean> | boolean;
}

/**
 * Ed25519 through node:crypto's callback API, which runs the signature on libuv's thread pool: the event loop
 * only hands the job over (about 7 µs, against 25–30 µs for the signature itself on the reference machine).
 */
function ed25519Crypto(key: SigningKey): KeyCrypto {
  const privateKey: KeyObject = createPrivateKey(key.signingMaterial);
  const publicKey: KeyObject = createPublicKey(key.verifyingMaterial);
  return {
    alg: 'EdDSA',
    signatureBytes: 64,
    sign: (input) =>
      new Promise((resolve, reject) => {
        cryptoSign(null, input, privateKey, (error, signature) => {
          if (error) reject(error);
          else resolve(signature);
        });
      }),
    verify: (input, signature) =>
      new Promise((resolve, reject) => {
        cryptoVerify(null, input, publicKey, signature, (error, ok) => {
          if (error) reject(error);
          else resolve(ok);
        });
      }),
  };
}

/**
 * HMAC-SHA-256 stays on the event loop: over a token's ~300 bytes it costs 3.5–4.6 µs of CPU, less than
 * handing it to the thread pool would (11–14 µs through WebCrypto; node:crypto has no callback form of HMAC) (docs/jwt-library.md).
 */
function hs256Crypto(key: SigningKey): KeyCrypto {
  const secret = createSecretKey(Buffer.from(key.signingMaterial));
  const mac = (input: Buffer): Buffer => createHmac('sha256', secret).update(input).digest();
  return {
    alg: 'HS256',
    signatureBytes: 32,
    sign: mac,
    verify: (input, signature) => timingSafeEqual(mac(input), signature),
  };
}

function keyCrypto(key: SigningKey): KeyCrypto {
  return key.alg === 'EdDSA' ? ed25519Crypto(key) : hs256Crypto(key);
}

function invalid(cause?: unknown): DomainError {
  return new DomainError('invalid_token', { cause });
}

function decodeJsonObject(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (cause) {
    throw invalid(cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid();
  return value as Record<string, unknown>;
}

function encodeJson(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Signs and verifies access tokens (SPEC §3): compact JWS over node:crypto, see docs/jwt-library.md. */
export class TokenService {
  readonly accessTtlSec: number;
  private readonly signer: KeyCrypto;
  /** `base64url(header).` of every token this process signs. */
  private readonly signedHeader: string;
  private readonly verifiers = new Map<string, KeyCrypto>();
  private readonly issuer: string;
  private readonly audience: string;
  private readonly maxTokenBytes: number;
  private readonly now: () => number;
  /**
   * Token strings known to carry a valid signature (signed here, or verified), oldest first; when it is full the
   * oldest goes, and a token still in use then costs one full verification to come back. A hit writes nothing:
   * with single-use tokens the caller forgets the token a moment later, and with TOKEN_ROTATION=off a
   * least-recently-used order would save one verification per KNOWN_TOKENS new tokens at the price of two writes
   * per request. Every single-use request adds one entry and removes one: a ChurnMap, so that they die young
   * (src/churn-map.ts).
   */
  private readonly known = new ChurnMap<string, AccessClaims>();

  constructor(options: TokenServiceOptions) {
    this.accessTtlSec = options.accessTtlSec;
    this.issuer = options.issuer;
    this.audience = options.audience;
    this.maxTokenBytes = options.maxTokenBytes;
    this.now = options.now ?? Date.now;
    // One set of primitives per key, its algorithm pinned to the key's own: an HS256 token can never be checked
    // against an Ed25519 public key used as an HMAC secret (key-type confusion). Keys are parsed here, once.
    for (const key of options.keys.byKid.values()) this.verifiers.set(key.kid, keyCrypto(key));
    const { signer } = options.keys;
    this.signer = this.verifiers.get(signer.kid) ?? keyCrypto(signer);
    this.signedHeader = `${encodeJson({ alg: signer.alg, typ: ACCESS_TYP, kid: signer.kid })}.`;
  }

  /**
   * Issues an access token for a session; every token has the same lifetime whatever route issues it. `roles`
   * are taken as given: a renewal passes on the verified token's own (no database read on the hot path).
   */
  issue(userId: number, sid: string, roles: readonly string[] = NO_ROLES): IssuedToken {
    const jti = randomUUID();
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.accessTtlSec;
    const payload = {
      iss: this.issuer,
      aud: this.audience,
      sub: String(userId),
      user_id: userId,
      sid,
      roles,
      jti,
      iat,
      exp,
    };
    const input = this.signedHeader + encodeJson(payload);
    const claims: AccessClaims = { userId, sid, jti, exp: exp * 1000, iat, roles };
    const token = Promise.resolve(this.signer.sign(Buffer.from(input, 'latin1'))).then((signature) => {
      const signed = `${input}.${signature.toString('base64url')}`;
      this.remember(signed, claims);
      return signed;
    });
    // Whoever awaits `token` sees a failure; a caller that gave up on it first (its store call failed) does not
    // leave an unhandled rejection behind.
    token.catch(ignore);
    return { token, jti, expiresAt: exp * 1000 };
  }

  /**
   * Verifies signature, header and claims; rejects with `invalid_token` for anything that is not ours and live.
   *
   * A byte-identical copy of a token this process signed or verified before is not verified again: its
   * signature was valid then and the keys cannot change while the process runs, so the outcome would be the
   * same; its expiry is still checked. Only exact strings match (a token changed by one bit is a miss and goes
   * through the full check), nothing a client sends can enter the cache without passing that check, and this
   * says nothing about revocation, which the token store decides on every request.
   */
  async verify(token: string): Promise<AccessClaims> {
    if (token.length > this.maxTokenBytes) throw invalid();
    const known = this.known.get(token);
    if (known !== undefined) {
      if (known.exp > this.now()) return known;
      this.known.delete(token);
      throw invalid();
    }
    const claims = await this.verifyFully(token);
    this.remember(token, claims);
    return claims;
  }

  /**
   * Issues a token of a session through `allowlist`, the token store's atomic step that allows it (createSession,
   * refresh), which runs while the token is signed. Resolves to the token, or to undefined when `allowlist`
   * refused it; a token that was not allowlisted (refused, or the store failed) leaves the verified-token cache.
   */
  async issueThrough(
    userId: number,
    sid: string,
    allowlist: (next: TokenId) => Promise<boolean>,
    roles: readonly string[] = NO_ROLES,
  ): Promise<string | undefined> {
    const next = this.issue(userId, sid, roles);
    let allowed = false;
    try {
      allowed = await allowlist({ jti: next.jti, expiresAt: next.expiresAt });
    } finally {
      if (!allowed) this.drop(next);
    }
    return allowed ? await next.token : undefined;
  }

  /**
   * Replaces `presented` (verified: these are its claims) by a fresh token of the same session. `swap` is the token
   * store's atomic consume: it gets the next token's id and expiry while the token is signed, and says whether the
   * presented one was live. Resolves to the next token, or to undefined when `swap` refused. Either way the
   * presented token leaves the verified-token cache (consumed or replayed, it is never good again); a next token
   * that was not allowlisted leaves it too.
   */
  async rotate(
    presented: string,
    claims: AccessClaims,
    swap: (next: TokenId) => Promise<boolean>,
  ): Promise<string | undefined> {
    // The roles travel from token to token: no database read on the hot path (docs/tokens.md).
    const next = this.issue(claims.userId, claims.sid, claims.roles);
    let swapped = false;
    try {
      swapped = await swap({ jti: next.jti, expiresAt: next.expiresAt });
    } finally {
      if (!swapped) this.drop(next);
    }
    this.known.delete(presented);
    return swapped ? await next.token : undefined;
  }

  /** Drops a token being issued that no store allowlisted from the cache, once it is signed. */
  private drop(issued: IssuedToken): void {
    issued.token.then((token) => {
      this.known.delete(token);
    }, ignore);
  }

  private remember(token: string, claims: AccessClaims): void {
    this.known.set(token, Object.freeze(claims));
    if (this.known.size > KNOWN_TOKENS) {
      const oldest = this.known.keys().next();
      if (oldest.done !== true) this.known.delete(oldest.value);
    }
  }

  private async verifyFully(token: string): Promise<AccessClaims> {
    if (!COMPACT_JWS.test(token)) throw invalid();
    const headerEnd = token.indexOf('.');
    const payloadEnd = token.lastIndexOf('.');
    const header = decodeJsonObject(token.slice(0, headerEnd));
    for (const name of Object.keys(header)) if (!ALLOWED_HEADER.has(name)) throw invalid();
    if (header.typ !== ACCESS_TYP || typeof header.kid !== 'string') throw invalid();
    const key = this.verifiers.get(header.kid);
    if (!key || header.alg !== key.alg) throw invalid();
    const encodedSignature = token.slice(payloadEnd + 1);
    const signature = Buffer.from(encodedSignature, 'base64url');
    // Only the canonical encoding of a signature of the right length: no padding bits, no second spelling.
    if (signature.length !== key.signatureBytes || signature.toString('base64url') !== encodedSignature) {
      throw invalid();
    }
    let ok: boolean;
    try {
      ok = await key.verify(Buffer.from(token.slice(0, payloadEnd), 'latin1'), signature);
    } catch (cause) {
      throw invalid(cause);
    }
    if (!ok) throw invalid();
    return this.checkClaims(decodeJsonObject(token.slice(headerEnd + 1, payloadEnd)));
  }

  private checkClaims(payload: Record<string, unknown>): AccessClaims {
    const { iss, aud, sub, user_id: userId, sid, jti, iat, exp, nbf } = payload;
    const nowSec = this.now() / 1000;
    const roles = rolesClaim(payload.roles);
    if (
      roles === undefined ||
      iss !== this.issuer ||
      aud !== this.audience ||
      typeof sub !== 'string' ||
      !Number.isSafeInteger(userId) ||
      String(userId) !== sub ||
      typeof sid !== 'string' ||
      sid.length === 0 ||
      typeof jti !== 'string' ||
      jti.length === 0 ||
      typeof iat !== 'number' ||
      !Number.isFinite(iat) ||
      typeof exp !== 'number' ||
      !Number.isFinite(exp) ||
      // RFC 7519 §4.1.4: not accepted on or after exp.
      exp <= nowSec ||
      (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSec))
    ) {
      throw invalid();
    }
    return { userId: userId as number, sid, jti, exp: exp * 1000, iat, roles };
  }
}
