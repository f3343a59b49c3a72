import type { FastifyInstance, FastifyReply } from 'fastify';
import { DomainError } from '../errors.js';
import { clientInfo } from '../routes/client-info.js';
import type { ClientInfo } from '../domain/client-info.js';
import { messageFor } from './messages.js';
import { done, failure, field, formError, html, type PageKit } from './page-kit.js';
import type { FlowCookie } from './session-cookie.js';
import {
  RecoveryCodesPage,
  SignInCodePage,
  TwoFactorConfirmPage,
  TwoFactorPage,
  type TwoFactorForm,
} from './views/mfa-pages.js';

/** The second-factor use cases the pages call (MfaFacade's, SPEC §10). */
export interface MfaPort {
  verify(
    mfaToken: string,
    factor: { code?: string; recoveryCode?: string },
    client: ClientInfo,
  ): Promise<{ refresh_token: string }>;
  setup(
    token: string,
    currentPassword: string,
    client: ClientInfo,
  ): Promise<{ secret: string; otpauth_url: string }>;
  confirm(token: string, code: string, client: ClientInfo): Promise<{ recovery_codes: string[] }>;
  disable(
    token: string,
    currentPassword: string,
    factor: { code?: string; recoveryCode?: string },
    client: ClientInfo,
  ): Promise<unknown>;
  regenerateRecoveryCodes(
    token: string,
    currentPassword: string,
    client: ClientInfo,
  ): Promise<{ recovery_codes: string[] }>;
}

const BASE32 = /^[A-Z2-7]{16,128}=*$/;
/** A TOTP code; anything else typed in the Code field of the turn-off form is tried as a recovery code. */
const TOTP_CODE = /^[0-9]{6}$/;

/**
 * The otpauth URL as a QR code: an SVG drawn on the server, shown as a data: image (the CSP allows no other). The
 * package is loaded at the first setup page (outside the bundle: scripts/bundle.ts), not at start.
 */
async function qrDataUrl(otpauthUrl: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  const svg = await QRCode.toString(otpauthUrl, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/**
 * The code step of a sign-in and two-factor setup. The secret and the recovery codes are shown in the answer to
 * the form that produced them, not after a redirect: a redirect would need them stored somewhere in between, and
 * they must be shown once and kept nowhere in plain text. Reloading that answer only starts a new setup. New
 * recovery codes are shown the same way; turning the second factor off redirects.
 */
export function registerMfaPages(
  app: FastifyInstance,
  kit: PageKit,
  mfa: MfaPort,
  mfaCookie: FlowCookie,
  mfaEnabled: (token: string) => Promise<boolean>,
): void {
  const codePage = (reply: FastifyReply, error?: DomainError | string) =>
    html(
      reply,
      SignInCodePage({
        context: kit.context(reply, false),
        state: {
          error: error === undefined ? undefined : typeof error === 'string' ? error : messageFor(error),
        },
      }),
      error === undefined ? 200 : typeof error === 'string' ? 400 : failure(reply, error),
    );

  app.get('/sign-in/code', async (request, reply) => {
    if (mfaCookie.get(request) === undefined) return done(reply, '/account/sign-in');
    return codePage(reply);
  });

  app.post('/sign-in/code', kit.protect, async (request, reply) => {
    const mfaToken = mfaCookie.get(request);
    if (mfaToken === undefined) return done(reply, '/account/sign-in', 'sign-in-expired');
    const code = field(request, 'code').replace(/\s/g, '');
    const recoveryCode = field(request, 'recovery_code').trim();
    if ((code === '') === (recoveryCode === '')) {
      return codePage(
        reply,
        code === ''
          ? 'Type the code from your authenticator app, or a recovery code.'
          : 'Type either a code or a recovery code, not both.',
      );
    }
    let login;
    try {
      login = await mfa.verify(mfaToken, code === '' ? { recoveryCode } : { code }, clientInfo(request));
    } catch (error) {
      const e = formError(error);
      const dead: string = e.code;
      if (dead === 'invalid_mfa_token') {
        mfaCookie.clear(reply);
        return done(reply, '/account/sign-in', 'sign-in-expired');
      }
      return codePage(reply, e);
    }
    mfaCookie.clear(reply);
    kit.session.set(reply, login.refresh_token);
    return done(reply, '/account');
  });

  app.get('/two-factor', async (request, reply) => {
    const token = await kit.signedIn(request, reply);
    if (token === undefined) return reply;
    const enabled = await mfaEnabled(token);
    return html(reply, TwoFactorPage({ context: kit.context(reply, true), state: {}, enabled }));
  });

  app.post('/two-factor', kit.protect, async (request, reply) => {
    const token = await kit.signedIn(request, reply);
    if (token === undefined) return reply;
    let pending;
    try {
      pending = await mfa.setup(token, field(request, 'current_password'), clientInfo(request));
    } catch (error) {
      const e = formError(error);
      const page = TwoFactorPage({
        context: kit.context(reply, true),
        state: { error: messageFor(e) },
        enabled: false,
      });
      return html(reply, page, failure(reply, e));
    }
    const page = TwoFactorConfirmPage({
      context: kit.context(reply, true),
      state: {},
      secret: pending.secret,
      otpauthUrl: pending.otpauth_url,
      qrDataUrl: await qrDataUrl(pending.otpauth_url),
    });
    return html(reply, page);
  });

  app.post('/two-factor/confirm', kit.protect, async (request, reply) => {
    const token = await kit.signedIn(request, reply);
    if (token === undefined) return reply;
    let result;
    try {
      result = await mfa.confirm(token, field(request, 'code').replace(/\s/g, ''), clientInfo(request));
    } catch (error) {
      const e = formError(error);
      const secret = field(request, 'secret');
      const otpauthUrl = field(request, 'otpauth_url');
      // Shown again only when what came back looks like what this page sent; the check is the server's own.
      if (!BASE32.test(secret) || !otpauthUrl.startsWith('otpauth://totp/'))
        return done(reply, '/account/two-factor');
      const page = TwoFactorConfirmPage({
        context: kit.context(reply, true),
        state: { error: messageFor(e) },
        secret,
        otpauthUrl,
        qrDataUrl: await qrDataUrl(otpauthUrl),
      });
      return html(reply, page, failure(reply, e));
    }
    return html(
      reply,
      RecoveryCodesPage({ context: kit.context(reply, true), codes: result.recovery_codes }),
    );
  });

  /** The page when two-factor authentication is on, with an error next to the form that was sent. */
  const onPage = (reply: FastifyReply, form: TwoFactorForm, error: DomainError | string) =>
    html(
      reply,
      TwoFactorPage({
        context: kit.context(reply, true),
        state: { error: typeof error === 'string' ? error : messageFor(error) },
        enabled: true,
        failed: form,
      }),
      typeof error === 'string' ? 400 : failure(reply, error),
    );

  app.post('/two-factor/recovery-codes', kit.protect, async (request, reply) => {
    const token = await kit.signedIn(request, reply);
    if (token === undefined) return reply;
    const currentPassword = field(request, 'current_password');
    if (currentPassword === '') return onPage(reply, 'recovery-codes', 'Type your current password.');
    let result;
    try {
      result = await mfa.regenerateRecoveryCodes(token, currentPassword, clientInfo(request));
    } catch (error) {
      const e = formError(error);
      // Turned off in the meantime (another tab, support): the page shows how things are now.
      if (e.code === 'mfa_not_enabled') return done(reply, '/account/two-factor');
      return onPage(reply, 'recovery-codes', e);
    }
    return html(
      reply,
      RecoveryCodesPage({ context: kit.context(reply, true), codes: result.recovery_codes, replaced: true }),
    );
  });

  app.post('/two-factor/disable', kit.protect, async (request, reply) => {
    const token = await kit.signedIn(request, reply);
    if (token === undefined) return reply;
    const currentPassword = field(request, 'current_password');
    const typed = field(request, 'code').replace(/\s/g, '');
    if (currentPassword === '' || typed === '') {
      return onPage(
        reply,
        'disable',
        currentPassword === ''
          ? 'Type your current password.'
          : 'Type the code from your authenticator app, or one of your recovery codes.',
      );
    }
    const factor = TOTP_CODE.test(typed) ? { code: typed } : { recoveryCode: typed };
    try {
      await mfa.disable(token, currentPassword, factor, clientInfo(request));
    } catch (error) {
      const e = formError(error);
      if (e.code === 'mfa_not_enabled') return done(reply, '/account/two-factor');
      return onPage(reply, 'disable', e);
    }
    return done(reply, '/account', 'mfa-disabled');
  });
}
