import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';
import type { AuthFacade } from '../facades/auth-facade.js';
import type { UserFacade } from '../facades/user-facade.js';
import { clientInfo } from '../routes/client-info.js';
import { registerEmailPages, type EmailPort } from './email-routes.js';
import { messageFor, noticeFrom } from './messages.js';
import { registerMfaPages, type MfaPort } from './mfa-routes.js';
import { done, failure, field, formError, html, type PageKit } from './page-kit.js';
import { cookieSettings, FlowCookie, SessionCookie } from './session-cookie.js';
import { staticDir } from './static-dir.js';
import {
  DeletePage,
  ErrorPage,
  OverviewPage,
  PasswordPage,
  SessionsPage,
  type AccountSummary,
} from './views/account-pages.js';
import { ChangeEmailPage } from './views/email-pages.js';
import type { PageContext } from './views/layout.js';
import { SignInPage, SignUpPage, type FormState } from './views/sign-in-pages.js';

export interface PortalOptions {
  config: Config;
  users: UserFacade;
  auth: AuthFacade;
  /** The email pages, when this build has email (SPEC §9). */
  email?: { account: EmailPort; resetTtlSec: number; verifyTtlSec: number } | undefined;
  /** The two-factor pages and the sign-in code step, when this build has a second factor (SPEC §10). */
  mfa?: { facade: MfaPort; enabled: (token: string) => Promise<boolean> } | undefined;
}

/** A login's answer: tokens, or (with a second factor) the mfa_token for the code step. */
type LoginAnswer = { refresh_token: string } | { mfa_required: true; mfa_token: string; expires_in: number };

/**
 * No inline script or style anywhere; images only from here or data: URLs (the QR code); forms post only here;
 * no framing (clickjacking). Mail links carry tokens in the URL, hence no Referer ever.
 */
const CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * The account portal (SPEC §11): server-rendered pages under /account, forms in and redirects out, calling the
 * same facades as the JSON API. Registered as its own encapsulated plugin: its parsers, cookies, CSRF check and
 * headers run on /account only, never on the JSON routes.
 */
export const portalPages: FastifyPluginAsync<PortalOptions> = async (
  app,
  { config, users, auth, email, mfa },
) => {
  const cookies = cookieSettings(config.portal.secureCookies, config.tokens.sessionMaxTtlSec);
  const session = new SessionCookie(auth, cookies);

  // Pages, not API: none of them belongs in the OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });

  await app.register(fastifyFormbody, { bodyLimit: 16 * 1024 });
  await app.register(fastifyCookie);
  await app.register(fastifyCsrf, {
    cookieKey: cookies.csrf,
    cookieOpts: { path: cookies.path, httpOnly: true, sameSite: 'lax', secure: cookies.secure },
  });
  await app.register(fastifyStatic, {
    root: staticDir(),
    prefix: '/static/',
    decorateReply: false,
    index: false,
    list: false,
    cacheControl: true,
    maxAge: 3600 * 1000,
  });

  app.addHook('onRequest', (request, reply, next) => {
    void reply.header('content-security-policy', CSP);
    void reply.header('x-frame-options', 'DENY');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('cross-origin-opener-policy', 'same-origin');
    // A HEAD request must not rotate the session cookie (SPEC §8): pages answer HEAD with 405.
    if (request.method === 'HEAD' && !request.url.startsWith('/account/static/')) {
      void reply.code(405).header('allow', 'GET, POST').send();
      return;
    }
    next();
  });

  const context = (reply: FastifyReply, signedIn: boolean): PageContext => ({
    csrf: reply.generateCsrf(),
    signedIn,
  });

  /** The access token for a signed-in request; otherwise undefined, and the reply is a redirect to sign in. */
  const signedIn = async (request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> => {
    const hadCookie = session.has(request);
    const token = await session.open(request, reply);
    if (token === undefined) void done(reply, '/account/sign-in', hadCookie ? 'session-ended' : undefined);
    return token;
  };

  const protect = {
    preHandler: (request: FastifyRequest, reply: FastifyReply, next: () => void) => {
      app.csrfProtection(request, reply, next);
    },
  };

  const kit: PageKit = { session, secureCookies: cookies.secure, context, signedIn, protect };
  const mfaCookie = new FlowCookie('keyward_mfa', '/account/sign-in', cookies.secure, 300);

  /** Where a right password leads: the account, or the code step when the account has a second factor. */
  const afterPassword = (reply: FastifyReply, login: LoginAnswer): FastifyReply => {
    if ('mfa_required' in login) {
      mfaCookie.set(reply, login.mfa_token, login.expires_in);
      return done(reply, '/account/sign-in/code');
    }
    session.set(reply, login.refresh_token);
    return done(reply, '/account');
  };

  app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
    if (error instanceof DomainError && (error.code === 'invalid_token' || error.code === 'token_missing')) {
      session.clear(reply);
      return done(reply, '/account/sign-in', 'session-ended');
    }
    const signedInNow = session.has(request);
    if (error instanceof DomainError) {
      return html(
        reply,
        ErrorPage({
          context: context(reply, signedInNow),
          title: 'Something went wrong',
          message: messageFor(error),
        }),
        failure(reply, error),
      );
    }
    if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
      return html(
        reply,
        ErrorPage({
          context: context(reply, signedInNow),
          title: 'Form expired',
          message:
            'This form has expired or did not come from this site. Go back, reload the page and try again.',
        }),
        403,
      );
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return html(
        reply,
        ErrorPage({
          context: context(reply, signedInNow),
          title: 'That did not work',
          message: 'The request could not be understood. Go back and try again.',
        }),
        status,
      );
    }
    request.log.error({ err: error }, 'unexpected error');
    return html(
      reply,
      ErrorPage({
        context: context(reply, signedInNow),
        title: 'Something went wrong',
        message: 'Something went wrong on our side. Try again in a moment.',
      }),
      500,
    );
  });

  app.setNotFoundHandler((request, reply) =>
    html(
      reply,
      ErrorPage({
        context: context(reply, session.has(request)),
        title: 'Page not found',
        message: 'There is no page at this address.',
      }),
      404,
    ),
  );

  if (email !== undefined) {
    registerEmailPages(app, kit, email.account, {
      resetSec: email.resetTtlSec,
      verifySec: email.verifyTtlSec,
    });
  }
  if (mfa !== undefined) registerMfaPages(app, kit, mfa.facade, mfaCookie, mfa.enabled);

  // Sign up, sign in, sign out.

  app.get('/sign-up', async (request, reply) =>
    html(reply, SignUpPage({ context: context(reply, false), state: {}, email: email !== undefined })),
  );

  app.post('/sign-up', protect, async (request, reply) => {
    const username = field(request, 'username');
    const password = field(request, 'password');
    const address = field(request, 'email').trim();
    const client = clientInfo(request);
    let login: LoginAnswer;
    try {
      await users.create(
        username,
        password,
        client,
        email !== undefined && address !== '' ? address : undefined,
      );
      login = await auth.authenticate(username, password, client);
    } catch (error) {
      const e = formError(error);
      const state: FormState = { values: { username, email: address }, error: messageFor(e) };
      return html(
        reply,
        SignUpPage({ context: context(reply, false), state, email: email !== undefined }),
        failure(reply, e),
      );
    }
    return afterPassword(reply, login);
  });

  const signInPage = (reply: FastifyReply, state: FormState) =>
    SignInPage({ context: context(reply, false), state, forgotPassword: email !== undefined });

  app.get('/sign-in', async (request, reply) =>
    html(reply, signInPage(reply, { notice: noticeFrom(request.query) })),
  );

  app.post('/sign-in', protect, async (request, reply) => {
    const username = field(request, 'username');
    const password = field(request, 'password');
    const client = clientInfo(request);
    // Signing in over an existing session (another account, say) ends that one instead of orphaning it.
    const previous = session.has(request)
      ? await session.open(request, reply).catch(() => undefined)
      : undefined;
    let login: LoginAnswer;
    try {
      login = await auth.authenticate(username, password, client);
    } catch (error) {
      const e = formError(error);
      const state: FormState = { values: { username }, error: messageFor(e) };
      return html(reply, signInPage(reply, state), failure(reply, e));
    }
    if (previous !== undefined) {
      await auth.logout(previous, client).catch(() => undefined);
      if ('mfa_required' in login) session.clear(reply);
    }
    return afterPassword(reply, login);
  });

  app.post('/sign-out', protect, async (request, reply) => {
    const token = await session.open(request, reply);
    if (token !== undefined) await auth.logout(token, clientInfo(request));
    session.clear(reply);
    return done(reply, '/account/sign-in', 'signed-out');
  });

  // The signed-in pages.

  app.get('/', async (request, reply) => {
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    const { user } = await users.get(token);
    const account: AccountSummary = {
      username: user.username,
      email: email === undefined ? undefined : { address: user.email, verified: user.email_verified },
      mfaEnabled: mfa === undefined ? undefined : user.mfa_enabled,
    };
    return html(
      reply,
      OverviewPage({ context: context(reply, true), account, notice: noticeFrom(request.query) }),
    );
  });

  const showSessions = async (reply: FastifyReply, token: string, notice?: string, error?: DomainError) => {
    const { sessions } = await auth.listSessions(token);
    const page = SessionsPage({
      context: context(reply, true),
      sessions,
      notice,
      error: error === undefined ? undefined : messageFor(error),
    });
    return html(reply, page, error === undefined ? 200 : failure(reply, error));
  };

  app.get('/sessions', async (request, reply) => {
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    return showSessions(reply, token, noticeFrom(request.query));
  });

  app.post('/sessions/revoke', protect, async (request, reply) => {
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    try {
      await auth.revokeSession(token, field(request, 'session_id'), clientInfo(request));
    } catch (error) {
      const e = formError(error);
      const next = e.nextToken ?? (await session.open(request, reply));
      if (next === undefined) return done(reply, '/account/sign-in', 'session-ended');
      return showSessions(reply, next, undefined, e);
    }
    return done(reply, '/account/sessions', 'session-revoked');
  });

  app.post('/sessions/sign-out-everywhere', protect, async (request, reply) => {
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    await auth.logoutAll(token, clientInfo(request));
    session.clear(reply);
    return done(reply, '/account/sign-in', 'signed-out-everywhere');
  });

  app.get('/password', async (request, reply) => {
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    return html(reply, PasswordPage({ context: context(reply, true), state: {} }));
  });

  app.post('/password', protect, async (request, reply) => {
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    const currentPassword = field(request, 'current_password');
    const password = field(request, 'new_password');
    try {
      await users.update(token, { password, currentPassword }, clientInfo(request));
    } catch (error) {
      const e = formError(error);
      return html(
        reply,
        PasswordPage({ context: context(reply, true), state: { error: messageFor(e) } }),
        failure(reply, e),
      );
    }
    return done(reply, '/account', 'password-changed');
  });

  if (email !== undefined) {
    app.get('/email', async (request, reply) => {
      const token = await signedIn(request, reply);
      if (token === undefined) return reply;
      const { user } = await users.get(token);
      return html(reply, ChangeEmailPage({ context: context(reply, true), state: {}, current: user.email }));
    });

    app.post('/email', protect, async (request, reply) => {
      const token = await signedIn(request, reply);
      if (token === undefined) return reply;
      const address = field(request, 'email').trim();
      const currentPassword = field(request, 'current_password');
      try {
        await users.update(token, { email: address, currentPassword }, clientInfo(request));
      } catch (error) {
        const e = formError(error);
        const next = e.nextToken ?? (await session.open(request, reply));
        if (next === undefined) return done(reply, '/account/sign-in', 'session-ended');
        const { user } = await users.get(next);
        const page = ChangeEmailPage({
          context: context(reply, true),
          state: { values: { email: address }, error: messageFor(e) },
          current: user.email,
        });
        return html(reply, page, failure(reply, e));
      }
      return done(reply, '/account', 'email-changed');
    });
  }

  app.get('/delete', async (request, reply) => {
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    return html(reply, DeletePage({ context: context(reply, true), state: {} }));
  });

  app.post('/delete', protect, async (request, reply) => {
    if (field(request, 'confirm') !== 'yes') {
      const state = { error: 'Tick the box to confirm that you want to delete your account.' };
      return html(reply, DeletePage({ context: context(reply, true), state }), 400);
    }
    const token = await signedIn(request, reply);
    if (token === undefined) return reply;
    await users.delete(token, clientInfo(request));
    session.clear(reply);
    return done(reply, '/account/sign-in', 'deleted');
  });
};
