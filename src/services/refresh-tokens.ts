import { createHmac, timingSafeEqual } from 'node:crypto';

const VERSION = 'kwr1';
const MAX_LENGTH = 256;

export interface RefreshTokenParts {
  userId: number;
  sid: string;
  counter: number;
}

/**
 * Refresh tokens are derived, never stored: `kwr1.<user>.<session>.<counter>.<HMAC-SHA256>`. The store keeps
 * only the session's current counter, so a leak of the store yields no usable refresh token, and the server can
 * still hand the current successor to a second tab that presents the one just rotated.
 */
export class RefreshTokens {
  constructor(private readonly secret: Buffer) {}

  encode(parts: RefreshTokenParts): string {
    const body = `${VERSION}.${parts.userId}.${parts.sid}.${parts.counter}`;
    return `${body}.${this.mac(body)}`;
  }

  /** Parses and authenticates a refresh token; undefined for anything this server did not issue. */
  decode(token: string): RefreshTokenParts | undefined {
    if (token.length > MAX_LENGTH) return undefined;
    const parts = token.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) return undefined;
    const [, user, sid, counter, mac] = parts as [string, string, string, string, string];
    if (
      !/^[1-9]\d{0,15}$/.test(user) ||
      !/^[A-Za-z0-9_-]{16,64}$/.test(sid) ||
      !/^(0|[1-9]\d{0,15})$/.test(counter)
    ) {
      return undefined;
    }
    const expected = Buffer.from(this.mac(`${VERSION}.${user}.${sid}.${counter}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const userId = Number(user);
    const n = Number(counter);
    if (!Number.isSafeInteger(userId) || !Number.isSafeInteger(n)) return undefined;
    return { userId, sid, counter: n };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
