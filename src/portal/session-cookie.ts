import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../errors.js';
import type { AuthFacade } from '../facades/auth-facade.js';
import { clientInfo } from '../routes/client-info.js';

/** Names and attributes of the portal's two cookies (the session and the CSRF secret). */
export interface CookieSettings {
  session: string;
  csrf: string;
  path: string;
  secure: boolean;
  maxAgeSec: number;
}

/**
 * Over plain http the cookies are scoped to /account. Over https they take the `__Host-` prefix, which browsers
 * accept only with `Secure`, no Domain and `Path=/`: no subdomain or other path can then set or shadow them.
 */
export function cookieSettings(secure: boolean, maxAgeSec: number): CookieSettings {
  return secure
    ? { session: '__Host-keyward_session', csrf: '__Host-keyward_csrf', path: '/', secure, maxAgeSec }
    : { session: 'keyward_session', csrf: 'keyward_csrf', path: '/account', secure, maxAgeSec };
}

/**
 * The browser's session: the cookie holds the refresh token of an ordinary Keyward session (never an access
 * token). Each page that acts for the person presents it to AuthFacade.refresh, which rotates it (SPEC §3) and
 * gives the access token for that one request; the successor goes back in the cookie. So the session is listed
 * by GET /sessions, dies with logout_all, a password change or a deletion, and a stolen, already-rotated cookie
 * is detected as refresh-token reuse. Two requests at once with the same cookie are the reuse window's case.
 */
export class SessionCookie {
  constructor(
    private readonly auth: AuthFacade,
    readonly settings: CookieSettings,
  ) {}

  has(request: FastifyRequest): boolean {
    return typeof request.cookies[this.settings.session] === 'string';
  }

  /** An access token for this request, or undefined (cookie cleared) when there is no live session. */
  async open(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
    const refreshToken = request.cookies[this.settings.session];
    if (refreshToken === undefined || refreshToken === '') return undefined;
    try {
      const grant = await this.auth.refresh(refreshToken, clientInfo(request));
      this.set(reply, grant.refresh_token);
      return grant.access_token;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'invalid_refresh_token') {
        this.clear(reply);
        return undefined;
      }
      throw error;
    }
  }

  set(reply: FastifyReply, refreshToken: string): void {
    void reply.setCookie(this.settings.session, refreshToken, {
      path: this.settings.path,
      httpOnly: true,
      sameSite: 'lax',
      secure: this.settings.secure,
      maxAge: this.settings.maxAgeSec,
    });
  }

  clear(reply: FastifyReply): void {
    void reply.clearCookie(this.settings.session, {
      path: this.settings.path,
      httpOnly: true,
      sameSite: 'lax',
      secure: this.settings.secure,
    });
  }
}

/**
 * A short-lived cookie that carries one step of a flow: the mfa_token between the password and the code, or the
 * token of a mail link once it is taken out of the URL. Scoped to the page that needs it (over https: `__Host-`,
 * `Path=/`, as above), HttpOnly, SameSite=Lax (a link clicked in a mail client is a top-level navigation).
 */
export class FlowCookie {
  readonly name: string;
  readonly path: string;

  constructor(
    name: string,
    scope: string,
    private readonly secure: boolean,
    private readonly maxAgeSec: number,
  ) {
    this.name = secure ? `__Host-${name}` : name;
    this.path = secure ? '/' : scope;
  }

  get(request: FastifyRequest): string | undefined {
    const value = request.cookies[this.name];
    return value === undefined || value === '' ? undefined : value;
  }

  set(reply: FastifyReply, value: string, maxAgeSec = this.maxAgeSec): void {
    void reply.setCookie(this.name, value, {
      path: this.path,
      httpOnly: true,
      sameSite: 'lax',
      secure: this.secure,
      maxAge: maxAgeSec,
    });
  }

  clear(reply: FastifyReply): void {
    void reply.clearCookie(this.name, {
      path: this.path,
      httpOnly: true,
      sameSite: 'lax',
      secure: this.secure,
    });
  }
}
