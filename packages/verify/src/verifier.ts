import { createHash } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { VerifyError } from './errors.js';

/** The claims of a verified Keyward access token. */
export interface KeywardClaims {
  /** The user id, as a string. */
  sub: string;
  /** The same id as a number (the seed's claim). */
  user_id: number;
  /** The session id. */
  sid: string;
  roles: string[];
  jti: string;
  iss: string;
  aud: string;
  /** Epoch seconds. */
  iat: number;
  /** Epoch seconds. */
  exp: number;
}

export interface IntrospectionOptions {
  /** Keyward's `POST /introspect`, e.g. `https://auth.example.com/introspect`. */
  url: string | URL;
  clientId: string;
  clientSecret: string;
  /** How long an answer is reused for the same token (default 5 s; 0 asks every time). */
  cacheSeconds?: number;
}

export interface VerifierOptions {
  /** Keyward's `/.well-known/jwks.json`. Keys are fetched once, cached, and refetched for an unknown `kid`. */
  jwksUrl: string | URL;
  issuer: string;
  audience: string;
  /** Ask `/introspect` too, so that a revoked session counts within `cacheSeconds`. */
  introspection?: IntrospectionOptions;
  /** Accepted signature algorithms (default `['EdDSA']`, Keyward's). */
  algorithms?: string[];
  /** Leeway for `exp`, in seconds (default 0). */
  clockToleranceSeconds?: number;
  /** The fetch used for introspection (default the global one). */
  fetch?: typeof fetch;
}

export interface Verifier {
  /** Resolves to the token's claims, or rejects with a VerifyError. */
  verify(token: string): Promise<KeywardClaims>;
}

const MAX_TOKEN_LENGTH = 8192;
const MAX_CACHE_ENTRIES = 10_000;

function toClaims(payload: JWTPayload): KeywardClaims {
  const { sub, sid, jti, iss, aud, iat, exp } = payload;
  const userId = payload.user_id;
  const roles = payload.roles ?? [];
  if (
    typeof sub !== 'string' ||
    typeof userId !== 'number' ||
    String(userId) !== sub ||
    typeof sid !== 'string' ||
    typeof jti !== 'string' ||
    typeof iss !== 'string' ||
    typeof aud !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    !Array.isArray(roles) ||
    roles.some((role) => typeof role !== 'string')
  ) {
    throw new VerifyError('invalid_token');
  }
  return { sub, user_id: userId, sid, roles: roles as string[], jti, iss, aud, iat, exp };
}

/** Answers of `/introspect`, by a digest of the token (the token itself is not kept), for a few seconds. */
class IntrospectionCache {
  private readonly entries = new Map<string, { active: boolean; until: number }>();

  constructor(private readonly ttlMs: number) {}

  get(key: string, now: number): boolean | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.active;
  }

  set(key: string, active: boolean, now: number, expSeconds: number): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { active, until: Math.min(now + this.ttlMs, expSeconds * 1000) });
  }
}

/**
 * Creates a verifier for Keyward access tokens: the signature against Keyward's JWKS (jose's remote key set), `typ`
 * `at+jwt`, `iss`, `aud` and `exp`; and, when `introspection` is given, whether the token is still live at Keyward.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl));
  const algorithms = options.algorithms ?? ['EdDSA'];
  const introspection = options.introspection;
  const doFetch = options.fetch ?? fetch;
  const cache = new IntrospectionCache((introspection?.cacheSeconds ?? 5) * 1000);
  const basic =
    introspection &&
    `Basic ${Buffer.from(
      `${encodeURIComponent(introspection.clientId)}:${encodeURIComponent(introspection.clientSecret)}`,
    ).toString('base64')}`;

  async function isActive(token: string, claims: KeywardClaims): Promise<boolean> {
    if (!introspection || basic === undefined) return true;
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const cached = cache.get(key, now);
    if (cached !== undefined) return cached;
    let response: Response;
    try {
      response = await doFetch(new URL(introspection.url), {
        method: 'POST',
        headers: {
          authorization: basic,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
    } catch (cause) {
      throw new VerifyError('introspection_failed', { cause });
    }
    if (!response.ok) {
      throw new VerifyError('introspection_failed', {
        message: `Token introspection answered ${response.status}`,
      });
    }
    const body = (await response.json().catch(() => ({}))) as { active?: unknown; jti?: unknown };
    const active = body.active === true && body.jti === claims.jti;
    cache.set(key, active, Date.now(), claims.exp);
    return active;
  }

  return {
    async verify(token: string): Promise<KeywardClaims> {
      if (typeof token !== 'string' || token === '') throw new VerifyError('token_missing');
      if (token.length > MAX_TOKEN_LENGTH) throw new VerifyError('invalid_token');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          typ: 'at+jwt',
          issuer: options.issuer,
          audience: options.audience,
          algorithms,
          requiredClaims: ['exp', 'iat', 'sub', 'jti'],
          clockTolerance: options.clockToleranceSeconds ?? 0,
        }));
      } catch (cause) {
        throw new VerifyError('invalid_token', { cause });
      }
      const claims = toClaims(payload);
      if (!(await isActive(token, claims))) throw new VerifyError('invalid_token');
      return claims;
    },
  };
}
