import type { FastifyInstance } from 'fastify';
import type { ClientInfo } from '../domain/client-info.js';
import { clientInfo } from '../routes/client-info.js';
import { messageFor, noticeFrom } from './messages.js';
import { done, failure, field, formError, html, type PageKit } from './page-kit.js';
import { FlowCookie } from './session-cookie.js';
import { ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage } from './views/email-pages.js';

/** The email use cases the pages call (AccountFacade's, SPEC §9). */
export interface EmailPort {
  forgotPassword(login: string, client: ClientInfo): Promise<unknown>;
  resetPassword(token: string, password: string, client: ClientInfo): Promise<unknown>;
  verifyEmail(token: string, client: ClientInfo): Promise<unknown>;
  requestVerification(token: string, client: ClientInfo): Promise<unknown>;
}

/** Mail-link tokens are at most 1 KiB; anything longer is not one. */
const MAX_TOKEN = 1024;

/**
 * Forgot password, reset password and verify email. A mail link's `?token=` is moved at once into a cookie scoped
 * to its page and the browser is redirected to the same page without it, so the token leaves the address bar,
 * the history and any later Referer; it is used only when the person submits the form (a mail scanner that
 * follows the link changes nothing).
 */
export function registerEmailPages(
  app: FastifyInstance,
  kit: PageKit,
  account: EmailPort,
  lifetimes: { resetSec: number; verifySec: number },
): void {
  const resetCookie = new FlowCookie(
    'keyward_reset',
    '/account/reset-password',
    kit.secureCookies,
    lifetimes.resetSec,
  );
  const verifyCookie = new FlowCookie(
    'keyward_verify',
    '/account/verify-email',
    kit.secureCookies,
    lifetimes.verifySec,
  );

  const tokenFromLink = (query: unknown): string | undefined => {
    const token = (query as { token?: unknown } | undefined)?.token;
    return typeof token === 'string' && token !== '' && token.length <= MAX_TOKEN ? token : undefined;
  };

  app.get('/forgot-password', async (request, reply) =>
    html(
      reply,
      ForgotPasswordPage({
        context: kit.context(reply, kit.session.has(request)),
        state: { notice: noticeFrom(request.query) },
      }),
    ),
  );

  app.post('/forgot-password', kit.protect, async (request, reply) => {
    const login = field(request, 'login');
    try {
      await account.forgotPassword(login, clientInfo(request));
    } catch (error) {
      const e = formError(error);
      const state = { values: { login }, error: messageFor(e) };
      return html(
        reply,
        ForgotPasswordPage({ context: kit.context(reply, kit.session.has(request)), state }),
        failure(reply, e),
      );
    }
    return done(reply, '/account/forgot-password', 'reset-sent');
  });

  app.get('/reset-password', async (request, reply) => {
    const token = tokenFromLink(request.query);
    if (token !== undefined) {
      resetCookie.set(reply, token);
      return done(reply, '/account/reset-password');
    }
    const hasToken = resetCookie.get(request) !== undefined;
    return html(
      reply,
      ResetPasswordPage({ context: kit.context(reply, kit.session.has(request)), state: {}, hasToken }),
    );
  });

  app.post('/reset-password', kit.protect, async (request, reply) => {
    const kept = resetCookie.get(request);
    const token = kept ?? field(request, 'token').trim();
    try {
      await account.resetPassword(token, field(request, 'new_password'), clientInfo(request));
    } catch (error) {
      const e = formError(error);
      // A refused password leaves the token usable; an unknown or used token does not come back.
      const code: string = e.code;
      const tokenDead = code === 'invalid_reset_token';
      if (tokenDead) resetCookie.clear(reply);
      const page = ResetPasswordPage({
        context: kit.context(reply, kit.session.has(request)),
        state: { error: messageFor(e) },
        hasToken: kept !== undefined && !tokenDead,
      });
      return html(reply, page, failure(reply, e));
    }
    resetCookie.clear(reply);
    // The reset ended every session of the account, this browser's included.
    kit.session.clear(reply);
    return done(reply, '/account/sign-in', 'password-reset');
  });

  app.get('/verify-email', async (request, reply) => {
    const token = tokenFromLink(request.query);
    if (token !== undefined) {
      verifyCookie.set(reply, token);
      return done(reply, '/account/verify-email');
    }
    const hasToken = verifyCookie.get(request) !== undefined;
    return html(
      reply,
      VerifyEmailPage({ context: kit.context(reply, kit.session.has(request)), state: {}, hasToken }),
    );
  });

  app.post('/verify-email', kit.protect, async (request, reply) => {
    const kept = verifyCookie.get(request);
    const token = kept ?? field(request, 'token').trim();
    try {
      await account.verifyEmail(token, clientInfo(request));
    } catch (error) {
      const e = formError(error);
      verifyCookie.clear(reply);
      const page = VerifyEmailPage({
        context: kit.context(reply, kit.session.has(request)),
        state: { error: messageFor(e) },
        hasToken: false,
      });
      return html(reply, page, failure(reply, e));
    }
    verifyCookie.clear(reply);
    return kit.session.has(request)
      ? done(reply, '/account', 'email-verified')
      : done(reply, '/account/sign-in', 'email-verified');
  });

  app.post('/email/verification', kit.protect, async (request, reply) => {
    const token = await kit.signedIn(request, reply);
    if (token === undefined) return reply;
    await account.requestVerification(token, clientInfo(request));
    return done(reply, '/account', 'verification-sent');
  });
}
